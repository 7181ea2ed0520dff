/**
 * Host inventory, capacity accounting and placement (decision record 019) through the real ProvisioningService,
 * admin API and MonitoringService with a fake agent gateway, on both engines (`[sqlite]`, `[mysql]`): facts stored at
 * registration and by monitoring (a legacy agent keeps nulls), a create that does not fit fails before anything is
 * stored, the policies, hosts that are down, disabled or draining, the decision on the action, and 30 concurrent
 * creates on 3 small hosts that never overbook one.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { UpstreamError } from '@kvm-crm/shared';
import { adminApi } from '../../dist/api/admin-api.js';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { Ipv4Slot } from '../../dist/db/entities/ipv4-slot.js';
import { MacSlot } from '../../dist/db/entities/mac-slot.js';
import { Server } from '../../dist/db/entities/server.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import type { PlacementPolicy } from '../../dist/domain/capacity.js';
import { CapacityService } from '../../dist/services/capacity-service.js';
import { HostFactsService } from '../../dist/services/host-facts-service.js';
import { IpamService } from '../../dist/services/ipam-service.js';
import { MonitoringService } from '../../dist/services/monitoring-service.js';
import { PrincipalService } from '../../dist/services/principal-service.js';
import { ProvisioningService } from '../../dist/services/provisioning-service.js';
import { addHostWithFacts, fakeHostFacts } from '../../dist/testing/capacity-fakes.js';
import { addHost, AGENT_CB, agentStatus, CLIENT_CB, createAction, openWorld, query, silentLogger, waitFor, type World } from '../../dist/testing/fakes.js';
import { forEachEngine, type Engine } from '../../dist/testing/test-databases.js';

const RATIOS = { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 };
const UUIDS = ['5e4e0000-0000-4000-8000-00000000000a', '5e4e0000-0000-4000-8000-00000000000b', '5e4e0000-0000-4000-8000-00000000000c'] as const;

/** A provisioning service on `w`'s database and fakes with placement `policy`. */
function provisioningWith(w: World, policy: PlacementPolicy): ProvisioningService {
  return new ProvisioningService(w.tx, new IpamService(), w.agent, w.notifier, { agentCallbackUrl: AGENT_CB, logger: silentLogger(), placementPolicy: policy });
}

/** Submits a create (server `NONE` unless `serverUuid`) and resolves with its refusal reason, or undefined when handed over. */
async function create(p: ProvisioningService, spec: { name: string; memoryMb?: number; vcpus?: number; serverUuid?: string }): Promise<{ id: string; vmUuid: string; refused?: string }> {
  const a = createAction({ serverUuid: 'NONE', ...spec });
  const refused = (await (await p.submit(CLIENT_CB, query(a))).handedOver).get(a.id);
  return { id: a.id, vmUuid: a.vmUuid, ...(refused !== undefined ? { refused } : {}) };
}

/** VM count per server name. */
async function vmsPerHost(w: World): Promise<Record<string, number>> {
  const servers = await w.tx.dataSource.getRepository(Server).find();
  const vms = await w.tx.dataSource.getRepository(VirtualMachine).find();
  return Object.fromEntries(servers.map((s) => [s.name, vms.filter((v) => v.serverId === s.id).length]));
}

async function threeHosts(w: World, facts = {}): Promise<void> {
  for (const [i, uuid] of UUIDS.entries()) await addHostWithFacts(w, `kvm${i + 1}`, uuid, 30 + i, facts);
}

forEachEngine('inventory: registration stores the agent\'s host facts; a legacy agent or a failing one leaves nulls and registers', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const hostFacts = new HostFactsService(w.tx, w.agent, silentLogger());
  const api = adminApi({ inventory: w.inventory, dataSource: w.tx.dataSource, principals: new PrincipalService(w.tx, []), hosts: { tx: w.tx, inventory: w.inventory, capacity: new CapacityService(RATIOS), hostFacts } });
  const ctx = { principal: { name: 'root' } } as Parameters<NonNullable<(typeof api)['server.register']>>[1];
  w.agent.hostInfo.set('kvm1', fakeHostFacts({ cpus: 16, memoryTotalMiB: 64000, storageTotalGiB: 900, bridges: ['virbr0', 'br-mgmt'] }));
  w.agent.hostInfo.set('legacy1', null);
  w.agent.hostInfo.set('broken1', new UpstreamError('connect ECONNREFUSED'));
  for (const name of ['kvm1', 'legacy1', 'broken1']) {
    await api['server.register']!([{ name, agentUrl: `https://${name}.example:9229/`, agentPassword: 'pw', bridges: ['br-mgmt'] }], ctx);
  }
  const rows = await w.tx.dataSource.getRepository(Server).find({ order: { name: 'ASC' } });
  const [broken, kvm1, legacy] = rows;
  assert.ok(broken && kvm1 && legacy);
  assert.deepEqual([kvm1.cpus, kvm1.memoryTotalMiB, kvm1.storageTotalGiB, kvm1.hypervisor, kvm1.bridgesPresent], [16, 64000, 900, 'qemu', 'br-mgmt,virbr0']);
  assert.ok(kvm1.inventoryRefreshedAt, 'refreshedAt set');
  for (const s of [legacy, broken]) assert.deepEqual([s.cpus, s.memoryTotalMiB, s.inventoryRefreshedAt], [null, null, null], s.name);
  const listed = (await api['host.list']!([], ctx)) as Array<{ host: string; cpus: number | null; bridges: string[] }>;
  assert.deepEqual(listed.map((h) => [h.host, h.cpus, h.bridges.length]), [['broken1', null, 0], ['kvm1', 16, 2], ['legacy1', null, 0]]);
});

forEachEngine('inventory: each successful monitoring ping refreshes the host facts; a down host keeps its last facts', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const s = await addHost(w, 'kvm1', UUIDS[0], 30);
  const monitoring = new MonitoringService(w.tx, w.agent, w.notifier, { agentCallbackUrl: AGENT_CB, logger: silentLogger(), failureThreshold: 1, hostFacts: new HostFactsService(w.tx, w.agent, silentLogger()) });
  w.agent.hostInfo.set('kvm1', fakeHostFacts({ memoryFreeMiB: 700 }));
  await monitoring.monitorOnce();
  const rows = w.tx.dataSource.getRepository(Server);
  assert.equal((await rows.findOneByOrFail({ id: s.id })).memoryFreeMiB, 700);
  w.agent.hostInfo.set('kvm1', fakeHostFacts({ memoryFreeMiB: 300 }));
  await monitoring.monitorOnce();
  assert.equal((await rows.findOneByOrFail({ id: s.id })).memoryFreeMiB, 300);
  w.agent.pingFailures.set('kvm1', new UpstreamError('timeout'));
  w.agent.hostInfo.set('kvm1', fakeHostFacts({ memoryFreeMiB: 1 }));
  await monitoring.monitorOnce();
  const down = await rows.findOneByOrFail({ id: s.id });
  assert.deepEqual([down.available, down.memoryFreeMiB], [false, 300]);
  assert.deepEqual(w.agent.hostInfoCalls, ['kvm1', 'kvm1']);
});

forEachEngine('a create that does not fit its named host fails at once with the capacity reason; nothing is stored, no address taken', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHostWithFacts(w, 'kvm2', UUIDS[1], 31, { memoryTotalMiB: 2560 });
  assert.equal((await create(w.provisioning, { name: 'small', memoryMb: 2048, serverUuid: UUIDS[1] })).refused, undefined);
  const big = await create(w.provisioning, { name: 'big', memoryMb: 2048, serverUuid: UUIDS[1] });
  assert.equal(big.refused, 'host kvm2 has 512 MiB free for VMs, 2048 MiB asked');
  const cpu = await create(w.provisioning, { name: 'cpu', memoryMb: 256, vcpus: 9, serverUuid: UUIDS[1] });
  assert.equal(cpu.refused, 'host kvm2 has 7 vCPUs free for VMs, 9 asked');
  const ds = w.tx.dataSource;
  assert.equal(await ds.getRepository(VirtualMachine).count(), 1);
  assert.equal(await ds.getRepository(ActionRecord).countBy({ uuid: big.id }), 0, 'no action row');
  assert.equal(await ds.getRepository(Ipv4Slot).countBy({ excluded: false }), 1, 'only the first VM holds an IPv4 slot');
  assert.equal(await ds.getRepository(MacSlot).countBy({ excluded: false }), 2, 'only the first VM holds MAC slots');
  await waitFor('the FAILED statuses', () => w.notifier.statuses().filter((s) => s.status === 'FAILED').length === 2);
  assert.deepEqual(w.notifier.statuses().filter((s) => s.status === 'FAILED').map((s) => s.description), [big.refused, cpu.refused]);
});

forEachEngine('disk: hd-size-mb plus data disks are counted against storage × ratio; the disk asked is kept on the action', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHostWithFacts(w, 'kvm1', UUIDS[0], 30, { storageTotalGiB: 20, memoryTotalMiB: 8192 });
  const a = createAction({ serverUuid: 'auto', name: 'disky' }); // hd-size-mb 8200
  a.server!.virtualMachines[0]!.xenConfiguration!.dataDisks = [{ sizeMb: 4096 }];
  assert.equal((await (await w.provisioning.submit(CLIENT_CB, query(a))).handedOver).size, 0);
  assert.equal((await w.tx.dataSource.getRepository(ActionRecord).findOneByOrFail({ uuid: a.id })).requestedDiskMb, 8200 + 4096);
  const second = await create(w.provisioning, { name: 'second' });
  assert.equal(second.refused, 'no host can take the VM (256 MiB, 1 vCPUs): host kvm1 has 7.9 GiB free for VMs, 8.1 GiB asked');
});

for (const [policy, expected] of [
  ['spread', { kvm1: 3, kvm2: 3, kvm3: 3 }],
  ['pack', { kvm1: 4, kvm2: 4, kvm3: 1 }],
  ['round-robin', { kvm1: 3, kvm2: 3, kvm3: 3 }],
] as const) {
  forEachEngine(`placement ${policy}: 9 creates without a server on 3 hosts land ${Object.values(expected).join('/')}`, async (t, engine) => {
    const w = await openWorld(t, { engine });
    await threeHosts(w);
    const p = provisioningWith(w, policy);
    const hosts: string[] = [];
    for (let i = 0; i < 9; i++) {
      const c = await create(p, { name: `vm${i}` });
      assert.equal(c.refused, undefined);
      hosts.push(w.agent.sent.at(-1)!.server.name);
    }
    assert.deepEqual(await vmsPerHost(w), expected);
    if (policy === 'round-robin') assert.deepEqual(hosts.slice(0, 4), ['kvm1', 'kvm2', 'kvm3', 'kvm1']);
    if (policy === 'pack') assert.deepEqual(hosts.slice(0, 5), ['kvm1', 'kvm1', 'kvm1', 'kvm1', 'kvm2']);
  });
}

forEachEngine('placement never picks a host that is down, disabled or draining; a named disabled or draining host refuses; the decision is on the action', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await threeHosts(w, { memoryTotalMiB: 8192 });
  const api = adminApi({ inventory: w.inventory, dataSource: w.tx.dataSource, principals: new PrincipalService(w.tx, []), provisioning: w.provisioning, hosts: { tx: w.tx, inventory: w.inventory, capacity: new CapacityService(RATIOS), hostFacts: new HostFactsService(w.tx, w.agent, silentLogger()) } });
  const ctx = { principal: { name: 'root' } } as Parameters<NonNullable<(typeof api)['server.setEnabled']>>[1];
  await api['server.setEnabled']!([{ server: 'kvm1', enabled: false }], ctx);
  await api['server.setDraining']!([{ server: 'kvm2', draining: true }], ctx);
  for (let i = 0; i < 4; i++) assert.equal((await create(w.provisioning, { name: `vm${i}` })).refused, undefined);
  assert.deepEqual(await vmsPerHost(w), { kvm1: 0, kvm2: 0, kvm3: 4 });
  assert.equal((await create(w.provisioning, { name: 'pinned1', serverUuid: UUIDS[0] })).refused, 'server kvm1 is disabled');
  assert.equal((await create(w.provisioning, { name: 'pinned2', serverUuid: UUIDS[1] })).refused, 'server kvm2 is draining: it takes no new VMs');
  await w.tx.dataSource.getRepository(Server).update({ name: 'kvm3' }, { available: false });
  const none = await create(w.provisioning, { name: 'nowhere' });
  assert.equal(none.refused, 'no host can take the VM (256 MiB, 1 vCPUs): host kvm1 is disabled; host kvm2 is draining; host kvm3 is down');
  await api['server.setEnabled']!([{ server: 'kvm1', enabled: true }], ctx);
  const placed = await create(w.provisioning, { name: 'again' });
  assert.equal(placed.refused, undefined);
  const shown = (await api['action.show']!([{ id: placed.id }], ctx)) as { placement: { host: string; policy: string; asked: { memoryMiB: number }; candidates: Array<{ host: string; freeMemoryMiB: number; why?: string }> } };
  assert.equal(shown.placement.host, 'kvm1');
  assert.equal(shown.placement.policy, 'spread');
  assert.equal(shown.placement.asked.memoryMiB, 256);
  assert.deepEqual(shown.placement.candidates.map((c) => [c.host, c.freeMemoryMiB, c.why]), [['kvm1', 8192, undefined], ['kvm2', 8192, 'host kvm2 is draining'], ['kvm3', 8192 - 4 * 256, 'host kvm3 is down']]);
  const capacity = (await api['host.capacity']!([], ctx)) as Array<{ host: string; state: string; vms: number; memoryMiB: { total: number; used: number; available: number } }>;
  assert.deepEqual(capacity.map((c) => [c.host, c.state, c.vms, c.memoryMiB.used, c.memoryMiB.available]), [['kvm1', 'up', 1, 256, 7936], ['kvm2', 'draining', 0, 0, 8192], ['kvm3', 'down', 4, 1024, 7168]]);
});

forEachEngine('a FAILED create gives its capacity back; a failed VM counts nothing', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHostWithFacts(w, 'kvm1', UUIDS[0], 30, { memoryTotalMiB: 512 });
  const a = await create(w.provisioning, { name: 'a', memoryMb: 512 });
  assert.equal(a.refused, undefined);
  assert.match((await create(w.provisioning, { name: 'b', memoryMb: 512 })).refused ?? '', /host kvm1 has 0 MiB free for VMs, 512 MiB asked/);
  await w.provisioning.handleAgentStatus(agentStatus(a.id, 'FAILED', 'disk full'));
  assert.equal((await create(w.provisioning, { name: 'c', memoryMb: 512 })).refused, undefined);
});

/** 30 creates at once on 3 hosts of 1024 MiB (4 VMs of 256 MiB each): 12 placed 4/4/4, 18 refused, no host over. */
async function thirtyAtOnce(t: Parameters<Parameters<typeof forEachEngine>[1]>[0], engine: Engine): Promise<void> {
  const w = await openWorld(t, { engine });
  await threeHosts(w);
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => create(w.provisioning, { name: `vm${i}`, memoryMb: 256 })));
  const ms = Date.now() - started;
  const refused = results.filter((r) => r.refused !== undefined);
  assert.equal(refused.length, 18);
  for (const r of refused) assert.match(r.refused ?? '', /^no host can take the VM \(256 MiB, 1 vCPUs\): host kvm1 has 0 MiB free for VMs, 256 MiB asked; host kvm2 has 0 MiB/);
  assert.deepEqual(await vmsPerHost(w), { kvm1: 4, kvm2: 4, kvm3: 4 });
  const report = await new CapacityService(RATIOS).report(w.tx.manager);
  for (const h of report) assert.ok(h.memoryMiB.used <= (h.memoryMiB.total ?? 0), `${h.host} not overbooked`);
  assert.equal(await w.tx.dataSource.getRepository(Ipv4Slot).countBy({ excluded: false }), 12, 'refused creates took no address');
  t.diagnostic(`${engine}: 30 concurrent creates placed ${JSON.stringify(await vmsPerHost(w))}, 18 refused, in ${ms} ms`);
}

forEachEngine('30 concurrent creates on 3 small hosts never overbook one', thirtyAtOnce, { timeout: 120_000 });

forEachEngine('30 concurrent creates through two provisioning services (two lease owners) never overbook a host', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await threeHosts(w);
  const p2 = new ProvisioningService(w.tx, new IpamService(), w.agent, w.notifier, { agentCallbackUrl: AGENT_CB, logger: silentLogger(), instanceId: `mgr-${randomUUID()}` });
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => create(i % 2 ? p2 : w.provisioning, { name: `vm${i}`, memoryMb: 256 })));
  assert.equal(results.filter((r) => r.refused === undefined).length, 12);
  assert.deepEqual(await vmsPerHost(w), { kvm1: 4, kvm2: 4, kvm3: 4 });
}, { timeout: 120_000 });

forEachEngine('a legacy agent (no get_host_info) keeps null facts: a create naming it is not checked, placement skips it', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const s = await addHost(w, 'old1', UUIDS[0], 30);
  const hostFacts = new HostFactsService(w.tx, w.agent, silentLogger());
  w.agent.hostInfo.set('old1', null);
  assert.equal(await hostFacts.refresh(s), false);
  assert.equal(await hostFacts.refresh(s), false);
  assert.equal((await create(w.provisioning, { name: 'named', memoryMb: 4096, serverUuid: UUIDS[0] })).refused, undefined, 'capacity unknown: not checked');
  assert.equal((await create(w.provisioning, { name: 'placed' })).refused, 'no host can take the VM (256 MiB, 1 vCPUs): host old1 has not reported its capacity');
});
