/**
 * SQLite migration written by db/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchemaSqlite1795322498472 implements MigrationInterface {
  name = 'InitialSchemaSqlite1795322498472';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"action\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(64) NOT NULL, \"type\" varchar(16) NOT NULL, \"status\" varchar(8) NOT NULL, \"description\" varchar(2048) NOT NULL DEFAULT (''), \"vmUuid\" varchar(36) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"requestedMemoryMb\" integer, \"requestedVcpus\" integer, \"deadline\" datetime NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_3d098eae105d38b5f16e2156bd7\" UNIQUE (\"uuid\"))");
    await queryRunner.query("CREATE INDEX \"IDX_73b8231726a30785b7044d325f\" ON \"action\" (\"status\") ");
    await queryRunner.query("CREATE INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\" ON \"action\" (\"vmUuid\") ");
    await queryRunner.query("CREATE TABLE \"ipv4_range\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"startAddress\" bigint NOT NULL, \"endAddress\" bigint NOT NULL, \"netmask\" varchar(15) NOT NULL, \"gateway\" varchar(15), \"dns1\" varchar(15), \"dns2\" varchar(15), CONSTRAINT \"UQ_ba36e61f386a17e0b3e878e2e3e\" UNIQUE (\"name\"))");
    await queryRunner.query("CREATE TABLE \"ipv4_slot\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"rangeId\" integer NOT NULL, \"address\" bigint NOT NULL, \"vmUuid\" varchar(36), \"excluded\" boolean NOT NULL DEFAULT (0), \"comment\" varchar(255))");
    await queryRunner.query("CREATE INDEX \"IDX_7e6a5c425672126effc660076a\" ON \"ipv4_slot\" (\"rangeId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_463fa85f96e4e67904e0df13e4\" ON \"ipv4_slot\" (\"address\") ");
    await queryRunner.query("CREATE INDEX \"IDX_afab9762b6e55a715fea9238b7\" ON \"ipv4_slot\" (\"vmUuid\") ");
    await queryRunner.query("CREATE TABLE \"mac_range\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(64) NOT NULL, \"startAddress\" bigint NOT NULL, \"endAddress\" bigint NOT NULL, CONSTRAINT \"UQ_9128409a5c4e7061404c0cb94d3\" UNIQUE (\"name\"))");
    await queryRunner.query("CREATE TABLE \"mac_slot\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"rangeId\" integer NOT NULL, \"address\" bigint NOT NULL, \"vmUuid\" varchar(36), \"excluded\" boolean NOT NULL DEFAULT (0))");
    await queryRunner.query("CREATE INDEX \"IDX_fc5b7137f8eeba6eccdd5c0dc0\" ON \"mac_slot\" (\"rangeId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_6affc88240a68f9caaaae019de\" ON \"mac_slot\" (\"address\") ");
    await queryRunner.query("CREATE INDEX \"IDX_19a32849b20e9a7004de26042c\" ON \"mac_slot\" (\"vmUuid\") ");
    await queryRunner.query("CREATE TABLE \"range_subscription\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"serverId\" integer NOT NULL, \"kind\" varchar(8) NOT NULL, \"rangeId\" integer NOT NULL, \"priority\" integer NOT NULL DEFAULT (0))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_2fc8e9253db2cf438b695ea5ff\" ON \"range_subscription\" (\"serverId\", \"kind\", \"rangeId\") ");
    await queryRunner.query("CREATE TABLE \"server\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"agentUrl\" varchar(1024) NOT NULL, \"agentPassword\" varchar(512) NOT NULL, \"legacy\" boolean NOT NULL DEFAULT (0), \"virtualizationType\" varchar(16) NOT NULL DEFAULT ('kvm'), \"operatingSystemType\" varchar(64) NOT NULL DEFAULT ('GNU/Linux'), \"operatingSystemDistribution\" varchar(64) NOT NULL DEFAULT ('Debian'), \"operatingSystemVersion\" varchar(64) NOT NULL DEFAULT ('12'), \"enabled\" boolean NOT NULL DEFAULT (1), \"available\" boolean NOT NULL DEFAULT (1), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_a08f00d33ff9a73bd08a2edaae5\" UNIQUE (\"uuid\"), CONSTRAINT \"UQ_e16254733ff2264f94f856316ee\" UNIQUE (\"name\"))");
    await queryRunner.query("CREATE TABLE \"server_bridge\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"serverId\" integer NOT NULL, \"name\" varchar(15) NOT NULL, \"isMgmt\" boolean NOT NULL DEFAULT (0), \"switchPort\" varchar(32))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_623db837552c1f2c56934f1d17\" ON \"server_bridge\" (\"serverId\", \"name\") ");
    await queryRunner.query("CREATE TABLE \"vm_interface\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"vmId\" integer NOT NULL, \"name\" varchar(15) NOT NULL, \"position\" integer NOT NULL, \"isMgmt\" boolean NOT NULL, \"mac\" varchar(17) NOT NULL, \"ip\" varchar(15), \"netmask\" varchar(15), \"gateway\" varchar(15), \"dns1\" varchar(15), \"dns2\" varchar(15), \"bridge\" varchar(15) NOT NULL)");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_e4c99326af6a1cb8cb98404d19\" ON \"vm_interface\" (\"vmId\", \"name\") ");
    await queryRunner.query("CREATE TABLE \"virtual_machine\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(36) NOT NULL, \"name\" varchar(64) NOT NULL, \"serverId\" integer NOT NULL, \"projectId\" varchar(64) NOT NULL, \"projectName\" varchar(255), \"sliceId\" varchar(64) NOT NULL, \"sliceName\" varchar(255), \"operatingSystemType\" varchar(64), \"operatingSystemVersion\" varchar(64), \"operatingSystemDistribution\" varchar(64), \"memoryMb\" integer NOT NULL, \"vcpus\" integer NOT NULL DEFAULT (1), \"hdSizeMb\" integer, \"hdOriginPath\" varchar(255) NOT NULL, \"hdSetupType\" varchar(32) NOT NULL DEFAULT ('file-image'), \"virtualizationSetupType\" varchar(32) NOT NULL DEFAULT ('hvm'), \"state\" varchar(24) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_401d907d27566a6dce96a9e0b51\" UNIQUE (\"uuid\"))");
    await queryRunner.query("CREATE INDEX \"IDX_dcad313b8974556f1549ddce66\" ON \"virtual_machine\" (\"serverId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\" ON \"virtual_machine\" (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_3538b156e4ca274796e9a844aa\" ON \"virtual_machine\" (\"sliceId\") ");
    await queryRunner.query("CREATE TABLE \"principal\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"name\" varchar(100) NOT NULL, \"passwordScrypt\" varchar(255), \"roles\" varchar(64) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_8a389581dfb18b6bdf43ac46ba4\" UNIQUE (\"name\"))");
    await queryRunner.query("CREATE TABLE \"project_owner\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"projectId\" varchar(64) NOT NULL, \"principal\" varchar(100) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_451110262b06a6099cc8e25f354\" UNIQUE (\"projectId\"))");
    await queryRunner.query("DROP INDEX \"IDX_623db837552c1f2c56934f1d17\"");
    await queryRunner.query("CREATE TABLE \"temporary_server_bridge\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"serverId\" integer NOT NULL, \"name\" varchar(15) NOT NULL, \"isMgmt\" boolean NOT NULL DEFAULT (0), \"switchPort\" varchar(32), CONSTRAINT \"FK_eafdf1e039ce6dbee569784efe9\" FOREIGN KEY (\"serverId\") REFERENCES \"server\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_server_bridge\"(\"id\", \"serverId\", \"name\", \"isMgmt\", \"switchPort\") SELECT \"id\", \"serverId\", \"name\", \"isMgmt\", \"switchPort\" FROM \"server_bridge\"");
    await queryRunner.query("DROP TABLE \"server_bridge\"");
    await queryRunner.query("ALTER TABLE \"temporary_server_bridge\" RENAME TO \"server_bridge\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_623db837552c1f2c56934f1d17\" ON \"server_bridge\" (\"serverId\", \"name\") ");
    await queryRunner.query("DROP INDEX \"IDX_e4c99326af6a1cb8cb98404d19\"");
    await queryRunner.query("CREATE TABLE \"temporary_vm_interface\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"vmId\" integer NOT NULL, \"name\" varchar(15) NOT NULL, \"position\" integer NOT NULL, \"isMgmt\" boolean NOT NULL, \"mac\" varchar(17) NOT NULL, \"ip\" varchar(15), \"netmask\" varchar(15), \"gateway\" varchar(15), \"dns1\" varchar(15), \"dns2\" varchar(15), \"bridge\" varchar(15) NOT NULL, CONSTRAINT \"FK_e74609a9c41a97a1d4fe3ad4673\" FOREIGN KEY (\"vmId\") REFERENCES \"virtual_machine\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_vm_interface\"(\"id\", \"vmId\", \"name\", \"position\", \"isMgmt\", \"mac\", \"ip\", \"netmask\", \"gateway\", \"dns1\", \"dns2\", \"bridge\") SELECT \"id\", \"vmId\", \"name\", \"position\", \"isMgmt\", \"mac\", \"ip\", \"netmask\", \"gateway\", \"dns1\", \"dns2\", \"bridge\" FROM \"vm_interface\"");
    await queryRunner.query("DROP TABLE \"vm_interface\"");
    await queryRunner.query("ALTER TABLE \"temporary_vm_interface\" RENAME TO \"vm_interface\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_e4c99326af6a1cb8cb98404d19\" ON \"vm_interface\" (\"vmId\", \"name\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_e4c99326af6a1cb8cb98404d19\"");
    await queryRunner.query("ALTER TABLE \"vm_interface\" RENAME TO \"temporary_vm_interface\"");
    await queryRunner.query("CREATE TABLE \"vm_interface\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"vmId\" integer NOT NULL, \"name\" varchar(15) NOT NULL, \"position\" integer NOT NULL, \"isMgmt\" boolean NOT NULL, \"mac\" varchar(17) NOT NULL, \"ip\" varchar(15), \"netmask\" varchar(15), \"gateway\" varchar(15), \"dns1\" varchar(15), \"dns2\" varchar(15), \"bridge\" varchar(15) NOT NULL)");
    await queryRunner.query("INSERT INTO \"vm_interface\"(\"id\", \"vmId\", \"name\", \"position\", \"isMgmt\", \"mac\", \"ip\", \"netmask\", \"gateway\", \"dns1\", \"dns2\", \"bridge\") SELECT \"id\", \"vmId\", \"name\", \"position\", \"isMgmt\", \"mac\", \"ip\", \"netmask\", \"gateway\", \"dns1\", \"dns2\", \"bridge\" FROM \"temporary_vm_interface\"");
    await queryRunner.query("DROP TABLE \"temporary_vm_interface\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_e4c99326af6a1cb8cb98404d19\" ON \"vm_interface\" (\"vmId\", \"name\") ");
    await queryRunner.query("DROP INDEX \"IDX_623db837552c1f2c56934f1d17\"");
    await queryRunner.query("ALTER TABLE \"server_bridge\" RENAME TO \"temporary_server_bridge\"");
    await queryRunner.query("CREATE TABLE \"server_bridge\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"serverId\" integer NOT NULL, \"name\" varchar(15) NOT NULL, \"isMgmt\" boolean NOT NULL DEFAULT (0), \"switchPort\" varchar(32))");
    await queryRunner.query("INSERT INTO \"server_bridge\"(\"id\", \"serverId\", \"name\", \"isMgmt\", \"switchPort\") SELECT \"id\", \"serverId\", \"name\", \"isMgmt\", \"switchPort\" FROM \"temporary_server_bridge\"");
    await queryRunner.query("DROP TABLE \"temporary_server_bridge\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_623db837552c1f2c56934f1d17\" ON \"server_bridge\" (\"serverId\", \"name\") ");
    await queryRunner.query("DROP TABLE \"project_owner\"");
    await queryRunner.query("DROP TABLE \"principal\"");
    await queryRunner.query("DROP INDEX \"IDX_3538b156e4ca274796e9a844aa\"");
    await queryRunner.query("DROP INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\"");
    await queryRunner.query("DROP INDEX \"IDX_dcad313b8974556f1549ddce66\"");
    await queryRunner.query("DROP TABLE \"virtual_machine\"");
    await queryRunner.query("DROP INDEX \"IDX_e4c99326af6a1cb8cb98404d19\"");
    await queryRunner.query("DROP TABLE \"vm_interface\"");
    await queryRunner.query("DROP INDEX \"IDX_623db837552c1f2c56934f1d17\"");
    await queryRunner.query("DROP TABLE \"server_bridge\"");
    await queryRunner.query("DROP TABLE \"server\"");
    await queryRunner.query("DROP INDEX \"IDX_2fc8e9253db2cf438b695ea5ff\"");
    await queryRunner.query("DROP TABLE \"range_subscription\"");
    await queryRunner.query("DROP INDEX \"IDX_19a32849b20e9a7004de26042c\"");
    await queryRunner.query("DROP INDEX \"IDX_6affc88240a68f9caaaae019de\"");
    await queryRunner.query("DROP INDEX \"IDX_fc5b7137f8eeba6eccdd5c0dc0\"");
    await queryRunner.query("DROP TABLE \"mac_slot\"");
    await queryRunner.query("DROP TABLE \"mac_range\"");
    await queryRunner.query("DROP INDEX \"IDX_afab9762b6e55a715fea9238b7\"");
    await queryRunner.query("DROP INDEX \"IDX_463fa85f96e4e67904e0df13e4\"");
    await queryRunner.query("DROP INDEX \"IDX_7e6a5c425672126effc660076a\"");
    await queryRunner.query("DROP TABLE \"ipv4_slot\"");
    await queryRunner.query("DROP TABLE \"ipv4_range\"");
    await queryRunner.query("DROP INDEX \"IDX_487ff774f7c9ca2e80e3c4d7f2\"");
    await queryRunner.query("DROP INDEX \"IDX_73b8231726a30785b7044d325f\"");
    await queryRunner.query("DROP TABLE \"action\"");
  }
}
