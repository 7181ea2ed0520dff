/**
 * SQLite migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VmMigrationSqlite1796431697951 implements MigrationInterface {
  name = 'VmMigrationSqlite1796431697951';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"vm_migration\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"actionUuid\" varchar(64) NOT NULL, \"vmUuid\" varchar(36) NOT NULL, \"sourceServerId\" integer NOT NULL, \"targetServerId\" integer NOT NULL, \"flatten\" boolean NOT NULL DEFAULT (0), \"stopActionUuid\" varchar(64) NOT NULL DEFAULT (''), \"ticketId\" varchar(64) NOT NULL DEFAULT (''), \"step\" varchar(16) NOT NULL, \"totalBytes\" bigint NOT NULL DEFAULT (0), \"copiedBytes\" bigint NOT NULL DEFAULT (0), \"copyStartedAt\" datetime, \"copyEndedAt\" datetime, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_e94952b2d606eb0462267b6003a\" UNIQUE (\"actionUuid\"))");
    await queryRunner.query("CREATE INDEX \"IDX_5d5f6b2226a4054b56045410bc\" ON \"vm_migration\" (\"vmUuid\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_5d5f6b2226a4054b56045410bc\"");
    await queryRunner.query("DROP TABLE \"vm_migration\"");
  }
}
