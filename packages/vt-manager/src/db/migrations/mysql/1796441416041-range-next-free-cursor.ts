/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RangeNextFreeCursorMysql1796441416041 implements MigrationInterface {
  name = 'RangeNextFreeCursorMysql1796441416041';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `ipv4_range` ADD `nextFree` bigint NULL");
    await queryRunner.query("ALTER TABLE `mac_range` ADD `nextFree` bigint NULL");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `mac_range` DROP COLUMN `nextFree`");
    await queryRunner.query("ALTER TABLE `ipv4_range` DROP COLUMN `nextFree`");
  }
}
