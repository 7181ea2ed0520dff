/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class GeniSliverMysql1796429509266 implements MigrationInterface {
  name = 'GeniSliverMysql1796429509266';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `geni_sliver` (`id` int NOT NULL AUTO_INCREMENT, `sliverUrn` varchar(512) NOT NULL, `sliceUrn` varchar(512) NOT NULL, `sliceHrn` varchar(512) NOT NULL, `clientId` varchar(64) NOT NULL, `serverId` int NOT NULL, `allocationState` varchar(16) NOT NULL, `expiresAt` datetime NOT NULL, `template` varchar(64) NOT NULL, `sliverType` varchar(64) NULL, `memoryMb` int NOT NULL, `vcpus` int NOT NULL, `diskGb` int NULL, `reservedIp` varchar(15) NULL, `users` text NULL, `vmUuid` varchar(36) NOT NULL, `createActionId` varchar(64) NULL, `startWanted` tinyint NOT NULL DEFAULT 0, `deleteWanted` tinyint NOT NULL DEFAULT 0, `ownerUrn` varchar(512) NOT NULL, `failure` varchar(1024) NOT NULL DEFAULT '', `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `updatedAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), INDEX `IDX_4d42e7d6ee17f2610127dd5f8b` (`sliceUrn`), INDEX `IDX_14fbfb8e91835070f4115c5813` (`serverId`), INDEX `IDX_060b100329f0744e3d6aeb7efc` (`expiresAt`), UNIQUE INDEX `IDX_5bc29af3786cc2975df5f8b0c5` (`sliverUrn`), UNIQUE INDEX `IDX_27c24ee4ac88ad36c43970a1fc` (`vmUuid`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX `IDX_27c24ee4ac88ad36c43970a1fc` ON `geni_sliver`");
    await queryRunner.query("DROP INDEX `IDX_5bc29af3786cc2975df5f8b0c5` ON `geni_sliver`");
    await queryRunner.query("DROP INDEX `IDX_060b100329f0744e3d6aeb7efc` ON `geni_sliver`");
    await queryRunner.query("DROP INDEX `IDX_14fbfb8e91835070f4115c5813` ON `geni_sliver`");
    await queryRunner.query("DROP INDEX `IDX_4d42e7d6ee17f2610127dd5f8b` ON `geni_sliver`");
    await queryRunner.query("DROP TABLE `geni_sliver`");
  }
}
