/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CallbackPolicyMysql1796420982394 implements MigrationInterface {
  name = 'CallbackPolicyMysql1796420982394';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `callback_policy` (`id` int NOT NULL AUTO_INCREMENT, `principal` varchar(100) NOT NULL, `allowHttp` tinyint NOT NULL DEFAULT 0, `allow` varchar(2048) NOT NULL DEFAULT '', `setBy` varchar(100) NOT NULL, `updatedAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), UNIQUE INDEX `IDX_97db67344580a17210b0c8486e` (`principal`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX `IDX_97db67344580a17210b0c8486e` ON `callback_policy`");
    await queryRunner.query("DROP TABLE `callback_policy`");
  }
}
