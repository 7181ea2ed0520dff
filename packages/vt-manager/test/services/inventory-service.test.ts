/**
 * Unit tests of InventoryService (fakes for unit tests: none are needed, no port is involved). Every test runs on
 * both real engines (`[sqlite]`: `:memory:`; `[mysql]`: a fresh MariaDB/MySQL database, see
 * testing/test-databases.ts), a fresh database per test.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared';
import { Ipv4Range } from '../../dist/db/entities/ipv4-range.js';
import { Ipv4Slot } from '../../dist/db/entities/ipv4-slot.js';
import { MacRange } from '../../dist/db/entities/mac-range.js';
import { RangeSubscription } from '../../dist/db/entities/range-subscription.js';
import { Server } from '../../dist/db/entities/server.js';
import { forEachEngine, openTestDatabase, type Engine } from '../../dist/testing/test-databases.js';
import { TransactionRunner } from '../../dist/db/transaction-runner.js';
import { ipv4ToInt } from '../../dist/services/addresses.js';
import { InventoryService, type ServerRegistration } from '../../dist/services/inventory-service.js';

async function setup(t: TestContext, engine: Engine): Promise<{ tx: TransactionRunner; inv: InventoryService }> {
  const ds = await openTestDatabase(t, engine);
  const tx = new TransactionRunner(ds);
  return { tx, inv: new InventoryService(tx) };
}

const SERVER: ServerRegistration = {
  name: 'kvm-host-1',
  agentUrl: 'https://kvm-host-1.example:9229/',
  agentPassword: 'secret',
  bridges: [{ name: 'br-mgmt' }, { name: 'br-data', switchPort: 'ge-0/0/1' }],
};

/** Asserts `p` rejects with an error of `cls` whose message matches `message`. */
async function rejectsWith(p: Promise<unknown>, cls: new (...a: never[]) => Error, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

forEachEngine('registerServer stores the server and its bridges, the first bridge as mgmt unless one is flagged', async (t, engine) => {
  const { tx, inv } = await setup(t, engine);
  const s = await inv.registerServer({ ...SERVER, uuid: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE' });
  assert.equal(s.uuid, 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', 'uuid lower-cased');
  const got = await tx.run((em) => inv.getServer(em, 'kvm-host-1'));
  assert.equal(got.agentUrl, 'https://kvm-host-1.example:9229/');
  assert.equal(got.legacy, false);
  assert.deepEqual(got.bridges.map((b) => [b.name, b.isMgmt, b.switchPort]), [['br-mgmt', true, null], ['br-data', false, 'ge-0/0/1']]);

  const s2 = await inv.registerServer({ ...SERVER, name: 'kvm-host-2', bridges: [{ name: 'br0' }, { name: 'br1', isMgmt: true }] });
  const got2 = await tx.run((em) => inv.getServer(em, s2.uuid));
  assert.deepEqual(got2.bridges.map((b) => [b.name, b.isMgmt]), [['br1', true], ['br0', false]], 'getServer lists mgmt first');

  const legacy = await inv.registerServer({ ...SERVER, name: 'old-host', agentUrl: 'http://old-host.example:9229/', legacy: true });
  assert.equal(legacy.legacy, true, 'plain http is allowed for a legacy server');
  assert.deepEqual((await tx.run((em) => inv.listServers(em))).map((x) => x.name), ['kvm-host-1', 'kvm-host-2', 'old-host']);
});

forEachEngine('registerServer rejects bad input with InputError and stores nothing', async (t, engine) => {
  const { tx, inv } = await setup(t, engine);
  await rejectsWith(inv.registerServer({ ...SERVER, name: 'bad name' }), InputError, /^invalid server name: "bad name"$/);
  await rejectsWith(inv.registerServer({ ...SERVER, name: '-leading-dash' }), InputError, /invalid server name/);
  await rejectsWith(inv.registerServer({ ...SERVER, name: '../etc' }), InputError, /invalid server name/);
  await rejectsWith(inv.registerServer({ ...SERVER, name: 'a'.repeat(64) }), InputError, /invalid server name/);
  await rejectsWith(inv.registerServer({ ...SERVER, uuid: 'not-a-uuid' }), InputError, /invalid server uuid/);
  await rejectsWith(inv.registerServer({ ...SERVER, agentUrl: 'http://kvm-host-1.example:9229/' }), InputError, /plain http:\/\/ agent URLs are only allowed for servers registered as legacy/);
  await rejectsWith(inv.registerServer({ ...SERVER, agentUrl: 'https://admin:hunter2@kvm-host-1.example:9229/' }), InputError, /must not carry credentials/);
  await rejectsWith(inv.registerServer({ ...SERVER, agentUrl: 'ftp://kvm-host-1.example/' }), InputError, /unsupported URL scheme/);
  await rejectsWith(inv.registerServer({ ...SERVER, agentUrl: 'not a url' }), InputError, /not a valid URL/);
  await rejectsWith(inv.registerServer({ ...SERVER, agentPassword: '' }), InputError, /agent password must be 1-128 characters/);
  await rejectsWith(inv.registerServer({ ...SERVER, agentPassword: 'x'.repeat(129) }), InputError, /agent password must be 1-128 characters/);
  await rejectsWith(inv.registerServer({ ...SERVER, bridges: [] }), InputError, /at least one bridge/);
  await rejectsWith(inv.registerServer({ ...SERVER, bridges: [{ name: 'br;rm -rf /' }] }), InputError, /invalid bridge name/);
  await rejectsWith(inv.registerServer({ ...SERVER, bridges: [{ name: 'a-very-long-bridge' }] }), InputError, /invalid bridge name/);
  await rejectsWith(inv.registerServer({ ...SERVER, bridges: [{ name: 'br0' }, { name: 'br0' }] }), InputError, /bridge br0 listed twice/);
  assert.equal(await tx.dataSource.getRepository(Server).count(), 0);
});

forEachEngine('a duplicate server name or uuid is a ConflictError and leaves the first server untouched', async (t, engine) => {
  const { tx, inv } = await setup(t, engine);
  const first = await inv.registerServer(SERVER);
  await rejectsWith(inv.registerServer({ ...SERVER, agentUrl: 'https://other.example:9229/' }), ConflictError, /a server named kvm-host-1 or with uuid .* exists/);
  await rejectsWith(inv.registerServer({ ...SERVER, name: 'other', uuid: first.uuid }), ConflictError, /exists/);
  const servers = await tx.run((em) => inv.listServers(em));
  assert.equal(servers.length, 1);
  assert.equal(servers[0]!.agentUrl, 'https://kvm-host-1.example:9229/');
  assert.equal(servers[0]!.bridges.length, 2);
});

forEachEngine('addIpv4Range validates addresses, size and excluded addresses', async (t, engine) => {
  const { tx, inv } = await setup(t, engine);
  const base = { name: 'v4', start: '10.0.0.1', end: '10.0.0.100', netmask: '255.255.255.0' };
  await rejectsWith(inv.addIpv4Range({ ...base, name: 'bad/name' }), InputError, /invalid range name/);
  await rejectsWith(inv.addIpv4Range({ ...base, start: '10.0.0.256' }), InputError, /not an IPv4 address/);
  await rejectsWith(inv.addIpv4Range({ ...base, netmask: '255.0.255.0' }), InputError, /not a contiguous netmask/);
  await rejectsWith(inv.addIpv4Range({ ...base, gateway: 'gw.example' }), InputError, /gateway is not an IPv4 address/);
  await rejectsWith(inv.addIpv4Range({ ...base, start: '10.0.0.100', end: '10.0.0.1' }), InputError, /range start is after its end/);
  await rejectsWith(inv.addIpv4Range({ ...base, start: '10.0.0.0', end: '10.1.0.0' }), InputError, /range too large: at most 65536/);
  await rejectsWith(inv.addIpv4Range({ ...base, excluded: ['10.0.0.50', '10.0.1.1'] }), InputError, /^excluded address 10\.0\.1\.1 is outside the range$/);
  assert.equal(await tx.dataSource.getRepository(Ipv4Range).count(), 0);
  assert.equal(await tx.dataSource.getRepository(Ipv4Slot).count(), 0);

  const r = await inv.addIpv4Range({ ...base, gateway: '10.0.0.1', excluded: ['10.0.0.1', '10.0.0.2', '10.0.0.1'] });
  assert.equal(r.startAddress, ipv4ToInt('10.0.0.1'));
  assert.equal(r.endAddress, ipv4ToInt('10.0.0.100'));
  const slots = await tx.dataSource.getRepository(Ipv4Slot).find({ order: { address: 'ASC' } });
  assert.deepEqual(slots.map((s) => [s.address, s.excluded, s.vmUuid]), [[ipv4ToInt('10.0.0.1'), true, null], [ipv4ToInt('10.0.0.2'), true, null]], 'duplicates collapsed');
  const listed = await tx.run((em) => inv.listRanges(em));
  assert.deepEqual(listed, [{ kind: 'ipv4', name: 'v4', start: '10.0.0.1', end: '10.0.0.100', netmask: '255.255.255.0', gateway: '10.0.0.1', size: 100, allocated: 0, excluded: 2 }]);
});

forEachEngine('overlapping or same-named ranges are ConflictErrors', async (t, engine) => {
  const { tx, inv } = await setup(t, engine);
  await inv.addIpv4Range({ name: 'v4', start: '10.0.0.10', end: '10.0.0.20', netmask: '255.255.255.0' });
  await rejectsWith(inv.addIpv4Range({ name: 'v4b', start: '10.0.0.20', end: '10.0.0.30', netmask: '255.255.255.0' }), ConflictError, /^range overlaps v4$/);
  await rejectsWith(inv.addIpv4Range({ name: 'v4c', start: '10.0.0.1', end: '10.0.0.10', netmask: '255.255.255.0' }), ConflictError, /^range overlaps v4$/);
  await rejectsWith(inv.addIpv4Range({ name: 'v4d', start: '10.0.0.12', end: '10.0.0.13', netmask: '255.255.255.0' }), ConflictError, /^range overlaps v4$/);
  await rejectsWith(inv.addIpv4Range({ name: 'v4', start: '10.0.1.1', end: '10.0.1.2', netmask: '255.255.255.0' }), ConflictError, /an IPv4 range named v4 exists/);
  await inv.addIpv4Range({ name: 'adjacent', start: '10.0.0.21', end: '10.0.0.30', netmask: '255.255.255.0' });
  assert.equal(await tx.dataSource.getRepository(Ipv4Range).count(), 2);

  await inv.addMacRange({ name: 'm1', start: '02:00:00:00:00:00', end: '02:00:00:00:00:ff' });
  await rejectsWith(inv.addMacRange({ name: 'm2', start: '02:00:00:00:00:80', end: '02:00:00:00:01:ff' }), ConflictError, /^range overlaps m1$/);
  await rejectsWith(inv.addMacRange({ name: 'm1', start: '02:00:00:00:10:00', end: '02:00:00:00:10:ff' }), ConflictError, /a MAC range named m1 exists/);
  assert.equal(await tx.dataSource.getRepository(MacRange).count(), 1);
});

forEachEngine('addMacRange rejects multicast, malformed, reversed and oversized ranges', async (t, engine) => {
  const { tx, inv } = await setup(t, engine);
  await rejectsWith(inv.addMacRange({ name: 'mc', start: '01:00:5e:00:00:00', end: '01:00:5e:00:00:ff' }), InputError, /^MAC range must be unicast \(first octet even\)$/);
  await rejectsWith(inv.addMacRange({ name: 'mc', start: '03:00:00:00:00:00', end: '03:00:00:00:00:01' }), InputError, /unicast/);
  await rejectsWith(inv.addMacRange({ name: 'bad', start: '02:00:00:00:00', end: '02:00:00:00:00:ff' }), InputError, /not a MAC address/);
  await rejectsWith(inv.addMacRange({ name: 'rev', start: '02:00:00:00:00:ff', end: '02:00:00:00:00:00' }), InputError, /range start is after its end/);
  await rejectsWith(inv.addMacRange({ name: 'big', start: '02:00:00:00:00:00', end: '02:00:00:01:00:00' }), InputError, /range too large/);
  await rejectsWith(inv.addMacRange({ name: 'x', start: '02:00:00:00:00:00', end: '02:00:00:00:00:01', excluded: ['zz'] }), InputError, /not a MAC address/);
  assert.equal(await tx.dataSource.getRepository(MacRange).count(), 0);
});

forEachEngine('subscribe: unknown range or server → NotFoundError, twice → ConflictError', async (t, engine) => {
  const { tx, inv } = await setup(t, engine);
  await inv.registerServer(SERVER);
  await inv.addIpv4Range({ name: 'v4', start: '10.0.0.1', end: '10.0.0.9', netmask: '255.255.255.0' });
  await inv.addMacRange({ name: 'macs', start: '02:00:00:00:00:00', end: '02:00:00:00:00:0f' });
  await rejectsWith(inv.subscribe('kvm-host-1', 'ipv4', 'nope'), NotFoundError, /^no ipv4 range "nope"$/);
  await rejectsWith(inv.subscribe('kvm-host-1', 'mac', 'v4'), NotFoundError, /^no mac range "v4"$/, );
  await rejectsWith(inv.subscribe('ghost', 'ipv4', 'v4'), NotFoundError, /^no server "ghost"$/);
  assert.equal(await tx.dataSource.getRepository(RangeSubscription).count(), 0);
  const sub = await inv.subscribe('kvm-host-1', 'ipv4', 'v4', 3);
  assert.equal(sub.kind, 'ipv4');
  assert.equal(sub.priority, 3);
  await rejectsWith(inv.subscribe('kvm-host-1', 'ipv4', 'v4'), ConflictError, /already subscribes to v4/);
  await inv.subscribe('kvm-host-1', 'mac', 'macs');
  assert.equal(await tx.dataSource.getRepository(RangeSubscription).count(), 2);
});
