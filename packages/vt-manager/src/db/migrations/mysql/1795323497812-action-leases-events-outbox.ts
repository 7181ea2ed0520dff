/**
 * MySQL/MariaDB migration written by db/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ActionLeasesEventsOutboxMysql1795323497812 implements MigrationInterface {
  name = 'ActionLeasesEventsOutboxMysql1795323497812';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `action_event` (`id` int NOT NULL AUTO_INCREMENT, `actionUuid` varchar(64) NOT NULL, `at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `fromStatus` varchar(8) NULL, `toStatus` varchar(8) NOT NULL, `who` varchar(128) NOT NULL, `why` varchar(2048) NOT NULL DEFAULT '', INDEX `IDX_b3f9f5d8400e755baf97fd0a6e` (`actionUuid`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `notification` (`id` int NOT NULL AUTO_INCREMENT, `callbackUrl` varchar(2048) NOT NULL, `rspec` text NOT NULL, `attempts` int NOT NULL DEFAULT '0', `nextAttemptAt` datetime NOT NULL, `lastError` varchar(2048) NOT NULL DEFAULT '', `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), INDEX `IDX_7115151a4129c7122d972a366b` (`nextAttemptAt`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("ALTER TABLE `action` ADD `leaseOwner` varchar(64) NULL");
    await queryRunner.query("ALTER TABLE `action` ADD `leaseExpiresAt` datetime NULL");
    await queryRunner.query("ALTER TABLE `action` ADD `sendAttempts` int NOT NULL DEFAULT '0'");
    await queryRunner.query("ALTER TABLE `virtual_machine` ADD `stateNote` varchar(255) NOT NULL DEFAULT ''");
    await queryRunner.query("ALTER TABLE `virtual_machine` ADD `expiresAt` datetime NULL");
    await queryRunner.query("CREATE INDEX `IDX_768a2d27c12c91669eb2b18aef` ON `action` (`leaseExpiresAt`)");
    await queryRunner.query("CREATE INDEX `IDX_f838a50f4e38e9b203c8b4e5dc` ON `virtual_machine` (`expiresAt`)");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX `IDX_f838a50f4e38e9b203c8b4e5dc` ON `virtual_machine`");
    await queryRunner.query("DROP INDEX `IDX_768a2d27c12c91669eb2b18aef` ON `action`");
    await queryRunner.query("ALTER TABLE `virtual_machine` DROP COLUMN `expiresAt`");
    await queryRunner.query("ALTER TABLE `virtual_machine` DROP COLUMN `stateNote`");
    await queryRunner.query("ALTER TABLE `action` DROP COLUMN `sendAttempts`");
    await queryRunner.query("ALTER TABLE `action` DROP COLUMN `leaseExpiresAt`");
    await queryRunner.query("ALTER TABLE `action` DROP COLUMN `leaseOwner`");
    await queryRunner.query("DROP INDEX `IDX_7115151a4129c7122d972a366b` ON `notification`");
    await queryRunner.query("DROP TABLE `notification`");
    await queryRunner.query("DROP INDEX `IDX_b3f9f5d8400e755baf97fd0a6e` ON `action_event`");
    await queryRunner.query("DROP TABLE `action_event`");
  }
}
