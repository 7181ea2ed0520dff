/**
 * MySQL/MariaDB migration written by db/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchemaMysql1795322498472 implements MigrationInterface {
  name = 'InitialSchemaMysql1795322498472';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `action` (`id` int NOT NULL AUTO_INCREMENT, `uuid` varchar(64) NOT NULL, `type` varchar(16) NOT NULL, `status` varchar(8) NOT NULL, `description` varchar(2048) NOT NULL DEFAULT '', `vmUuid` varchar(36) NOT NULL, `callbackUrl` varchar(2048) NOT NULL, `requestedMemoryMb` int NULL, `requestedVcpus` int NULL, `deadline` datetime NOT NULL, `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `updatedAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), INDEX `IDX_73b8231726a30785b7044d325f` (`status`), INDEX `IDX_487ff774f7c9ca2e80e3c4d7f2` (`vmUuid`), UNIQUE INDEX `IDX_3d098eae105d38b5f16e2156bd` (`uuid`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `ipv4_range` (`id` int NOT NULL AUTO_INCREMENT, `name` varchar(64) NOT NULL, `startAddress` bigint NOT NULL, `endAddress` bigint NOT NULL, `netmask` varchar(15) NOT NULL, `gateway` varchar(15) NULL, `dns1` varchar(15) NULL, `dns2` varchar(15) NULL, UNIQUE INDEX `IDX_ba36e61f386a17e0b3e878e2e3` (`name`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `ipv4_slot` (`id` int NOT NULL AUTO_INCREMENT, `rangeId` int NOT NULL, `address` bigint NOT NULL, `vmUuid` varchar(36) NULL, `excluded` tinyint NOT NULL DEFAULT 0, `comment` varchar(255) NULL, INDEX `IDX_7e6a5c425672126effc660076a` (`rangeId`), UNIQUE INDEX `IDX_463fa85f96e4e67904e0df13e4` (`address`), INDEX `IDX_afab9762b6e55a715fea9238b7` (`vmUuid`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `mac_range` (`id` int NOT NULL AUTO_INCREMENT, `name` varchar(64) NOT NULL, `startAddress` bigint NOT NULL, `endAddress` bigint NOT NULL, UNIQUE INDEX `IDX_9128409a5c4e7061404c0cb94d` (`name`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `mac_slot` (`id` int NOT NULL AUTO_INCREMENT, `rangeId` int NOT NULL, `address` bigint NOT NULL, `vmUuid` varchar(36) NULL, `excluded` tinyint NOT NULL DEFAULT 0, INDEX `IDX_fc5b7137f8eeba6eccdd5c0dc0` (`rangeId`), UNIQUE INDEX `IDX_6affc88240a68f9caaaae019de` (`address`), INDEX `IDX_19a32849b20e9a7004de26042c` (`vmUuid`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `range_subscription` (`id` int NOT NULL AUTO_INCREMENT, `serverId` int NOT NULL, `kind` varchar(8) NOT NULL, `rangeId` int NOT NULL, `priority` int NOT NULL DEFAULT '0', UNIQUE INDEX `IDX_2fc8e9253db2cf438b695ea5ff` (`serverId`, `kind`, `rangeId`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `server` (`id` int NOT NULL AUTO_INCREMENT, `uuid` varchar(36) NOT NULL, `name` varchar(63) NOT NULL, `agentUrl` varchar(1024) NOT NULL, `agentPassword` varchar(512) NOT NULL, `legacy` tinyint NOT NULL DEFAULT 0, `virtualizationType` varchar(16) NOT NULL DEFAULT 'kvm', `operatingSystemType` varchar(64) NOT NULL DEFAULT 'GNU/Linux', `operatingSystemDistribution` varchar(64) NOT NULL DEFAULT 'Debian', `operatingSystemVersion` varchar(64) NOT NULL DEFAULT '12', `enabled` tinyint NOT NULL DEFAULT 1, `available` tinyint NOT NULL DEFAULT 1, `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), UNIQUE INDEX `IDX_a08f00d33ff9a73bd08a2edaae` (`uuid`), UNIQUE INDEX `IDX_e16254733ff2264f94f856316e` (`name`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `server_bridge` (`id` int NOT NULL AUTO_INCREMENT, `serverId` int NOT NULL, `name` varchar(15) NOT NULL, `isMgmt` tinyint NOT NULL DEFAULT 0, `switchPort` varchar(32) NULL, UNIQUE INDEX `IDX_623db837552c1f2c56934f1d17` (`serverId`, `name`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `vm_interface` (`id` int NOT NULL AUTO_INCREMENT, `vmId` int NOT NULL, `name` varchar(15) NOT NULL, `position` int NOT NULL, `isMgmt` tinyint NOT NULL, `mac` varchar(17) NOT NULL, `ip` varchar(15) NULL, `netmask` varchar(15) NULL, `gateway` varchar(15) NULL, `dns1` varchar(15) NULL, `dns2` varchar(15) NULL, `bridge` varchar(15) NOT NULL, UNIQUE INDEX `IDX_e4c99326af6a1cb8cb98404d19` (`vmId`, `name`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `virtual_machine` (`id` int NOT NULL AUTO_INCREMENT, `uuid` varchar(36) NOT NULL, `name` varchar(64) NOT NULL, `serverId` int NOT NULL, `projectId` varchar(64) NOT NULL, `projectName` varchar(255) NULL, `sliceId` varchar(64) NOT NULL, `sliceName` varchar(255) NULL, `operatingSystemType` varchar(64) NULL, `operatingSystemVersion` varchar(64) NULL, `operatingSystemDistribution` varchar(64) NULL, `memoryMb` int NOT NULL, `vcpus` int NOT NULL DEFAULT '1', `hdSizeMb` int NULL, `hdOriginPath` varchar(255) NOT NULL, `hdSetupType` varchar(32) NOT NULL DEFAULT 'file-image', `virtualizationSetupType` varchar(32) NOT NULL DEFAULT 'hvm', `state` varchar(24) NOT NULL, `callbackUrl` varchar(2048) NOT NULL, `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `updatedAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), INDEX `IDX_dcad313b8974556f1549ddce66` (`serverId`), INDEX `IDX_67bcb64ee9da3e739552f7cdd3` (`projectId`), INDEX `IDX_3538b156e4ca274796e9a844aa` (`sliceId`), UNIQUE INDEX `IDX_401d907d27566a6dce96a9e0b5` (`uuid`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `principal` (`id` int NOT NULL AUTO_INCREMENT, `name` varchar(100) NOT NULL, `passwordScrypt` varchar(255) NULL, `roles` varchar(64) NOT NULL, `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), UNIQUE INDEX `IDX_8a389581dfb18b6bdf43ac46ba` (`name`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("CREATE TABLE `project_owner` (`id` int NOT NULL AUTO_INCREMENT, `projectId` varchar(64) NOT NULL, `principal` varchar(100) NOT NULL, `createdAt` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), UNIQUE INDEX `IDX_451110262b06a6099cc8e25f35` (`projectId`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query("ALTER TABLE `server_bridge` ADD CONSTRAINT `FK_eafdf1e039ce6dbee569784efe9` FOREIGN KEY (`serverId`) REFERENCES `server`(`id`) ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE `vm_interface` ADD CONSTRAINT `FK_e74609a9c41a97a1d4fe3ad4673` FOREIGN KEY (`vmId`) REFERENCES `virtual_machine`(`id`) ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE `vm_interface` DROP FOREIGN KEY `FK_e74609a9c41a97a1d4fe3ad4673`");
    await queryRunner.query("ALTER TABLE `server_bridge` DROP FOREIGN KEY `FK_eafdf1e039ce6dbee569784efe9`");
    await queryRunner.query("DROP INDEX `IDX_451110262b06a6099cc8e25f35` ON `project_owner`");
    await queryRunner.query("DROP TABLE `project_owner`");
    await queryRunner.query("DROP INDEX `IDX_8a389581dfb18b6bdf43ac46ba` ON `principal`");
    await queryRunner.query("DROP TABLE `principal`");
    await queryRunner.query("DROP INDEX `IDX_401d907d27566a6dce96a9e0b5` ON `virtual_machine`");
    await queryRunner.query("DROP INDEX `IDX_3538b156e4ca274796e9a844aa` ON `virtual_machine`");
    await queryRunner.query("DROP INDEX `IDX_67bcb64ee9da3e739552f7cdd3` ON `virtual_machine`");
    await queryRunner.query("DROP INDEX `IDX_dcad313b8974556f1549ddce66` ON `virtual_machine`");
    await queryRunner.query("DROP TABLE `virtual_machine`");
    await queryRunner.query("DROP INDEX `IDX_e4c99326af6a1cb8cb98404d19` ON `vm_interface`");
    await queryRunner.query("DROP TABLE `vm_interface`");
    await queryRunner.query("DROP INDEX `IDX_623db837552c1f2c56934f1d17` ON `server_bridge`");
    await queryRunner.query("DROP TABLE `server_bridge`");
    await queryRunner.query("DROP INDEX `IDX_e16254733ff2264f94f856316e` ON `server`");
    await queryRunner.query("DROP INDEX `IDX_a08f00d33ff9a73bd08a2edaae` ON `server`");
    await queryRunner.query("DROP TABLE `server`");
    await queryRunner.query("DROP INDEX `IDX_2fc8e9253db2cf438b695ea5ff` ON `range_subscription`");
    await queryRunner.query("DROP TABLE `range_subscription`");
    await queryRunner.query("DROP INDEX `IDX_19a32849b20e9a7004de26042c` ON `mac_slot`");
    await queryRunner.query("DROP INDEX `IDX_6affc88240a68f9caaaae019de` ON `mac_slot`");
    await queryRunner.query("DROP INDEX `IDX_fc5b7137f8eeba6eccdd5c0dc0` ON `mac_slot`");
    await queryRunner.query("DROP TABLE `mac_slot`");
    await queryRunner.query("DROP INDEX `IDX_9128409a5c4e7061404c0cb94d` ON `mac_range`");
    await queryRunner.query("DROP TABLE `mac_range`");
    await queryRunner.query("DROP INDEX `IDX_afab9762b6e55a715fea9238b7` ON `ipv4_slot`");
    await queryRunner.query("DROP INDEX `IDX_463fa85f96e4e67904e0df13e4` ON `ipv4_slot`");
    await queryRunner.query("DROP INDEX `IDX_7e6a5c425672126effc660076a` ON `ipv4_slot`");
    await queryRunner.query("DROP TABLE `ipv4_slot`");
    await queryRunner.query("DROP INDEX `IDX_ba36e61f386a17e0b3e878e2e3` ON `ipv4_range`");
    await queryRunner.query("DROP TABLE `ipv4_range`");
    await queryRunner.query("DROP INDEX `IDX_3d098eae105d38b5f16e2156bd` ON `action`");
    await queryRunner.query("DROP INDEX `IDX_487ff774f7c9ca2e80e3c4d7f2` ON `action`");
    await queryRunner.query("DROP INDEX `IDX_73b8231726a30785b7044d325f` ON `action`");
    await queryRunner.query("DROP TABLE `action`");
  }
}
