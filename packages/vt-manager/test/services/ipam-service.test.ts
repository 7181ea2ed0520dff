/**
 * Unit tests of IpamService (fakes for unit tests: none are needed, no port is involved). Every DB test runs on both
 * real engines (`[sqlite]`: `:memory:`; `[mysql]`: a fresh MariaDB/MySQL database, see testing/test-databases.ts), a
 * fresh database per test.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ConflictError } from '@kvm-crm/shared';
import { Ipv4Slot } from '../../dist/db/entities/ipv4-slot.js';
import { MacSlot } from '../../dist/db/entities/mac-slot.js';
import { Ipv4Range } from '../../dist/db/entities/ipv4-range.js';
import { SlotRepository } from '../../dist/repositories/slot-repository.js';
import { TransactionRunner } from '../../dist/db/transaction-runner.js';
import { forEachEngine, openTestDatabase, type Engine } from '../../dist/testing/test-databases.js';
import { ipv4ToInt } from '../../dist/services/addresses.js';
import { InventoryService } from '../../dist/services/inventory-service.js';
import { IpamService, type Ipv4Lease } from '../../dist/services/ipam-service.js';

interface Env {
  tx: TransactionRunner;
  ipam: IpamService;
  inventory: InventoryService;
  serverId: number;
}

async function setup(t: TestContext, engine: Engine, opts: { ipv4?: { start: string; end: string; excluded?: string[] } | null; mac?: { start: string; end: string } | null } = {}): Promise<Env> {
  const ds = await openTestDatabase(t, engine);
  const tx = new TransactionRunner(ds);
  const inventory = new InventoryService(tx);
  const server = await inventory.registerServer({
    name: 'host1', agentUrl: 'https://host1.example:9229/', agentPassword: 'pw', bridges: [{ name: 'br-mgmt' }, { name: 'br-data' }],
  });
  if (opts.ipv4 !== null) {
    const r = opts.ipv4 ?? { start: '10.0.0.1', end: '10.0.0.10' };
    await inventory.addIpv4Range({ name: 'v4', start: r.start, end: r.end, netmask: '255.255.255.0', gateway: '10.0.0.254', dns1: '10.0.0.253', dns2: '9.9.9.9', excluded: r.excluded });
    await inventory.subscribe('host1', 'ipv4', 'v4');
  }
  if (opts.mac !== null) {
    const r = opts.mac ?? { start: '02:00:0a:00:00:00', end: '02:00:0a:00:00:0f' };
    await inventory.addMacRange({ name: 'macs', start: r.start, end: r.end });
    await inventory.subscribe('host1', 'mac', 'macs');
  }
  return { tx, ipam: new IpamService(), inventory, serverId: server.id };
}

forEachEngine('allocateIpv4 hands out lowest-free addresses with the range settings, skipping excluded ones', async (t, engine) => {
  const env = await setup(t, engine, { ipv4: { start: '10.0.0.1', end: '10.0.0.5', excluded: ['10.0.0.1', '10.0.0.3'] } });
  const vmA = randomUUID();
  const vmB = randomUUID();
  const a = await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, vmA));
  assert.deepEqual(a, { address: '10.0.0.2', netmask: '255.255.255.0', gateway: '10.0.0.254', dns1: '10.0.0.253', dns2: '9.9.9.9' });
  const b = await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, vmB));
  assert.equal(b.address, '10.0.0.4', '10.0.0.3 is excluded');
  const c = await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, vmB));
  assert.equal(c.address, '10.0.0.5');
  await assert.rejects(
    env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID())),
    (err: unknown) => err instanceof ConflictError && err.message === 'IPv4 pool exhausted: no free address in 1 subscribed range(s)',
  );

  const slots = env.tx.dataSource.getRepository(Ipv4Slot);
  assert.deepEqual((await slots.find({ where: { vmUuid: vmB }, order: { address: 'ASC' } })).map((s) => s.address), [ipv4ToInt('10.0.0.4'), ipv4ToInt('10.0.0.5')]);

  // Release B: its two addresses come back; A's and the excluded ones stay.
  assert.equal(await env.tx.run((em) => env.ipam.releaseAll(em, vmB)), 2);
  assert.equal(await env.tx.run((em) => env.ipam.releaseAll(em, vmB)), 0, 'idempotent');
  assert.equal(await slots.countBy({ excluded: true }), 2, 'excluded addresses are never released');
  assert.equal(await slots.countBy({ vmUuid: vmA }), 1);
  const d = await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID()));
  assert.equal(d.address, '10.0.0.4', 'released address is reused, lowest first');
});

forEachEngine('allocateMac hands out lowest-free MACs in lower-case colon form and releases them', async (t, engine) => {
  const env = await setup(t, engine, { mac: { start: '02:00:0A:00:00:FE', end: '02:00:0a:00:01:00' } });
  const vm = randomUUID();
  const macs: string[] = [];
  for (let i = 0; i < 3; i++) macs.push(await env.tx.run((em) => env.ipam.allocateMac(em, env.serverId, vm)));
  assert.deepEqual(macs, ['02:00:0a:00:00:fe', '02:00:0a:00:00:ff', '02:00:0a:00:01:00'], 'carries across an octet');
  await assert.rejects(
    env.tx.run((em) => env.ipam.allocateMac(em, env.serverId, randomUUID())),
    (err: unknown) => err instanceof ConflictError && err.message === 'MAC pool exhausted: no free address in 1 subscribed range(s)',
  );
  assert.equal(await env.tx.run((em) => env.ipam.releaseAll(em, vm)), 3);
  assert.equal(await env.tx.dataSource.getRepository(MacSlot).count(), 0);
  assert.equal(await env.tx.run((em) => env.ipam.allocateMac(em, env.serverId, vm)), '02:00:0a:00:00:fe');
});

forEachEngine('a server without subscriptions gets exhaustion errors with the exact prefixes', async (t, engine) => {
  const env = await setup(t, engine, { ipv4: null, mac: null });
  await assert.rejects(
    env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID())),
    (err: unknown) => err instanceof ConflictError && err.message === 'IPv4 pool exhausted: the server subscribes to no IPv4 range',
  );
  await assert.rejects(
    env.tx.run((em) => env.ipam.allocateMac(em, env.serverId, randomUUID())),
    (err: unknown) => err instanceof ConflictError && err.message === 'MAC pool exhausted: the server subscribes to no MAC range',
  );
});

forEachEngine('subscriptions are used in priority order, then the next range when one is full', async (t, engine) => {
  const env = await setup(t, engine, { ipv4: { start: '10.0.0.1', end: '10.0.0.2' } }); // 'v4' at priority 0
  await env.inventory.addIpv4Range({ name: 'first', start: '192.168.5.10', end: '192.168.5.10', netmask: '255.255.0.0', gateway: '192.168.0.1' });
  await env.inventory.subscribe('host1', 'ipv4', 'first', -1);
  const got: string[] = [];
  for (let i = 0; i < 3; i++) got.push((await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID()))).address);
  assert.deepEqual(got, ['192.168.5.10', '10.0.0.1', '10.0.0.2']);
  await assert.rejects(
    env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID())),
    (err: unknown) => err instanceof ConflictError && err.message === 'IPv4 pool exhausted: no free address in 2 subscribed range(s)',
  );
});

forEachEngine('an allocation rolled back with its transaction frees the address again', async (t, engine) => {
  const env = await setup(t, engine);
  await assert.rejects(
    env.tx.run(async (em) => {
      await env.ipam.allocateIpv4(em, env.serverId, randomUUID());
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await env.tx.dataSource.getRepository(Ipv4Slot).count(), 0);
  assert.equal((await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID()))).address, '10.0.0.1');
});

forEachEngine('50 concurrent allocations on a range of 40: exactly 40 distinct addresses and 10 ConflictErrors', async (t, engine) => {
  const env = await setup(t, engine, { ipv4: { start: '10.1.0.1', end: '10.1.0.40' } });
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, () => {
      const vm = randomUUID();
      return env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, vm));
    }),
  );
  const ok = results.filter((r): r is PromiseFulfilledResult<Ipv4Lease> => r.status === 'fulfilled').map((r) => r.value.address);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  assert.equal(ok.length, 40);
  assert.equal(new Set(ok).size, 40, 'no address handed out twice');
  const expected = Array.from({ length: 40 }, (_, i) => `10.1.0.${i + 1}`);
  assert.deepEqual([...ok].sort((a, b) => ipv4ToInt(a) - ipv4ToInt(b)), expected);
  assert.equal(failed.length, 10);
  for (const err of failed) {
    assert.ok(err instanceof ConflictError, String(err));
    assert.ok(err.message.startsWith('IPv4 pool exhausted'), err.message);
  }
  assert.equal(await env.tx.dataSource.getRepository(Ipv4Slot).count(), 40);
});

forEachEngine('the next-free cursor: moves past each allocation, back to a released or re-included address, and stays lowest-free', async (t, engine) => {
  const env = await setup(t, engine, { ipv4: { start: '10.0.0.1', end: '10.0.0.10', excluded: ['10.0.0.1', '10.0.0.2', '10.0.0.8'] } });
  const cursor = async () => (await env.tx.dataSource.getRepository(Ipv4Range).findOneByOrFail({ name: 'v4' })).nextFree;
  assert.equal(await cursor(), null, 'a new range searches from its start');
  const vms = Array.from({ length: 5 }, () => randomUUID());
  const got: string[] = [];
  for (const vm of vms) got.push((await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, vm))).address);
  assert.deepEqual(got, ['10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7'], 'the excluded run at the start and 10.0.0.8 are skipped later');
  assert.equal(await cursor(), ipv4ToInt('10.0.0.8'), 'one past the last allocation');

  // A release below the cursor moves it back: the freed address is the next one handed out, then the search goes on
  // past the taken run (10.0.0.5–10.0.0.8) to 10.0.0.9.
  await env.tx.run((em) => env.ipam.releaseAll(em, vms[1]!));
  assert.equal(await cursor(), ipv4ToInt('10.0.0.4'));
  assert.equal((await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID()))).address, '10.0.0.4');
  assert.equal((await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID()))).address, '10.0.0.9');

  // Re-including an excluded address below the cursor makes it the lowest free one again.
  const rangeId = (await env.tx.dataSource.getRepository(Ipv4Range).findOneByOrFail({ name: 'v4' })).id;
  assert.equal(await env.tx.run((em) => new SlotRepository(em).include('ipv4', rangeId, ipv4ToInt('10.0.0.2'))), true);
  assert.equal(await cursor(), ipv4ToInt('10.0.0.2'));
  assert.equal((await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID()))).address, '10.0.0.2');
  assert.equal((await env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID()))).address, '10.0.0.10');
  await assert.rejects(env.tx.run((em) => env.ipam.allocateIpv4(em, env.serverId, randomUUID())), ConflictError, 'full');
  assert.equal(await cursor(), ipv4ToInt('10.0.0.10') + 1);
});
