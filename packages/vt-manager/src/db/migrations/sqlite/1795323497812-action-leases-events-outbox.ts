/**
 * SQLite migration written by db/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ActionLeasesEventsOutboxSqlite1795323497812 implements MigrationInterface {
  name = 'ActionLeasesEventsOutboxSqlite1795323497812';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"action_event\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"actionUuid\" varchar(64) NOT NULL, \"at\" datetime NOT NULL DEFAULT (datetime('now')), \"fromStatus\" varchar(8), \"toStatus\" varchar(8) NOT NULL, \"who\" varchar(128) NOT NULL, \"why\" varchar(2048) NOT NULL DEFAULT (''))");
    await queryRunner.query("CREATE INDEX \"IDX_b3f9f5d8400e755baf97fd0a6e\" ON \"action_event\" (\"actionUuid\") ");
    await queryRunner.query("CREATE TABLE \"notification\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"rspec\" text NOT NULL, \"attempts\" integer NOT NULL DEFAULT (0), \"nextAttemptAt\" datetime NOT NULL, \"lastError\" varchar(2048) NOT NULL DEFAULT (''), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE INDEX \"IDX_7115151a4129c7122d972a366b\" ON \"notification\" (\"nextAttemptAt\") ");
    await queryRunner.query("DROP INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\"");
    await queryRunner.query("DROP INDEX \"IDX_73b8231726a30785b7044d325f\"");
    await queryRunner.query("CREATE TABLE \"temporary_action\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(64) NOT NULL, \"type\" varchar(16) NOT NULL, \"status\" varchar(8) NOT NULL, \"description\" varchar(2048) NOT NULL DEFAULT (''), \"vmUuid\" varchar(36) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"requestedMemoryMb\" integer, \"requestedVcpus\" integer, \"deadline\" datetime NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"leaseOwner\" varchar(64), \"leaseExpiresAt\" datetime, \"sendAttempts\" integer NOT NULL DEFAULT (0), CONSTRAINT \"UQ_3d098eae105d38b5f16e2156bd7\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"temporary_action\"(\"id\", \"uuid\", \"type\", \"status\", \"description\", \"vmUuid\", \"callbackUrl\", \"requestedMemoryMb\", \"requestedVcpus\", \"deadline\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"uuid\", \"type\", \"status\", \"description\", \"vmUuid\", \"callbackUrl\", \"requestedMemoryMb\", \"requestedVcpus\", \"deadline\", \"createdAt\", \"updatedAt\" FROM \"action\"");
    await queryRunner.query("DROP TABLE \"action\"");
    await queryRunner.query("ALTER TABLE \"temporary_action\" RENAME TO \"action\"");
    await queryRunner.query("CREATE INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\" ON \"action\" (\"vmUuid\") ");
    await queryRunner.query("CREATE INDEX \"IDX_73b8231726a30785b7044d325f\" ON \"action\" (\"status\") ");
    await queryRunner.query("DROP INDEX \"IDX_3538b156e4ca274796e9a844aa\"");
    await queryRunner.query("DROP INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\"");
    await queryRunner.query("DROP INDEX \"IDX_dcad313b8974556f1549ddce66\"");
    await queryRunner.query("CREATE TABLE \"temporary_virtual_machine\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(36) NOT NULL, \"name\" varchar(64) NOT NULL, \"serverId\" integer NOT NULL, \"projectId\" varchar(64) NOT NULL, \"projectName\" varchar(255), \"sliceId\" varchar(64) NOT NULL, \"sliceName\" varchar(255), \"operatingSystemType\" varchar(64), \"operatingSystemVersion\" varchar(64), \"operatingSystemDistribution\" varchar(64), \"memoryMb\" integer NOT NULL, \"vcpus\" integer NOT NULL DEFAULT (1), \"hdSizeMb\" integer, \"hdOriginPath\" varchar(255) NOT NULL, \"hdSetupType\" varchar(32) NOT NULL DEFAULT ('file-image'), \"virtualizationSetupType\" varchar(32) NOT NULL DEFAULT ('hvm'), \"state\" varchar(24) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"stateNote\" varchar(255) NOT NULL DEFAULT (''), \"expiresAt\" datetime, CONSTRAINT \"UQ_401d907d27566a6dce96a9e0b51\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"temporary_virtual_machine\"(\"id\", \"uuid\", \"name\", \"serverId\", \"projectId\", \"projectName\", \"sliceId\", \"sliceName\", \"operatingSystemType\", \"operatingSystemVersion\", \"operatingSystemDistribution\", \"memoryMb\", \"vcpus\", \"hdSizeMb\", \"hdOriginPath\", \"hdSetupType\", \"virtualizationSetupType\", \"state\", \"callbackUrl\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"uuid\", \"name\", \"serverId\", \"projectId\", \"projectName\", \"sliceId\", \"sliceName\", \"operatingSystemType\", \"operatingSystemVersion\", \"operatingSystemDistribution\", \"memoryMb\", \"vcpus\", \"hdSizeMb\", \"hdOriginPath\", \"hdSetupType\", \"virtualizationSetupType\", \"state\", \"callbackUrl\", \"createdAt\", \"updatedAt\" FROM \"virtual_machine\"");
    await queryRunner.query("DROP TABLE \"virtual_machine\"");
    await queryRunner.query("ALTER TABLE \"temporary_virtual_machine\" RENAME TO \"virtual_machine\"");
    await queryRunner.query("CREATE INDEX \"IDX_3538b156e4ca274796e9a844aa\" ON \"virtual_machine\" (\"sliceId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\" ON \"virtual_machine\" (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_dcad313b8974556f1549ddce66\" ON \"virtual_machine\" (\"serverId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_768a2d27c12c91669eb2b18aef\" ON \"action\" (\"leaseExpiresAt\") ");
    await queryRunner.query("CREATE INDEX \"IDX_f838a50f4e38e9b203c8b4e5dc\" ON \"virtual_machine\" (\"expiresAt\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_f838a50f4e38e9b203c8b4e5dc\"");
    await queryRunner.query("DROP INDEX \"IDX_768a2d27c12c91669eb2b18aef\"");
    await queryRunner.query("DROP INDEX \"IDX_dcad313b8974556f1549ddce66\"");
    await queryRunner.query("DROP INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\"");
    await queryRunner.query("DROP INDEX \"IDX_3538b156e4ca274796e9a844aa\"");
    await queryRunner.query("ALTER TABLE \"virtual_machine\" RENAME TO \"temporary_virtual_machine\"");
    await queryRunner.query("CREATE TABLE \"virtual_machine\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(36) NOT NULL, \"name\" varchar(64) NOT NULL, \"serverId\" integer NOT NULL, \"projectId\" varchar(64) NOT NULL, \"projectName\" varchar(255), \"sliceId\" varchar(64) NOT NULL, \"sliceName\" varchar(255), \"operatingSystemType\" varchar(64), \"operatingSystemVersion\" varchar(64), \"operatingSystemDistribution\" varchar(64), \"memoryMb\" integer NOT NULL, \"vcpus\" integer NOT NULL DEFAULT (1), \"hdSizeMb\" integer, \"hdOriginPath\" varchar(255) NOT NULL, \"hdSetupType\" varchar(32) NOT NULL DEFAULT ('file-image'), \"virtualizationSetupType\" varchar(32) NOT NULL DEFAULT ('hvm'), \"state\" varchar(24) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_401d907d27566a6dce96a9e0b51\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"virtual_machine\"(\"id\", \"uuid\", \"name\", \"serverId\", \"projectId\", \"projectName\", \"sliceId\", \"sliceName\", \"operatingSystemType\", \"operatingSystemVersion\", \"operatingSystemDistribution\", \"memoryMb\", \"vcpus\", \"hdSizeMb\", \"hdOriginPath\", \"hdSetupType\", \"virtualizationSetupType\", \"state\", \"callbackUrl\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"uuid\", \"name\", \"serverId\", \"projectId\", \"projectName\", \"sliceId\", \"sliceName\", \"operatingSystemType\", \"operatingSystemVersion\", \"operatingSystemDistribution\", \"memoryMb\", \"vcpus\", \"hdSizeMb\", \"hdOriginPath\", \"hdSetupType\", \"virtualizationSetupType\", \"state\", \"callbackUrl\", \"createdAt\", \"updatedAt\" FROM \"temporary_virtual_machine\"");
    await queryRunner.query("DROP TABLE \"temporary_virtual_machine\"");
    await queryRunner.query("CREATE INDEX \"IDX_dcad313b8974556f1549ddce66\" ON \"virtual_machine\" (\"serverId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\" ON \"virtual_machine\" (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_3538b156e4ca274796e9a844aa\" ON \"virtual_machine\" (\"sliceId\") ");
    await queryRunner.query("DROP INDEX \"IDX_73b8231726a30785b7044d325f\"");
    await queryRunner.query("DROP INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\"");
    await queryRunner.query("ALTER TABLE \"action\" RENAME TO \"temporary_action\"");
    await queryRunner.query("CREATE TABLE \"action\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(64) NOT NULL, \"type\" varchar(16) NOT NULL, \"status\" varchar(8) NOT NULL, \"description\" varchar(2048) NOT NULL DEFAULT (''), \"vmUuid\" varchar(36) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"requestedMemoryMb\" integer, \"requestedVcpus\" integer, \"deadline\" datetime NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_3d098eae105d38b5f16e2156bd7\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"action\"(\"id\", \"uuid\", \"type\", \"status\", \"description\", \"vmUuid\", \"callbackUrl\", \"requestedMemoryMb\", \"requestedVcpus\", \"deadline\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"uuid\", \"type\", \"status\", \"description\", \"vmUuid\", \"callbackUrl\", \"requestedMemoryMb\", \"requestedVcpus\", \"deadline\", \"createdAt\", \"updatedAt\" FROM \"temporary_action\"");
    await queryRunner.query("DROP TABLE \"temporary_action\"");
    await queryRunner.query("CREATE INDEX \"IDX_73b8231726a30785b7044d325f\" ON \"action\" (\"status\") ");
    await queryRunner.query("CREATE INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\" ON \"action\" (\"vmUuid\") ");
    await queryRunner.query("DROP INDEX \"IDX_7115151a4129c7122d972a366b\"");
    await queryRunner.query("DROP TABLE \"notification\"");
    await queryRunner.query("DROP INDEX \"IDX_b3f9f5d8400e755baf97fd0a6e\"");
    await queryRunner.query("DROP TABLE \"action_event\"");
  }
}
