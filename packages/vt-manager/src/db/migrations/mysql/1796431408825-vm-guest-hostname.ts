/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VmGuestHostnameMysql1796431408825 implements MigrationInterface {
  name = 'VmGuestHostnameMysql1796431408825';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `virtual_machine` ADD `guestHostname` varchar(253) NULL");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `virtual_machine` DROP COLUMN `guestHostname`");
  }
}
