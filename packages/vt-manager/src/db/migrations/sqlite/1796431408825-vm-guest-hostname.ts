/**
 * SQLite migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VmGuestHostnameSqlite1796431408825 implements MigrationInterface {
  name = 'VmGuestHostnameSqlite1796431408825';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_3538b156e4ca274796e9a844aa\"");
    await queryRunner.query("DROP INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\"");
    await queryRunner.query("DROP INDEX \"IDX_dcad313b8974556f1549ddce66\"");
    await queryRunner.query("DROP INDEX \"IDX_f838a50f4e38e9b203c8b4e5dc\"");
    await queryRunner.query("CREATE TABLE \"temporary_virtual_machine\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(36) NOT NULL, \"name\" varchar(64) NOT NULL, \"serverId\" integer NOT NULL, \"projectId\" varchar(64) NOT NULL, \"projectName\" varchar(255), \"sliceId\" varchar(64) NOT NULL, \"sliceName\" varchar(255), \"operatingSystemType\" varchar(64), \"operatingSystemVersion\" varchar(64), \"operatingSystemDistribution\" varchar(64), \"memoryMb\" integer NOT NULL, \"vcpus\" integer NOT NULL DEFAULT (1), \"hdSizeMb\" integer, \"hdOriginPath\" varchar(255) NOT NULL, \"hdSetupType\" varchar(32) NOT NULL DEFAULT ('file-image'), \"virtualizationSetupType\" varchar(32) NOT NULL DEFAULT ('hvm'), \"state\" varchar(24) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"stateNote\" varchar(255) NOT NULL DEFAULT (''), \"expiresAt\" datetime, \"maxMemoryMb\" integer, \"dataDisksMb\" varchar(255), \"sshKeys\" text, \"guestUsers\" varchar(1024), \"keepDisksOnDelete\" boolean NOT NULL DEFAULT (0), \"guestHostname\" varchar(253), CONSTRAINT \"UQ_401d907d27566a6dce96a9e0b51\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"temporary_virtual_machine\"(\"id\", \"uuid\", \"name\", \"serverId\", \"projectId\", \"projectName\", \"sliceId\", \"sliceName\", \"operatingSystemType\", \"operatingSystemVersion\", \"operatingSystemDistribution\", \"memoryMb\", \"vcpus\", \"hdSizeMb\", \"hdOriginPath\", \"hdSetupType\", \"virtualizationSetupType\", \"state\", \"callbackUrl\", \"createdAt\", \"updatedAt\", \"stateNote\", \"expiresAt\", \"maxMemoryMb\", \"dataDisksMb\", \"sshKeys\", \"guestUsers\", \"keepDisksOnDelete\") SELECT \"id\", \"uuid\", \"name\", \"serverId\", \"projectId\", \"projectName\", \"sliceId\", \"sliceName\", \"operatingSystemType\", \"operatingSystemVersion\", \"operatingSystemDistribution\", \"memoryMb\", \"vcpus\", \"hdSizeMb\", \"hdOriginPath\", \"hdSetupType\", \"virtualizationSetupType\", \"state\", \"callbackUrl\", \"createdAt\", \"updatedAt\", \"stateNote\", \"expiresAt\", \"maxMemoryMb\", \"dataDisksMb\", \"sshKeys\", \"guestUsers\", \"keepDisksOnDelete\" FROM \"virtual_machine\"");
    await queryRunner.query("DROP TABLE \"virtual_machine\"");
    await queryRunner.query("ALTER TABLE \"temporary_virtual_machine\" RENAME TO \"virtual_machine\"");
    await queryRunner.query("CREATE INDEX \"IDX_3538b156e4ca274796e9a844aa\" ON \"virtual_machine\" (\"sliceId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\" ON \"virtual_machine\" (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_dcad313b8974556f1549ddce66\" ON \"virtual_machine\" (\"serverId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_f838a50f4e38e9b203c8b4e5dc\" ON \"virtual_machine\" (\"expiresAt\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_f838a50f4e38e9b203c8b4e5dc\"");
    await queryRunner.query("DROP INDEX \"IDX_dcad313b8974556f1549ddce66\"");
    await queryRunner.query("DROP INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\"");
    await queryRunner.query("DROP INDEX \"IDX_3538b156e4ca274796e9a844aa\"");
    await queryRunner.query("ALTER TABLE \"virtual_machine\" RENAME TO \"temporary_virtual_machine\"");
    await queryRunner.query("CREATE TABLE \"virtual_machine\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"uuid\" varchar(36) NOT NULL, \"name\" varchar(64) NOT NULL, \"serverId\" integer NOT NULL, \"projectId\" varchar(64) NOT NULL, \"projectName\" varchar(255), \"sliceId\" varchar(64) NOT NULL, \"sliceName\" varchar(255), \"operatingSystemType\" varchar(64), \"operatingSystemVersion\" varchar(64), \"operatingSystemDistribution\" varchar(64), \"memoryMb\" integer NOT NULL, \"vcpus\" integer NOT NULL DEFAULT (1), \"hdSizeMb\" integer, \"hdOriginPath\" varchar(255) NOT NULL, \"hdSetupType\" varchar(32) NOT NULL DEFAULT ('file-image'), \"virtualizationSetupType\" varchar(32) NOT NULL DEFAULT ('hvm'), \"state\" varchar(24) NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"stateNote\" varchar(255) NOT NULL DEFAULT (''), \"expiresAt\" datetime, \"maxMemoryMb\" integer, \"dataDisksMb\" varchar(255), \"sshKeys\" text, \"guestUsers\" varchar(1024), \"keepDisksOnDelete\" boolean NOT NULL DEFAULT (0), CONSTRAINT \"UQ_401d907d27566a6dce96a9e0b51\" UNIQUE (\"uuid\"))");
    await queryRunner.query("INSERT INTO \"virtual_machine\"(\"id\", \"uuid\", \"name\", \"serverId\", \"projectId\", \"projectName\", \"sliceId\", \"sliceName\", \"operatingSystemType\", \"operatingSystemVersion\", \"operatingSystemDistribution\", \"memoryMb\", \"vcpus\", \"hdSizeMb\", \"hdOriginPath\", \"hdSetupType\", \"virtualizationSetupType\", \"state\", \"callbackUrl\", \"createdAt\", \"updatedAt\", \"stateNote\", \"expiresAt\", \"maxMemoryMb\", \"dataDisksMb\", \"sshKeys\", \"guestUsers\", \"keepDisksOnDelete\") SELECT \"id\", \"uuid\", \"name\", \"serverId\", \"projectId\", \"projectName\", \"sliceId\", \"sliceName\", \"operatingSystemType\", \"operatingSystemVersion\", \"operatingSystemDistribution\", \"memoryMb\", \"vcpus\", \"hdSizeMb\", \"hdOriginPath\", \"hdSetupType\", \"virtualizationSetupType\", \"state\", \"callbackUrl\", \"createdAt\", \"updatedAt\", \"stateNote\", \"expiresAt\", \"maxMemoryMb\", \"dataDisksMb\", \"sshKeys\", \"guestUsers\", \"keepDisksOnDelete\" FROM \"temporary_virtual_machine\"");
    await queryRunner.query("DROP TABLE \"temporary_virtual_machine\"");
    await queryRunner.query("CREATE INDEX \"IDX_f838a50f4e38e9b203c8b4e5dc\" ON \"virtual_machine\" (\"expiresAt\") ");
    await queryRunner.query("CREATE INDEX \"IDX_dcad313b8974556f1549ddce66\" ON \"virtual_machine\" (\"serverId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_67bcb64ee9da3e739552f7cdd3\" ON \"virtual_machine\" (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_3538b156e4ca274796e9a844aa\" ON \"virtual_machine\" (\"sliceId\") ");
  }
}
