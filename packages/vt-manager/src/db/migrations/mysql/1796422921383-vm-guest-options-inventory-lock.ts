/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VmGuestOptionsInventoryLockMysql1796422921383 implements MigrationInterface {
  name = 'VmGuestOptionsInventoryLockMysql1796422921383';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `inventory_lock` (`name` varchar(32) NOT NULL, `purpose` varchar(255) NOT NULL DEFAULT '', PRIMARY KEY (`name`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    // Hand-written (not from the schema builder): the lock rows the inventory service locks.
    await queryRunner.query("INSERT INTO `inventory_lock` (`name`, `purpose`) VALUES ('ipv4_range', 'overlap check + insert of IPv4 ranges'), ('mac_range', 'overlap check + insert of MAC ranges')");
    await queryRunner.query("ALTER TABLE `virtual_machine` ADD `maxMemoryMb` int NULL");
    await queryRunner.query("ALTER TABLE `virtual_machine` ADD `dataDisksMb` varchar(255) NULL");
    await queryRunner.query("ALTER TABLE `virtual_machine` ADD `sshKeys` text NULL");
    await queryRunner.query("ALTER TABLE `virtual_machine` ADD `guestUsers` varchar(1024) NULL");
    await queryRunner.query("ALTER TABLE `virtual_machine` ADD `keepDisksOnDelete` tinyint NOT NULL DEFAULT 0");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `virtual_machine` DROP COLUMN `keepDisksOnDelete`");
    await queryRunner.query("ALTER TABLE `virtual_machine` DROP COLUMN `guestUsers`");
    await queryRunner.query("ALTER TABLE `virtual_machine` DROP COLUMN `sshKeys`");
    await queryRunner.query("ALTER TABLE `virtual_machine` DROP COLUMN `dataDisksMb`");
    await queryRunner.query("ALTER TABLE `virtual_machine` DROP COLUMN `maxMemoryMb`");
    await queryRunner.query("DROP TABLE `inventory_lock`");
  }
}
