/**
 * SQLite migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RangeNextFreeCursorSqlite1796441416041 implements MigrationInterface {
  name = 'RangeNextFreeCursorSqlite1796441416041';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"temporary_ipv4_range\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"startAddress\" bigint NOT NULL, \"endAddress\" bigint NOT NULL, \"netmask\" varchar(15) NOT NULL, \"gateway\" varchar(15), \"dns1\" varchar(15), \"dns2\" varchar(15), \"nextFree\" bigint, CONSTRAINT \"UQ_ba36e61f386a17e0b3e878e2e3e\" UNIQUE (\"name\"))");
    await queryRunner.query("INSERT INTO \"temporary_ipv4_range\"(\"id\", \"name\", \"startAddress\", \"endAddress\", \"netmask\", \"gateway\", \"dns1\", \"dns2\") SELECT \"id\", \"name\", \"startAddress\", \"endAddress\", \"netmask\", \"gateway\", \"dns1\", \"dns2\" FROM \"ipv4_range\"");
    await queryRunner.query("DROP TABLE \"ipv4_range\"");
    await queryRunner.query("ALTER TABLE \"temporary_ipv4_range\" RENAME TO \"ipv4_range\"");
    await queryRunner.query("CREATE TABLE \"temporary_mac_range\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"startAddress\" bigint NOT NULL, \"endAddress\" bigint NOT NULL, \"nextFree\" bigint, CONSTRAINT \"UQ_9128409a5c4e7061404c0cb94d3\" UNIQUE (\"name\"))");
    await queryRunner.query("INSERT INTO \"temporary_mac_range\"(\"id\", \"name\", \"startAddress\", \"endAddress\") SELECT \"id\", \"name\", \"startAddress\", \"endAddress\" FROM \"mac_range\"");
    await queryRunner.query("DROP TABLE \"mac_range\"");
    await queryRunner.query("ALTER TABLE \"temporary_mac_range\" RENAME TO \"mac_range\"");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"mac_range\" RENAME TO \"temporary_mac_range\"");
    await queryRunner.query("CREATE TABLE \"mac_range\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"startAddress\" bigint NOT NULL, \"endAddress\" bigint NOT NULL, CONSTRAINT \"UQ_9128409a5c4e7061404c0cb94d3\" UNIQUE (\"name\"))");
    await queryRunner.query("INSERT INTO \"mac_range\"(\"id\", \"name\", \"startAddress\", \"endAddress\") SELECT \"id\", \"name\", \"startAddress\", \"endAddress\" FROM \"temporary_mac_range\"");
    await queryRunner.query("DROP TABLE \"temporary_mac_range\"");
    await queryRunner.query("ALTER TABLE \"ipv4_range\" RENAME TO \"temporary_ipv4_range\"");
    await queryRunner.query("CREATE TABLE \"ipv4_range\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"startAddress\" bigint NOT NULL, \"endAddress\" bigint NOT NULL, \"netmask\" varchar(15) NOT NULL, \"gateway\" varchar(15), \"dns1\" varchar(15), \"dns2\" varchar(15), CONSTRAINT \"UQ_ba36e61f386a17e0b3e878e2e3e\" UNIQUE (\"name\"))");
    await queryRunner.query("INSERT INTO \"ipv4_range\"(\"id\", \"name\", \"startAddress\", \"endAddress\", \"netmask\", \"gateway\", \"dns1\", \"dns2\") SELECT \"id\", \"name\", \"startAddress\", \"endAddress\", \"netmask\", \"gateway\", \"dns1\", \"dns2\" FROM \"temporary_ipv4_range\"");
    await queryRunner.query("DROP TABLE \"temporary_ipv4_range\"");
  }
}
