/**
 * SQLite migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HostInventoryPlacementSqlite1796422260237 implements MigrationInterface {
  name = 'HostInventoryPlacementSqlite1796422260237';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_768a2d27c12c91669eb2b18aef\"");
    await queryRunner.query("DROP INDEX \"IDX_73b8231726a30785b7044d325f\"");
    await queryRunner.query("DROP INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\"");
    await queryRunner.query("CREATE TABLE \"temporary_action\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(64) NOT NULL, \"type\" varchar(16) NOT NULL, \"status\" varchar(8) NOT NULL, \"description\" varchar(2048) NOT NULL DEFAULT (''), \"vmUuid\" varchar(36) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"requestedMemoryMb\" integer, \"requestedVcpus\" integer, \"deadline\" datetime NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"leaseOwner\" varchar(64), \"leaseExpiresAt\" datetime, \"sendAttempts\" integer NOT NULL DEFAULT (0), \"requestedDiskMb\" integer, \"placement\" varchar(2048), CONSTRAINT \"UQ_3d098eae105d38b5f16e2156bd7\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"temporary_action\"(\"id\", \"uuid\", \"type\", \"status\", \"description\", \"vmUuid\", \"callbackUrl\", \"requestedMemoryMb\", \"requestedVcpus\", \"deadline\", \"createdAt\", \"updatedAt\", \"leaseOwner\", \"leaseExpiresAt\", \"sendAttempts\") SELECT \"id\", \"uuid\", \"type\", \"status\", \"description\", \"vmUuid\", \"callbackUrl\", \"requestedMemoryMb\", \"requestedVcpus\", \"deadline\", \"createdAt\", \"updatedAt\", \"leaseOwner\", \"leaseExpiresAt\", \"sendAttempts\" FROM \"action\"");
    await queryRunner.query("DROP TABLE \"action\"");
    await queryRunner.query("ALTER TABLE \"temporary_action\" RENAME TO \"action\"");
    await queryRunner.query("CREATE INDEX \"IDX_768a2d27c12c91669eb2b18aef\" ON \"action\" (\"leaseExpiresAt\") ");
    await queryRunner.query("CREATE INDEX \"IDX_73b8231726a30785b7044d325f\" ON \"action\" (\"status\") ");
    await queryRunner.query("CREATE INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\" ON \"action\" (\"vmUuid\") ");
    await queryRunner.query("CREATE TABLE \"temporary_server\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"agentUrl\" varchar(1024) NOT NULL, \"agentPassword\" varchar(512) NOT NULL, \"legacy\" boolean NOT NULL DEFAULT (0), \"virtualizationType\" varchar(16) NOT NULL DEFAULT ('kvm'), \"operatingSystemType\" varchar(64) NOT NULL DEFAULT ('GNU/Linux'), \"operatingSystemDistribution\" varchar(64) NOT NULL DEFAULT ('Debian'), \"operatingSystemVersion\" varchar(64) NOT NULL DEFAULT ('12'), \"enabled\" boolean NOT NULL DEFAULT (1), \"available\" boolean NOT NULL DEFAULT (1), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"draining\" boolean NOT NULL DEFAULT (0), \"cpuModel\" varchar(128), \"cpus\" integer, \"cpuSockets\" integer, \"cpuCoresPerSocket\" integer, \"cpuThreadsPerCore\" integer, \"cpuFrequencyMHz\" integer, \"memoryTotalMiB\" integer, \"memoryFreeMiB\" integer, \"storageTotalGiB\" integer, \"storageFreeGiB\" integer, \"hypervisor\" varchar(8), \"libvirtVersion\" varchar(32), \"qemuVersion\" varchar(32), \"bridgesPresent\" varchar(1024), \"inventoryRefreshedAt\" datetime, CONSTRAINT \"UQ_e16254733ff2264f94f856316ee\" UNIQUE (\"name\"), CONSTRAINT \"UQ_a08f00d33ff9a73bd08a2edaae5\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"temporary_server\"(\"id\", \"uuid\", \"name\", \"agentUrl\", \"agentPassword\", \"legacy\", \"virtualizationType\", \"operatingSystemType\", \"operatingSystemDistribution\", \"operatingSystemVersion\", \"enabled\", \"available\", \"createdAt\") SELECT \"id\", \"uuid\", \"name\", \"agentUrl\", \"agentPassword\", \"legacy\", \"virtualizationType\", \"operatingSystemType\", \"operatingSystemDistribution\", \"operatingSystemVersion\", \"enabled\", \"available\", \"createdAt\" FROM \"server\"");
    await queryRunner.query("DROP TABLE \"server\"");
    await queryRunner.query("ALTER TABLE \"temporary_server\" RENAME TO \"server\"");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"server\" RENAME TO \"temporary_server\"");
    await queryRunner.query("CREATE TABLE \"server\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"agentUrl\" varchar(1024) NOT NULL, \"agentPassword\" varchar(512) NOT NULL, \"legacy\" boolean NOT NULL DEFAULT (0), \"virtualizationType\" varchar(16) NOT NULL DEFAULT ('kvm'), \"operatingSystemType\" varchar(64) NOT NULL DEFAULT ('GNU/Linux'), \"operatingSystemDistribution\" varchar(64) NOT NULL DEFAULT ('Debian'), \"operatingSystemVersion\" varchar(64) NOT NULL DEFAULT ('12'), \"enabled\" boolean NOT NULL DEFAULT (1), \"available\" boolean NOT NULL DEFAULT (1), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_e16254733ff2264f94f856316ee\" UNIQUE (\"name\"), CONSTRAINT \"UQ_a08f00d33ff9a73bd08a2edaae5\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"server\"(\"id\", \"uuid\", \"name\", \"agentUrl\", \"agentPassword\", \"legacy\", \"virtualizationType\", \"operatingSystemType\", \"operatingSystemDistribution\", \"operatingSystemVersion\", \"enabled\", \"available\", \"createdAt\") SELECT \"id\", \"uuid\", \"name\", \"agentUrl\", \"agentPassword\", \"legacy\", \"virtualizationType\", \"operatingSystemType\", \"operatingSystemDistribution\", \"operatingSystemVersion\", \"enabled\", \"available\", \"createdAt\" FROM \"temporary_server\"");
    await queryRunner.query("DROP TABLE \"temporary_server\"");
    await queryRunner.query("DROP INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\"");
    await queryRunner.query("DROP INDEX \"IDX_73b8231726a30785b7044d325f\"");
    await queryRunner.query("DROP INDEX \"IDX_768a2d27c12c91669eb2b18aef\"");
    await queryRunner.query("ALTER TABLE \"action\" RENAME TO \"temporary_action\"");
    await queryRunner.query("CREATE TABLE \"action\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(64) NOT NULL, \"type\" varchar(16) NOT NULL, \"status\" varchar(8) NOT NULL, \"description\" varchar(2048) NOT NULL DEFAULT (''), \"vmUuid\" varchar(36) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"requestedMemoryMb\" integer, \"requestedVcpus\" integer, \"deadline\" datetime NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"leaseOwner\" varchar(64), \"leaseExpiresAt\" datetime, \"sendAttempts\" integer NOT NULL DEFAULT (0), CONSTRAINT \"UQ_3d098eae105d38b5f16e2156bd7\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"action\"(\"id\", \"uuid\", \"type\", \"status\", \"description\", \"vmUuid\", \"callbackUrl\", \"requestedMemoryMb\", \"requestedVcpus\", \"deadline\", \"createdAt\", \"updatedAt\", \"leaseOwner\", \"leaseExpiresAt\", \"sendAttempts\") SELECT \"id\", \"uuid\", \"type\", \"status\", \"description\", \"vmUuid\", \"callbackUrl\", \"requestedMemoryMb\", \"requestedVcpus\", \"deadline\", \"createdAt\", \"updatedAt\", \"leaseOwner\", \"leaseExpiresAt\", \"sendAttempts\" FROM \"temporary_action\"");
    await queryRunner.query("DROP TABLE \"temporary_action\"");
    await queryRunner.query("CREATE INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\" ON \"action\" (\"vmUuid\") ");
    await queryRunner.query("CREATE INDEX \"IDX_73b8231726a30785b7044d325f\" ON \"action\" (\"status\") ");
    await queryRunner.query("CREATE INDEX \"IDX_768a2d27c12c91669eb2b18aef\" ON \"action\" (\"leaseExpiresAt\") ");
  }
}
