/**
 * SQLite migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class GeniSliverSqlite1796429509266 implements MigrationInterface {
  name = 'GeniSliverSqlite1796429509266';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"geni_sliver\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"sliverUrn\" varchar(512) NOT NULL, \"sliceUrn\" varchar(512) NOT NULL, \"sliceHrn\" varchar(512) NOT NULL, \"clientId\" varchar(64) NOT NULL, \"serverId\" integer NOT NULL, \"allocationState\" varchar(16) NOT NULL, \"expiresAt\" datetime NOT NULL, \"template\" varchar(64) NOT NULL, \"sliverType\" varchar(64), \"memoryMb\" integer NOT NULL, \"vcpus\" integer NOT NULL, \"diskGb\" integer, \"reservedIp\" varchar(15), \"users\" text, \"vmUuid\" varchar(36) NOT NULL, \"createActionId\" varchar(64), \"startWanted\" boolean NOT NULL DEFAULT (0), \"deleteWanted\" boolean NOT NULL DEFAULT (0), \"ownerUrn\" varchar(512) NOT NULL, \"failure\" varchar(1024) NOT NULL DEFAULT (''), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_5bc29af3786cc2975df5f8b0c52\" UNIQUE (\"sliverUrn\"), CONSTRAINT \"UQ_27c24ee4ac88ad36c43970a1fc0\" UNIQUE (\"vmUuid\"))");
    await queryRunner.query("CREATE INDEX \"IDX_4d42e7d6ee17f2610127dd5f8b\" ON \"geni_sliver\" (\"sliceUrn\") ");
    await queryRunner.query("CREATE INDEX \"IDX_14fbfb8e91835070f4115c5813\" ON \"geni_sliver\" (\"serverId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_060b100329f0744e3d6aeb7efc\" ON \"geni_sliver\" (\"expiresAt\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_060b100329f0744e3d6aeb7efc\"");
    await queryRunner.query("DROP INDEX \"IDX_14fbfb8e91835070f4115c5813\"");
    await queryRunner.query("DROP INDEX \"IDX_4d42e7d6ee17f2610127dd5f8b\"");
    await queryRunner.query("DROP TABLE \"geni_sliver\"");
  }
}
