/**
 * MySQL/MariaDB migration: the `inventory_version` table (written like tools/make-migration.ts output) and, by hand, the
 * triggers that bump it in the transaction of every change of what `listResources` shows (decision 031). The
 * listed columns are frozen here: a later migration that lists another column replaces the update trigger.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Table → the columns the information document shows (docs/ocf-protocol.md §6.7, services/rspec-mapping.ts). */
export const LISTED: Record<string, string[]> = {
  server: ['name', 'uuid', 'operatingSystemType', 'operatingSystemVersion', 'operatingSystemDistribution', 'virtualizationType', 'cpus', 'cpuFrequencyMHz', 'memoryTotalMiB', 'storageTotalGiB'],
  server_bridge: ['serverId', 'name', 'isMgmt', 'switchPort'],
  virtual_machine: ['uuid', 'name', 'serverId', 'projectId', 'projectName', 'sliceId', 'sliceName', 'operatingSystemType', 'operatingSystemVersion', 'operatingSystemDistribution', 'memoryMb', 'hdOriginPath', 'hdSetupType', 'virtualizationSetupType', 'state'],
  vm_interface: ['vmId', 'name', 'position', 'isMgmt', 'mac', 'ip', 'netmask', 'gateway', 'dns1', 'dns2', 'bridge'],
  project_owner: ['projectId', 'principal'],
};

/** Whether a row's listed values differ (`<=>` compares NULLs as values). */
export function changed(table: string): string {
  const parts = LISTED[table]!.map((c) => `NOT (OLD.\`${c}\` <=> NEW.\`${c}\`)`);
  // the document shows a host's facts only once it reported (inventoryRefreshedAt set), whatever the time
  if (table === 'server') parts.push('(OLD.`inventoryRefreshedAt` IS NULL) <> (NEW.`inventoryRefreshedAt` IS NULL)');
  return parts.join(' OR ');
}

/**
 * The bump: shard by the writer's connection (`CONNECTION_ID() % 16`), so a transaction locks ONE shard row however
 * many listed rows it writes. Sharding by row id made a transaction writing several rows take several shard locks in
 * row-id order, and two such transactions deadlocked (and queued on each other's shards).
 */
const BUMP = 'UPDATE `inventory_version` SET `version` = `version` + 1 WHERE `shard` = CONNECTION_ID() % 16';

export class InventoryVersionMysql1796440000000 implements MigrationInterface {
  name = 'InventoryVersionMysql1796440000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE `inventory_version` (`shard` int NOT NULL, `version` bigint NOT NULL DEFAULT '0', PRIMARY KEY (`shard`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    await queryRunner.query(`INSERT INTO \`inventory_version\` (\`shard\`, \`version\`) VALUES ${Array.from({ length: 16 }, (_, i) => `(${i}, 0)`).join(', ')}`);
    for (const table of Object.keys(LISTED)) {
      await queryRunner.query(`CREATE TRIGGER \`inventory_version_${table}_insert\` AFTER INSERT ON \`${table}\` FOR EACH ROW ${BUMP}`);
      await queryRunner.query(`CREATE TRIGGER \`inventory_version_${table}_update\` AFTER UPDATE ON \`${table}\` FOR EACH ROW ${BUMP} AND (${changed(table)})`);
      await queryRunner.query(`CREATE TRIGGER \`inventory_version_${table}_delete\` AFTER DELETE ON \`${table}\` FOR EACH ROW ${BUMP}`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of Object.keys(LISTED).reverse()) {
      for (const what of ['delete', 'update', 'insert']) await queryRunner.query(`DROP TRIGGER \`inventory_version_${table}_${what}\``);
    }
    await queryRunner.query("DROP TABLE `inventory_version`");
  }
}
