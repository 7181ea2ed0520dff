/**
 * listResources reads committed snapshots (decision 031, review findings H1, H2, M4), on SQLite files and
 * MariaDB/MySQL (`[sqlite]`/`[mysql]`):
 * - SQLite: a listing made while a writer's transaction is open does not see (and cache) its uncommitted rows; after
 *   that transaction rolls back, the next commit's version is not served from a document with the rolled-back row;
 * - a VM moved from an already-read server to a later one while the document is built appears once (one snapshot
 *   for every page; on MariaDB the REPEATABLE READ path);
 * - every listing trigger exists after all migrations, and a missing one is reported by name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import test from 'node:test';
import type { DataSource, EntityManager } from 'typeorm';
import { openDatabase } from '../../dist/db/data-source.js';
import { TransactionRunner } from '../../dist/db/transaction-runner.js';
import { assertListingTriggers, LISTING_TRIGGERS, missingListingTriggers } from '../../dist/db/listing-triggers.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { forEachEngine, openTestDatabase, type Engine } from '../../dist/testing/test-databases.js';
import { seedInventory } from '../../dist/testing/inventory-seed.js';
import { InformationService } from '../../dist/services/information-service.js';
import { ListingRepository } from '../../dist/repositories/listing-repository.js';
import { ServerRepository } from '../../dist/repositories/server-repository.js';

const PROJECTS: Array<[string, string]> = [['aaaaaaaa-0000-4000-8000-000000000001', 'alice']];

/** A migrated database: SQLite in a file of a fresh temporary directory (WAL, as the manager runs), or MySQL. */
async function openDb(t: TestContext, engine: Engine): Promise<DataSource> {
  if (engine === 'mysql') return openTestDatabase(t, 'mysql');
  const dir = mkdtempSync(join(tmpdir(), 'kvmcrm-listing-snapshot-'));
  let ds: DataSource | undefined;
  t.after(async () => {
    if (ds?.isInitialized) await ds.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  ds = await openDatabase({ type: 'sqlite', path: join(dir, 'manager.db') });
  return ds;
}

/** An InformationService on `ds`, closed when `t` ends (before the database: hooks run last registered first). */
function infoFor(t: TestContext, ds: DataSource, options: ConstructorParameters<typeof InformationService>[1] = {}): InformationService {
  const info = new InformationService(ds, options);
  t.after(() => info.close());
  return info;
}

function addServer(em: EntityManager, name: string): Promise<unknown> {
  return new ServerRepository(em).createWithBridges({
    uuid: `bbbbbbbb-0000-4000-8000-${name.length.toString().padStart(4, '0')}${Date.now().toString().slice(-8)}`, name, agentUrl: `https://${name}.example:9229/`, agentPassword: 'pw',
    legacy: false, operatingSystemType: 'GNU/Linux', operatingSystemDistribution: 'Debian', operatingSystemVersion: '12', bridges: [{ name: 'br-mgmt', isMgmt: true, switchPort: null }],
  });
}

test('[sqlite] a listing made inside a transaction that rolls back is not served for the next commit\'s version', async (t) => {
  const ds = await openDb(t, 'sqlite');
  const tx = new TransactionRunner(ds);
  const info = infoFor(t, ds);
  await seedInventory(tx, { servers: 2, vms: 4, projects: PROJECTS, seed: 31, prefix: 'snap-' });
  await info.listResources('0');
  let during = '';
  await assert.rejects(tx.run(async (em) => {
    await addServer(em, 'snap-rolled-back');
    [, during] = await info.listResources('0');
    throw new Error('unit fails: rolled back');
  }), /rolled back/);
  assert.ok(during.includes('snap-h0'), 'the listing made during the transaction is a document');
  assert.ok(!during.includes('snap-rolled-back'), 'the listing made during the transaction shows no uncommitted row');
  await tx.run((em) => addServer(em, 'snap-committed'));
  const [, after] = await info.listResources('0');
  assert.ok(after.includes('snap-committed'), 'the committed server is listed');
  assert.ok(!after.includes('snap-rolled-back'), 'the rolled-back server is not listed');
});

forEachEngine('a VM moved to a later server while the document is built appears once (one snapshot for every page)', async (t, engine) => {
  const ds = await openDb(t, engine);
  const tx = new TransactionRunner(ds);
  const info = infoFor(t, ds, { serversPerPage: 1, sliceMs: 0 });
  await seedInventory(tx, { servers: 3, vms: 12, projects: PROJECTS, seed: 7, prefix: 'move-' });
  const vms = await ds.getRepository(VirtualMachine).find({ order: { serverId: 'ASC', id: 'ASC' } });
  const firstServer = vms[0]!.serverId;
  const lastServer = Math.max(...vms.map((v) => v.serverId));
  assert.notEqual(firstServer, lastServer);
  const moved = vms[0]!;
  // after the build read the first page (the moved VM's server), the VM moves to the last server and commits
  const original = ListingRepository.prototype.vmsOnServers;
  t.after(() => { ListingRepository.prototype.vmsOnServers = original; });
  let pages = 0;
  ListingRepository.prototype.vmsOnServers = async function (this: ListingRepository, ...args: Parameters<typeof original>) {
    const rows = await original.apply(this, args);
    if (++pages === 1) await tx.run((em) => em.update(VirtualMachine, { id: moved.id }, { serverId: lastServer }));
    return rows;
  };
  const { xml } = await info.information();
  assert.ok(pages >= 3, `the build read one page per server (${pages})`);
  assert.equal(xml.split(moved.uuid).length - 1, 1, 'the moved VM is listed once');
  ListingRepository.prototype.vmsOnServers = original;
  const { xml: next } = await info.information();
  assert.equal(next.split(moved.uuid).length - 1, 1, 'and once in the next document');
  assert.notEqual(next, xml, 'the next document shows the move');
});

forEachEngine('every listing trigger exists after all migrations; a missing one is named', async (t, engine) => {
  const ds = await openTestDatabase(t, engine);
  assert.deepEqual(await missingListingTriggers(ds), []);
  assert.equal(LISTING_TRIGGERS.length, 29);
  await assertListingTriggers(ds);
  await ds.query(engine === 'mysql' ? 'DROP TRIGGER `inventory_version_vm_interface_update`' : 'DROP TRIGGER "inventory_version_vm_interface_update"');
  assert.deepEqual(await missingListingTriggers(ds), ['inventory_version_vm_interface_update']);
  await assert.rejects(assertListingTriggers(ds), /lacks 1 listing-version trigger\(s\) \(inventory_version_vm_interface_update\)/);
});
