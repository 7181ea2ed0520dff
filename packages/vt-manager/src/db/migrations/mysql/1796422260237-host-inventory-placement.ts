/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HostInventoryPlacementMysql1796422260237 implements MigrationInterface {
  name = 'HostInventoryPlacementMysql1796422260237';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `action` ADD `requestedDiskMb` int NULL");
    await queryRunner.query("ALTER TABLE `action` ADD `placement` varchar(2048) NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `draining` tinyint NOT NULL DEFAULT 0");
    await queryRunner.query("ALTER TABLE `server` ADD `cpuModel` varchar(128) NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `cpus` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `cpuSockets` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `cpuCoresPerSocket` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `cpuThreadsPerCore` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `cpuFrequencyMHz` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `memoryTotalMiB` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `memoryFreeMiB` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `storageTotalGiB` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `storageFreeGiB` int NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `hypervisor` varchar(8) NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `libvirtVersion` varchar(32) NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `qemuVersion` varchar(32) NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `bridgesPresent` varchar(1024) NULL");
    await queryRunner.query("ALTER TABLE `server` ADD `inventoryRefreshedAt` datetime NULL");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `inventoryRefreshedAt`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `bridgesPresent`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `qemuVersion`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `libvirtVersion`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `hypervisor`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `storageFreeGiB`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `storageTotalGiB`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `memoryFreeMiB`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `memoryTotalMiB`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `cpuFrequencyMHz`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `cpuThreadsPerCore`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `cpuCoresPerSocket`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `cpuSockets`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `cpus`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `cpuModel`");
    await queryRunner.query("ALTER TABLE `server` DROP COLUMN `draining`");
    await queryRunner.query("ALTER TABLE `action` DROP COLUMN `placement`");
    await queryRunner.query("ALTER TABLE `action` DROP COLUMN `requestedDiskMb`");
  }
}
