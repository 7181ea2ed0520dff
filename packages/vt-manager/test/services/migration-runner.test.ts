/**
 * Offline migration on the manager (decision record 025): the request checks and the runner's steps, with fake
 * agents (src/testing/migration-fakes.ts) on a real database (both engines for the main paths). Asserts that the
 * action ends SUCCESS or FAILED exactly once with its reason, that the VM row moves only at the commit, that a
 * failure before the commit cleans both hosts and leaves the VM on the source, and that a stale migration (its
 * manager died) is driven to one end by another runner.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActionEvent } from '../../dist/db/entities/action-event.js';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { Server } from '../../dist/db/entities/server.js';
import { GeniSliver } from '../../dist/db/entities/geni-sliver.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { VmMigration } from '../../dist/db/entities/vm-migration.js';
import { bridgeMap, MigrationRunner } from '../../dist/services/migration/migration-runner.js';
import { MigrationService } from '../../dist/services/migration/migration-service.js';
import { PlacementService } from '../../dist/services/placement/placement-service.js';
import type { ActionMetrics } from '../../dist/services/metrics-ports.js';
import { VmLifecycleService } from '../../dist/services/vm-lifecycle-service.js';
import { addHostWithFacts } from '../../dist/testing/capacity-fakes.js';
import { FakeMigrationAgents } from '../../dist/testing/migration-fakes.js';
import { openWorld, provisionVm, silentLogger, waitFor, type World } from '../../dist/testing/fakes.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';

const KVM1 = '5e4e0000-0000-4000-8000-000000000001';
const KVM2 = '5e4e0000-0000-4000-8000-000000000002';
const RATIOS = { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 };

async function setUp(w: World, opts: { kvm2MemoryMiB?: number; metrics?: ActionMetrics } = {}) {
  await addHostWithFacts(w, 'kvm1', KVM1, 1, { memoryTotalMiB: 8192 });
  await addHostWithFacts(w, 'kvm2', KVM2, 2, { memoryTotalMiB: opts.kvm2MemoryMiB ?? 8192 });
  const a = await provisionVm(w, { name: 'vm1', memoryMb: 512, serverUuid: KVM1 });
  w.agent.templates = [{ name: 'debian12' }];
  const fake = new FakeMigrationAgents();
  const runner = new MigrationRunner(w.tx, fake, { instanceId: 'm1', pollSeconds: 0.01, cleanupTries: 1, logger: silentLogger() });
  const vms = new VmLifecycleService(w.tx, w.provisioning.intake, w.agent);
  const service = new MigrationService(w.tx, vms, w.agent, new PlacementService({ capacity: RATIOS, policy: 'spread' }), runner, { instanceId: 'm1', leaseSeconds: 60, logger: silentLogger(), metrics: opts.metrics });
  return { vmUuid: a.vmUuid, fake, runner, service };
}

const action = (w: World, uuid: string) => w.tx.dataSource.getRepository(ActionRecord).findOneByOrFail({ uuid });
const vmRow = (w: World, uuid: string) => w.tx.dataSource.getRepository(VirtualMachine).findOneOrFail({ where: { uuid }, relations: { interfaces: true } });
const serverIdOf = async (w: World, name: string) => (await w.inventory.getServer(w.tx.manager, name)).id;
const terminalEvents = async (w: World, uuid: string) => (await w.tx.dataSource.getRepository(ActionEvent).findBy({ actionUuid: uuid })).filter((e) => e.toStatus === 'SUCCESS' || e.toStatus === 'FAILED');

forEachEngine('migrate: export, accept, copy, import, commit, release → SUCCESS once; the VM row moves to the target', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const { vmUuid, fake, runner, service } = await setUp(w);
  // A GENI sliver provisioned as this VM follows it to the new node (its URN stays).
  const sliverUrn = 'urn:publicid:IDN+ocf:test:vtam:kvm1:myslice+sliver+vm1';
  await w.tx.dataSource.getRepository(GeniSliver).insert({
    sliverUrn, sliceUrn: 'urn:publicid:IDN+test+slice+myslice', sliceHrn: 'test.myslice', clientId: 'vm1', serverId: await serverIdOf(w, 'kvm1'),
    allocationState: 'provisioned', expiresAt: new Date(Date.now() + 3600_000), template: 'tiny', sliverType: null, memoryMb: 256, vcpus: 1, diskGb: null,
    reservedIp: null, users: null, vmUuid, createActionId: null, startWanted: false, deleteWanted: false, ownerUrn: 'urn:publicid:IDN+test+user+alice', failure: '',
  });
  const ticket = await service.request('admin', { vm: 'vm1', to: 'kvm2' });
  assert.equal(ticket.type, 'migrate');
  assert.equal(ticket.target, 'kvm2');
  await runner.idle();
  const a = await action(w, ticket.actionId);
  assert.equal(a.status, 'SUCCESS', a.description);
  assert.match(a.description, /^migrated to kvm2: 3354624 bytes copied in/);
  assert.deepEqual(fake.calls.filter((c) => !c.startsWith('status')), ['export@kvm1', 'accept@kvm2', 'send@kvm1', 'detach@kvm1', 'import@kvm2', 'release@kvm1']);
  assert.equal(fake.ticket?.source, 'kvm1');
  assert.equal(fake.ticket?.target, 'kvm2');
  assert.equal(fake.ticket?.vmUuid, vmUuid);
  assert.ok(Date.parse(fake.ticket!.expiresAt) > Date.now());
  const vm = await vmRow(w, vmUuid);
  assert.equal(vm.serverId, await serverIdOf(w, 'kvm2'));
  const sliver = await w.tx.dataSource.getRepository(GeniSliver).findOneByOrFail({ vmUuid });
  assert.equal(sliver.serverId, await serverIdOf(w, 'kvm2'));
  assert.equal(sliver.sliverUrn, sliverUrn);
  assert.ok(vm.interfaces.every((i) => i.ip === null || i.ip.startsWith('10.1.')), 'addresses stay');
  const m = await w.tx.dataSource.getRepository(VmMigration).findOneByOrFail({ actionUuid: ticket.actionId });
  assert.equal(m.step, 'done');
  assert.equal(m.copiedBytes, m.totalBytes);
  assert.equal((await terminalEvents(w, ticket.actionId)).length, 1);
  const p = await service.progress(ticket.actionId);
  assert.equal(p.status, 'SUCCESS');
  assert.equal(p.source, 'kvm1');
});

forEachEngine('migrate: the copy fails (target agent killed) → FAILED with the reason, both hosts cleaned, the VM stays on the source', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const { vmUuid, fake, runner, service } = await setUp(w);
  fake.sendOutcome = 'failed';
  fake.sendError = 'sending disk.qcow2 to kvm2 failed: socket hang up';
  const ticket = await service.request('admin', { vm: vmUuid, to: 'kvm2' });
  await runner.idle();
  const a = await action(w, ticket.actionId);
  assert.equal(a.status, 'FAILED');
  assert.match(a.description, /^copy failed: sending disk\.qcow2 to kvm2 failed: socket hang up; the VM stays on kvm1$/);
  assert.deepEqual(fake.calls.filter((c) => c.startsWith('abort')), ['abort@kvm2', 'abort@kvm1']);
  assert.ok(!fake.calls.includes('import@kvm2'));
  assert.equal((await vmRow(w, vmUuid)).serverId, await serverIdOf(w, 'kvm1'));
  assert.equal((await terminalEvents(w, ticket.actionId)).length, 1);
});

test('migrate: an import failure rolls back; an unreachable target during the rollback is named in the reason', async (t) => {
  const w = await openWorld(t);
  const { vmUuid, fake, runner, service } = await setUp(w);
  fake.fail.import = new Error('virsh define: bridge missing');
  fake.fail.abort = new Error('connect ECONNREFUSED');
  const ticket = await service.request('admin', { vm: 'vm1', to: 'kvm2' });
  await runner.idle();
  const a = await action(w, ticket.actionId);
  assert.equal(a.status, 'FAILED');
  assert.match(a.description, /^import failed: virsh define: bridge missing; the VM stays on kvm1; cleanup on kvm2 failed \(connect ECONNREFUSED\); its unfinished transfer files go when its agent starts/);
  assert.deepEqual(fake.calls.slice(-4), ['import@kvm2', 'abort@kvm2', 'reattach@kvm1', 'abort@kvm1'], 'the source defines the VM again after the target cleaned up');
  assert.equal((await vmRow(w, vmUuid)).serverId, await serverIdOf(w, 'kvm1'));
});

test('migrate: refusals before anything is stored (running VM, same host, template missing, target full, unknown host)', async (t) => {
  const w = await openWorld(t, {});
  const { vmUuid, service } = await setUp(w, { kvm2MemoryMiB: 256 });
  const count = async () => w.tx.dataSource.getRepository(ActionRecord).countBy({ type: 'migrate' });
  w.agent.activeVms.set('kvm1', { [vmUuid]: 'vm1' });
  await assert.rejects(service.request('admin', { vm: 'vm1', to: 'kvm2' }), /vm1 is running on kvm1; stop it first or pass --stop/);
  w.agent.activeVms.set('kvm1', {});
  await assert.rejects(service.request('admin', { vm: 'vm1', to: 'kvm1' }), /already on kvm1/);
  await assert.rejects(service.request('admin', { vm: 'vm1', to: 'nope' }), /no server "nope"/);
  await assert.rejects(service.request('admin', { vm: 'vm1' }), /name the target host \(--to\), or drain kvm1 first/);
  w.agent.templates = [];
  await assert.rejects(service.request('admin', { vm: 'vm1', to: 'kvm2' }), /template debian12 is not on kvm2: .*--flatten/);
  await assert.rejects(service.request('admin', { vm: 'vm1', to: 'kvm2', flatten: true }), /host kvm2 has .* MiB free for VMs, 512 MiB asked/);
  assert.equal(await count(), 0);
});

test('migrate: placement picks a target without the template → the stored action FAILED once and counted in the action metrics', async (t) => {
  const w = await openWorld(t, {});
  const finished: Array<[string, string, number]> = [];
  const { service } = await setUp(w, { metrics: { actionFinished: (type, result, seconds) => void finished.push([type, result, seconds]) } });
  await w.tx.dataSource.getRepository(Server).update({ name: 'kvm1' }, { draining: true });
  w.agent.templates = [];
  await assert.rejects(service.request('admin', { vm: 'vm1' }), /template debian12 is not on kvm2: .*--flatten/);
  const [stored] = await w.tx.dataSource.getRepository(ActionRecord).findBy({ type: 'migrate' });
  assert.equal(stored?.status, 'FAILED');
  assert.equal((await terminalEvents(w, stored.uuid)).length, 1);
  assert.equal(finished.length, 1, 'counted once');
  assert.deepEqual(finished[0]!.slice(0, 2), ['migrate', 'FAILED']);
  assert.ok(finished[0]![2] >= 0);
});

test('migrate: a stale migration (its manager died) is taken over: before the commit it rolls back, after it it finishes', async (t) => {
  const w = await openWorld(t);
  const { vmUuid, fake, service } = await setUp(w);
  // A runner whose copy never ends stands for the manager that dies mid-copy: abandon() stops it like a crash.
  const stuck = new FakeMigrationAgents();
  stuck.pollsUntilEnd = Number.MAX_SAFE_INTEGER;
  const dying = new MigrationRunner(w.tx, stuck, { instanceId: 'dead', pollSeconds: 0.01, leaseSeconds: 1, logger: silentLogger() });
  const vms = new VmLifecycleService(w.tx, w.provisioning.intake, w.agent);
  const first = new MigrationService(w.tx, vms, w.agent, new PlacementService({ capacity: RATIOS, policy: 'spread' }), dying, { instanceId: 'dead', leaseSeconds: 1, logger: silentLogger() });
  const ticket = await first.request('admin', { vm: 'vm1', to: 'kvm2' });
  await waitFor('the copy to run', () => stuck.calls.includes('send@kvm1'));
  await dying.abandon();
  assert.equal((await action(w, ticket.actionId)).status, 'ONGOING');
  const heir = new MigrationRunner(w.tx, fake, { instanceId: 'm2', pollSeconds: 0.01, cleanupTries: 1, logger: silentLogger() });
  assert.deepEqual(await heir.recoverStale(new Date(Date.now() + 5000)), [ticket.actionId]);
  await heir.idle();
  const a = await action(w, ticket.actionId);
  assert.equal(a.status, 'FAILED');
  assert.match(a.description, /^copy failed: the manager running the migration stopped before the commit; the VM stays on kvm1/);
  assert.deepEqual(fake.calls, ['abort@kvm2', 'abort@kvm1']);
  assert.equal((await vmRow(w, vmUuid)).serverId, await serverIdOf(w, 'kvm1'));
  // After the commit: a stale migration at step release is finished (the source copy removed), SUCCESS.
  const m = await w.tx.dataSource.getRepository(VmMigration).findOneByOrFail({ actionUuid: ticket.actionId });
  await w.tx.dataSource.getRepository(ActionRecord).update({ uuid: ticket.actionId }, { status: 'ONGOING', leaseExpiresAt: new Date(Date.now() - 1000) });
  await w.tx.dataSource.getRepository(VmMigration).update({ id: m.id }, { step: 'release' });
  fake.calls.length = 0;
  assert.deepEqual(await heir.recoverStale(), [ticket.actionId]);
  await heir.idle();
  assert.equal((await action(w, ticket.actionId)).status, 'SUCCESS');
  assert.deepEqual(fake.calls, ['release@kvm1']);
  void service;
});

test('bridge map: management bridge to management bridge, others by name, the rest left out', () => {
  const b = (name: string, isMgmt = false) => ({ name, isMgmt }) as never;
  assert.deepEqual(bridgeMap({ bridges: [b('br-a', true), b('br-data'), b('br-x')] }, { bridges: [b('br-b', true), b('br-data')] }), { 'br-a': 'br-b', 'br-data': 'br-data' });
});
