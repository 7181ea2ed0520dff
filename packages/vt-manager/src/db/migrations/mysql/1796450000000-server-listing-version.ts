/**
 * MySQL/MariaDB migration: the per-server listing version (decision 035). Table `server_listing_version` (16 shard
 * rows per server, created with the server) and triggers, beside the inventory-version triggers of 031 (created
 * after them, so they fire after them: a transaction locks its global shard row first, then rows of the same shard
 * here, so two writers never take these locks in opposite orders), that bump the writer's shard
 * (`CONNECTION_ID() % 16`, as 031) of every server whose `<server>` element a change touches: the server's listed
 * columns, its bridges, its VMs (old and new server when a VM moves), their NICs, and the ownership of the projects
 * of its VMs (every server: see `allServers`). Rows of deleted servers stay, so a reused id never starts from a version a cached piece was built at.
 * MySQL/MariaDB fire no trigger for foreign-key cascades; every such parent delete bumps here itself (031).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { changed } from './1796440000000-inventory-version.js';

const T = '`server_listing_version`';
const SHARD = 'CONNECTION_ID() % 16';
/** Bumps the writer's shard of the servers chosen by the SQL condition `where` (on `serverId`). */
const bump = (where: string) => `UPDATE ${T} SET \`version\` = \`version\` + 1 WHERE \`shard\` = ${SHARD} AND ${where}`;
const vmServers = (vmIds: string) => `\`serverId\` IN (SELECT \`serverId\` FROM \`virtual_machine\` WHERE \`id\` IN (${vmIds}))`;
/**
 * Ownership changes bump every server (in the writer's shard), not only the servers holding the project's VMs when
 * the trigger runs: under READ COMMITTED a VM of the project inserted and committed on another server while the
 * claim is still open is not seen by the trigger, a listing between the two commits caches that server's piece
 * without the VM, and the claim's commit would never move that server's version (found in review; reproduced).
 * Ownership changes are rare (a project's first action), so one row per server is cheap. SQLite has one writer at a
 * time and needs no such care.
 */
const allServers = '1 = 1';
const rows = (id: string) => Array.from({ length: 16 }, (_, i) => `(${id}, ${i}, 0)`).join(', ');

/** Trigger name → `AFTER <event> ON <table>` and its body. */
export const SERVER_VERSION_TRIGGERS_MYSQL: Record<string, [string, string]> = {
  server_version_server_insert: ['INSERT ON `server`', `BEGIN INSERT IGNORE INTO ${T} (\`serverId\`, \`shard\`, \`version\`) VALUES ${rows('NEW.`id`')}; ${bump('`serverId` = NEW.`id`')}; END`],
  server_version_server_update: ['UPDATE ON `server`', `${bump('`serverId` = NEW.`id`')} AND (${changed('server')})`],
  server_version_server_bridge_insert: ['INSERT ON `server_bridge`', bump('`serverId` = NEW.`serverId`')],
  server_version_server_bridge_update: ['UPDATE ON `server_bridge`', `${bump('`serverId` IN (OLD.`serverId`, NEW.`serverId`)')} AND (${changed('server_bridge')})`],
  server_version_server_bridge_delete: ['DELETE ON `server_bridge`', bump('`serverId` = OLD.`serverId`')],
  server_version_virtual_machine_insert: ['INSERT ON `virtual_machine`', bump('`serverId` = NEW.`serverId`')],
  server_version_virtual_machine_update: ['UPDATE ON `virtual_machine`', `${bump('`serverId` IN (OLD.`serverId`, NEW.`serverId`)')} AND (${changed('virtual_machine')})`],
  server_version_virtual_machine_delete: ['DELETE ON `virtual_machine`', bump('`serverId` = OLD.`serverId`')],
  server_version_vm_interface_insert: ['INSERT ON `vm_interface`', bump(vmServers('NEW.`vmId`'))],
  server_version_vm_interface_update: ['UPDATE ON `vm_interface`', `${bump(vmServers('OLD.`vmId`, NEW.`vmId`'))} AND (${changed('vm_interface')})`],
  server_version_vm_interface_delete: ['DELETE ON `vm_interface`', bump(vmServers('OLD.`vmId`'))],
  server_version_project_owner_insert: ['INSERT ON `project_owner`', bump(allServers)],
  server_version_project_owner_update: ['UPDATE ON `project_owner`', `${bump(allServers)} AND (${changed('project_owner')})`],
  server_version_project_owner_delete: ['DELETE ON `project_owner`', bump(allServers)],
};

export class ServerListingVersionMysql1796450000000 implements MigrationInterface {
  name = 'ServerListingVersionMysql1796450000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE ${T} (\`serverId\` int NOT NULL, \`shard\` int NOT NULL, \`version\` bigint NOT NULL DEFAULT '0', PRIMARY KEY (\`serverId\`, \`shard\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    await queryRunner.query(`INSERT INTO ${T} (\`serverId\`, \`shard\`, \`version\`) SELECT s.\`id\`, n.\`shard\`, IF(n.\`shard\` = 0, 1, 0) FROM \`server\` s CROSS JOIN \`inventory_version\` n`);
    for (const [name, [on, body]] of Object.entries(SERVER_VERSION_TRIGGERS_MYSQL)) {
      await queryRunner.query(`CREATE TRIGGER \`${name}\` AFTER ${on} FOR EACH ROW ${body}`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const name of Object.keys(SERVER_VERSION_TRIGGERS_MYSQL).reverse()) await queryRunner.query(`DROP TRIGGER \`${name}\``);
    await queryRunner.query(`DROP TABLE ${T}`);
  }
}
