/**
 * MySQL/MariaDB migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BackupTargetMysql1796434295136 implements MigrationInterface {
  name = 'BackupTargetMysql1796434295136';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `backup_target` (`id` int NOT NULL AUTO_INCREMENT, `name` varchar(64) NOT NULL, `path` varchar(1024) NOT NULL, `serverId` int NULL, `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), UNIQUE INDEX `IDX_c299d747e769a17b90b29fea43` (`name`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("ALTER TABLE `backup_target` ADD CONSTRAINT `FK_f28935f0c614dc56fd946b9ce46` FOREIGN KEY (`serverId`) REFERENCES `server`(`id`) ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `backup_target` DROP FOREIGN KEY `FK_f28935f0c614dc56fd946b9ce46`");
    await queryRunner.query("DROP INDEX `IDX_c299d747e769a17b90b29fea43` ON `backup_target`");
    await queryRunner.query("DROP TABLE `backup_target`");
  }
}
