/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class QuotasAndOutboxFairnessMysql1796420628668 implements MigrationInterface {
  name = 'QuotasAndOutboxFairnessMysql1796420628668';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `principal_quota` (`id` int NOT NULL AUTO_INCREMENT, `principal` varchar(100) NOT NULL, `maxVms` int NULL, `maxVcpus` int NULL, `maxMemoryMib` int NULL, `maxAddresses` int NULL, `updatedAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), UNIQUE INDEX `IDX_dd7c48849a44c3de628b93d79f` (`principal`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("ALTER TABLE `notification` ADD `documents` int NOT NULL DEFAULT '1'");
    await queryRunner.query("ALTER TABLE `notification` ADD `principal` varchar(100) NULL");
    await queryRunner.query("ALTER TABLE `notification` ADD `urlKey` varchar(64) NOT NULL DEFAULT ''");
    await queryRunner.query("CREATE INDEX `IDX_99f7408ff33835fc4909baed7f` ON `notification` (`principal`)");
    await queryRunner.query("CREATE INDEX `IDX_344aa37a43779b45a579013b20` ON `notification` (`urlKey`)");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX `IDX_344aa37a43779b45a579013b20` ON `notification`");
    await queryRunner.query("DROP INDEX `IDX_99f7408ff33835fc4909baed7f` ON `notification`");
    await queryRunner.query("ALTER TABLE `notification` DROP COLUMN `urlKey`");
    await queryRunner.query("ALTER TABLE `notification` DROP COLUMN `principal`");
    await queryRunner.query("ALTER TABLE `notification` DROP COLUMN `documents`");
    await queryRunner.query("DROP INDEX `IDX_dd7c48849a44c3de628b93d79f` ON `principal_quota`");
    await queryRunner.query("DROP TABLE `principal_quota`");
  }
}
