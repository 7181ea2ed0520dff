/**
 * SQLite migration written by db/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SliceExpirySqlite1795325463922 implements MigrationInterface {
  name = 'SliceExpirySqlite1795325463922';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"slice_expiry\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"sliceId\" varchar(64) NOT NULL, \"expiresAt\" datetime, \"nextSweepAt\" datetime, \"setBy\" varchar(100) NOT NULL, \"setAt\" datetime NOT NULL, CONSTRAINT \"UQ_97356d35d4992976dfd7f3b5d19\" UNIQUE (\"sliceId\"))");
    await queryRunner.query("CREATE INDEX \"IDX_5995fdbf362418cf062293df51\" ON \"slice_expiry\" (\"nextSweepAt\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_5995fdbf362418cf062293df51\"");
    await queryRunner.query("DROP TABLE \"slice_expiry\"");
  }
}
