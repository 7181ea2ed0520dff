/**
 * Concurrent address allocation and release (docs/architecture.md decision 7, docs/decisions/008), on both engines
 * (`[sqlite]`, `[mysql]`: a fresh MariaDB/MySQL database per test, testing/test-databases.ts): many creates at once
 * through the real ProvisioningService (MAC + IPv4 in one transaction, after other reads), creates racing deletes,
 * and, on MySQL, two manager processes (two connection pools) allocating from one range.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { ConflictError } from '@kvm-crm/shared';
import { openDatabase } from '../../dist/db/data-source.js';
import { Ipv4Slot } from '../../dist/db/entities/ipv4-slot.js';
import { MacSlot } from '../../dist/db/entities/mac-slot.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { VmInterface } from '../../dist/db/entities/vm-interface.js';
import { createMysqlTestDatabase, engineAvailable, forEachEngine } from '../../dist/testing/test-databases.js';
import { TransactionRunner } from '../../dist/db/transaction-runner.js';
import { ipv4ToInt } from '../../dist/services/addresses.js';
import { InventoryService } from '../../dist/services/inventory-service.js';
import { IpamService, type Ipv4Lease } from '../../dist/services/ipam-service.js';
import { addHost, agentStatus, CLIENT_CB, createAction, lifecycleAction, openWorld, provisionVm, query, SERVER_UUID, waitFor, type World } from '../../dist/testing/fakes.js';

/** Every VM NIC's MAC and IP, and the slot rows: no address twice, slots and NICs agree. */
async function assertConsistent(w: World, expectedVms: number): Promise<void> {
  const ds = w.tx.dataSource;
  const nics = await ds.getRepository(VmInterface).find();
  const macs = nics.map((n) => n.mac);
  const ips = nics.map((n) => n.ip).filter((ip): ip is string => ip !== null);
  assert.equal(await ds.getRepository(VirtualMachine).count(), expectedVms);
  assert.equal(new Set(macs).size, macs.length, 'no MAC on two NICs');
  assert.equal(new Set(ips).size, ips.length, 'no IPv4 address on two NICs');
  assert.equal(ips.length, expectedVms, 'one IPv4 address per VM (management NIC)');
  assert.equal(macs.length, expectedVms * 2, 'two NICs per VM (br-mgmt, br-data)');
  assert.equal(await ds.getRepository(Ipv4Slot).countBy({ excluded: false }), ips.length, 'every IPv4 slot belongs to a NIC');
  assert.equal(await ds.getRepository(MacSlot).countBy({ excluded: false }), macs.length, 'every MAC slot belongs to a NIC');
}

forEachEngine('60 creates at once on a host with 49 IPv4 addresses: 49 reach the agent with distinct addresses, 11 FAILED "IPv4 pool exhausted"', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20); // 10.20.0.2–.50, MACs 02:00:0a:14:00:00–ff
  const actions = Array.from({ length: 60 }, (_, i) => createAction({ name: `vm${i}` }));
  const submitted = await Promise.all(actions.map((a) => w.provisioning.submit(CLIENT_CB, query(a))));
  const refused = (await Promise.all(submitted.map((s) => s.handedOver))).flatMap((m) => [...m.values()]);
  assert.equal(refused.length, 11, 'an exhausted create is refused before anything is stored');
  for (const reason of refused) assert.match(reason, /^IPv4 pool exhausted/);
  assert.equal(w.agent.sent.length, 49);
  await waitFor('11 FAILED statuses', () => w.notifier.statuses().filter((s) => s.status === 'FAILED').length === 11);
  for (const s of w.notifier.statuses()) {
    assert.equal(s.status, 'FAILED');
    assert.match(s.description ?? '', /^IPv4 pool exhausted/);
  }
  await assertConsistent(w, 49);
  const ips = (await w.tx.dataSource.getRepository(VmInterface).find()).map((n) => n.ip).filter((ip): ip is string => ip !== null);
  assert.deepEqual(ips.map(ipv4ToInt).sort((a, b) => a - b), Array.from({ length: 49 }, (_, i) => ipv4ToInt('10.20.0.2') + i), 'the whole range, lowest first');
});

forEachEngine('deletes releasing addresses while creates allocate: every action ends well, no address twice, nothing leaked', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 21);
  const existing = [];
  for (let i = 0; i < 30; i++) existing.push(await provisionVm(w, { name: `old${i}` }));
  const deletes = existing.slice(0, 15).map((a) => lifecycleAction('delete', a.vmUuid));
  const sentBefore = w.agent.sent.length;
  await (await w.provisioning.submit(CLIENT_CB, query(...deletes))).handedOver;
  await waitFor('the deletes at the agent', () => w.agent.sent.length === sentBefore + 15);

  // 30 - 15 + 19 = 34 VMs at the end, and at most 30 + 19 = 49 at any moment: every create must succeed.
  const creates = Array.from({ length: 19 }, (_, i) => createAction({ name: `new${i}` }));
  const outcome = await Promise.all([
    ...deletes.map(async (d) => w.provisioning.handleAgentStatus(agentStatus(d.id, 'SUCCESS')).then(() => new Map<string, string>())),
    ...creates.map(async (c) => (await w.provisioning.submit(CLIENT_CB, query(c))).handedOver),
  ]);
  assert.deepEqual(outcome.flatMap((m) => [...m.values()]), [], 'no create refused');
  await waitFor('every delete SUCCESS forwarded', () => deletes.every((d) => w.notifier.of(d.id).some((s) => s.status === 'SUCCESS')));
  assert.deepEqual(w.notifier.statuses().filter((s) => s.status === 'FAILED'), [], 'no create failed');
  assert.equal(w.agent.sent.length, sentBefore + 15 + 19);
  await assertConsistent(w, 34);
});

test('[mysql] two manager processes (two connection pools) allocating 25 each from one 40-address range: 40 distinct, 10 exhausted', async (t) => {
  if (!(await engineAvailable(t, 'mysql'))) return;
  const db = await createMysqlTestDatabase();
  t.after(db.drop);
  const [a, b] = [await openDatabase(db.options), await openDatabase(db.options)];
  t.after(async () => {
    await a.destroy();
    await b.destroy();
  });
  const inventory = new InventoryService(new TransactionRunner(a));
  const server = await inventory.registerServer({ name: 'host1', agentUrl: 'https://host1.example:9229/', agentPassword: 'pw', bridges: [{ name: 'br0' }] });
  await inventory.addIpv4Range({ name: 'v4', start: '10.9.0.1', end: '10.9.0.40', netmask: '255.255.255.0' });
  await inventory.subscribe('host1', 'ipv4', 'v4');
  const ipam = new IpamService();
  const managers = [new TransactionRunner(a), new TransactionRunner(b)];
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, (_, i) => managers[i % 2]!.run((em) => ipam.allocateIpv4(em, server.id, randomUUID()))),
  );
  const ok = results.filter((r): r is PromiseFulfilledResult<Ipv4Lease> => r.status === 'fulfilled').map((r) => r.value.address);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
  assert.equal(new Set(ok).size, 40);
  assert.equal(ok.length, 40);
  assert.equal(failed.length, 10);
  for (const err of failed) assert.ok(err instanceof ConflictError && err.message.startsWith('IPv4 pool exhausted'), String(err));
  assert.equal(await a.getRepository(Ipv4Slot).count(), 40);
});

test('[mysql] a release of an address at the cursor holds the range lock: a concurrent create waits and then takes the freed address (lowest free)', { timeout: 60_000 }, async (t) => {
  if (!(await engineAvailable(t, 'mysql'))) return;
  const db = await createMysqlTestDatabase();
  t.after(db.drop);
  const ds = await openDatabase(db.options);
  const releaser = ds.createQueryRunner();
  t.after(async () => {
    if (releaser.isTransactionActive) await releaser.rollbackTransaction();
    await releaser.release();
    await ds.destroy();
  });
  const tx = new TransactionRunner(ds);
  const inventory = new InventoryService(tx);
  const server = await inventory.registerServer({ name: 'host1', agentUrl: 'https://host1.example:9229/', agentPassword: 'pw', bridges: [{ name: 'br0' }] });
  await inventory.addIpv4Range({ name: 'v4', start: '10.9.0.1', end: '10.9.0.40', netmask: '255.255.255.0' });
  await inventory.subscribe('host1', 'ipv4', 'v4');
  const ipam = new IpamService();
  const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  assert.equal((await tx.run((em) => ipam.allocateIpv4(em, server.id, a))).address, '10.9.0.1');
  assert.equal((await tx.run((em) => ipam.allocateIpv4(em, server.id, b))).address, '10.9.0.2');
  assert.equal((await tx.run((em) => ipam.reserveIpv4(em, server, c, '10.9.0.4'))).address, '10.9.0.4');
  assert.equal((await tx.run((em) => ipam.allocateIpv4(em, server.id, d))).address, '10.9.0.3'); // cursor now .4, which c holds
  // c's release is under way (not committed): its slot .4 still looks taken to other transactions' reads.
  await releaser.startTransaction('READ COMMITTED');
  assert.equal(await ipam.releaseAll(releaser.manager, c), 1);
  let settled = false;
  const create = tx.run((em) => ipam.allocateIpv4(em, server.id, randomUUID())).finally(() => { settled = true; });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(settled, false, 'the create waits for the range row the release holds');
  await releaser.commitTransaction();
  assert.equal((await create).address, '10.9.0.4', 'the freed address, not one past it');
});
