/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VmMigrationMysql1796431697951 implements MigrationInterface {
  name = 'VmMigrationMysql1796431697951';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `vm_migration` (`id` int NOT NULL AUTO_INCREMENT, `actionUuid` varchar(64) NOT NULL, `vmUuid` varchar(36) NOT NULL, `sourceServerId` int NOT NULL, `targetServerId` int NOT NULL, `flatten` tinyint NOT NULL DEFAULT 0, `stopActionUuid` varchar(64) NOT NULL DEFAULT '', `ticketId` varchar(64) NOT NULL DEFAULT '', `step` varchar(16) NOT NULL, `totalBytes` bigint NOT NULL DEFAULT '0', `copiedBytes` bigint NOT NULL DEFAULT '0', `copyStartedAt` datetime NULL, `copyEndedAt` datetime NULL, `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `updatedAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), INDEX `IDX_5d5f6b2226a4054b56045410bc` (`vmUuid`), UNIQUE INDEX `IDX_e94952b2d606eb0462267b6003` (`actionUuid`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX `IDX_e94952b2d606eb0462267b6003` ON `vm_migration`");
    await queryRunner.query("DROP INDEX `IDX_5d5f6b2226a4054b56045410bc` ON `vm_migration`");
    await queryRunner.query("DROP TABLE `vm_migration`");
  }
}
