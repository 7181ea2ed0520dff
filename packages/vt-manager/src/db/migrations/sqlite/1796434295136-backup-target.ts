/**
 * SQLite migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BackupTargetSqlite1796434295136 implements MigrationInterface {
  name = 'BackupTargetSqlite1796434295136';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"backup_target\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"path\" varchar(1024) NOT NULL, \"serverId\" integer, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_c299d747e769a17b90b29fea435\" UNIQUE (\"name\"))");
    await queryRunner.query("CREATE TABLE \"temporary_backup_target\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"path\" varchar(1024) NOT NULL, \"serverId\" integer, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_c299d747e769a17b90b29fea435\" UNIQUE (\"name\"), CONSTRAINT \"FK_f28935f0c614dc56fd946b9ce46\" FOREIGN KEY (\"serverId\") REFERENCES \"server\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_backup_target\"(\"id\", \"name\", \"path\", \"serverId\", \"createdAt\") SELECT \"id\", \"name\", \"path\", \"serverId\", \"createdAt\" FROM \"backup_target\"");
    await queryRunner.query("DROP TABLE \"backup_target\"");
    await queryRunner.query("ALTER TABLE \"temporary_backup_target\" RENAME TO \"backup_target\"");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"backup_target\" RENAME TO \"temporary_backup_target\"");
    await queryRunner.query("CREATE TABLE \"backup_target\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"path\" varchar(1024) NOT NULL, \"serverId\" integer, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_c299d747e769a17b90b29fea435\" UNIQUE (\"name\"))");
    await queryRunner.query("INSERT INTO \"backup_target\"(\"id\", \"name\", \"path\", \"serverId\", \"createdAt\") SELECT \"id\", \"name\", \"path\", \"serverId\", \"createdAt\" FROM \"temporary_backup_target\"");
    await queryRunner.query("DROP TABLE \"temporary_backup_target\"");
    await queryRunner.query("DROP TABLE \"backup_target\"");
  }
}
