/**
 * MySQL/MariaDB migration written by db/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SliceExpiryMysql1795325463922 implements MigrationInterface {
  name = 'SliceExpiryMysql1795325463922';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `slice_expiry` (`id` int NOT NULL AUTO_INCREMENT, `sliceId` varchar(64) NOT NULL, `expiresAt` datetime NULL, `nextSweepAt` datetime NULL, `setBy` varchar(100) NOT NULL, `setAt` datetime NOT NULL, INDEX `IDX_5995fdbf362418cf062293df51` (`nextSweepAt`), UNIQUE INDEX `IDX_97356d35d4992976dfd7f3b5d1` (`sliceId`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX `IDX_97356d35d4992976dfd7f3b5d1` ON `slice_expiry`");
    await queryRunner.query("DROP INDEX `IDX_5995fdbf362418cf062293df51` ON `slice_expiry`");
    await queryRunner.query("DROP TABLE `slice_expiry`");
  }
}
