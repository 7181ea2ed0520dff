/**
 * SQLite migration: the per-server listing version (decision 035). Table `server_listing_version` (one row per server
 * here: shard 0; SQLite has one writer at a time) and triggers, beside the inventory-version triggers of 031, that
 * bump the row of every server whose `<server>` element of the information document a change touches: the server's
 * listed columns, its bridges, its VMs (old and new server when a VM moves), their NICs, and the ownership of the
 * projects of its VMs (a principal's view). Rows of deleted servers stay, so a reused id never starts from a version
 * a cached piece was built at. The listed columns are those of migration 1796440000000.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { changed } from './1796440000000-inventory-version.js';

const T = '"server_listing_version"';
/** Bumps the servers chosen by the SQL condition `where` (on `serverId`). */
const bump = (where: string) => `UPDATE ${T} SET "version" = "version" + 1 WHERE "shard" = 0 AND ${where};`;
const vmServers = (vmIds: string) => `"serverId" IN (SELECT "serverId" FROM "virtual_machine" WHERE "id" IN (${vmIds}))`;
const projectServers = (projectIds: string) => `"serverId" IN (SELECT "serverId" FROM "virtual_machine" WHERE "projectId" IN (${projectIds}))`;

/** Trigger name → `AFTER <event> ON <table> [WHEN …]` and its body. */
export const SERVER_VERSION_TRIGGERS_SQLITE: Record<string, [string, string]> = {
  server_version_server_insert: ['INSERT ON "server"', `INSERT OR IGNORE INTO ${T} ("serverId", "shard", "version") VALUES (NEW."id", 0, 0); ${bump('"serverId" = NEW."id"')}`],
  server_version_server_update: [`UPDATE ON "server" FOR EACH ROW WHEN ${changed('server')}`, bump('"serverId" = NEW."id"')],
  server_version_server_bridge_insert: ['INSERT ON "server_bridge"', bump('"serverId" = NEW."serverId"')],
  server_version_server_bridge_update: [`UPDATE ON "server_bridge" FOR EACH ROW WHEN ${changed('server_bridge')}`, bump('"serverId" IN (OLD."serverId", NEW."serverId")')],
  server_version_server_bridge_delete: ['DELETE ON "server_bridge"', bump('"serverId" = OLD."serverId"')],
  server_version_virtual_machine_insert: ['INSERT ON "virtual_machine"', bump('"serverId" = NEW."serverId"')],
  server_version_virtual_machine_update: [`UPDATE ON "virtual_machine" FOR EACH ROW WHEN ${changed('virtual_machine')}`, bump('"serverId" IN (OLD."serverId", NEW."serverId")')],
  server_version_virtual_machine_delete: ['DELETE ON "virtual_machine"', bump('"serverId" = OLD."serverId"')],
  server_version_vm_interface_insert: ['INSERT ON "vm_interface"', bump(vmServers('NEW."vmId"'))],
  server_version_vm_interface_update: [`UPDATE ON "vm_interface" FOR EACH ROW WHEN ${changed('vm_interface')}`, bump(vmServers('OLD."vmId", NEW."vmId"'))],
  server_version_vm_interface_delete: ['DELETE ON "vm_interface"', bump(vmServers('OLD."vmId"'))],
  server_version_project_owner_insert: ['INSERT ON "project_owner"', bump(projectServers('NEW."projectId"'))],
  server_version_project_owner_update: [`UPDATE ON "project_owner" FOR EACH ROW WHEN ${changed('project_owner')}`, bump(projectServers('OLD."projectId", NEW."projectId"'))],
  server_version_project_owner_delete: ['DELETE ON "project_owner"', bump(projectServers('OLD."projectId"'))],
};

export class ServerListingVersionSqlite1796450000000 implements MigrationInterface {
  name = 'ServerListingVersionSqlite1796450000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE ${T} ("serverId" integer NOT NULL, "shard" integer NOT NULL, "version" bigint NOT NULL DEFAULT (0), PRIMARY KEY ("serverId", "shard"))`);
    await queryRunner.query(`INSERT INTO ${T} ("serverId", "shard", "version") SELECT "id", 0, 1 FROM "server"`);
    for (const [name, [on, body]] of Object.entries(SERVER_VERSION_TRIGGERS_SQLITE)) {
      await queryRunner.query(`CREATE TRIGGER "${name}" AFTER ${on} BEGIN ${body} END`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const name of Object.keys(SERVER_VERSION_TRIGGERS_SQLITE).reverse()) await queryRunner.query(`DROP TRIGGER "${name}"`);
    await queryRunner.query(`DROP TABLE ${T}`);
  }
}
