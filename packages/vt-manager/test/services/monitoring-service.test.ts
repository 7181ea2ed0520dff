/**
 * Unit tests of the manager's MonitoringService (docs/ocf-protocol.md §2.2.4, §2.2.5, §5.4, §6.8), with fakes for unit
 * tests of the ports (`testing/fakes.ts`: an AgentGateway that records pings, monitoring queries and
 * force_list_active_vms calls and can be told to fail per server; a recording ClientNotifier; no socket). VMs are
 * created through the real ProvisioningService; every test runs on SQLite `:memory:` and on a fresh MariaDB/MySQL
 * database (`[sqlite]`/`[mysql]`, testing/test-databases.ts).
 */
import assert from 'node:assert/strict';
import {
  InputError,
  libvirtEventResponse,
  monitoringResponse,
  NotFoundError,
  parseRspec,
  serialiseRspec,
  UpstreamError,
  type MonitoredVm,
  type Rspec,
} from '@kvm-crm/shared';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { Server } from '../../dist/db/entities/server.js';
import { VirtualMachine, type VmState } from '../../dist/db/entities/virtual-machine.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import type { TemplateInfo } from '../../dist/services/ports.js';
import { MonitoringService } from '../../dist/services/monitoring-service.js';
import {
  addHost,
  AGENT_CB,
  silentLogger,
  agentStatus,
  CLIENT_CB,
  lifecycleAction,
  openWorld,
  provisionVm,
  query,
  readFixture,
  SERVER_UUID,
  waitFor,
  type World,
} from '../../dist/testing/fakes.js';

const HOST2_UUID = '5e4e0000-0000-4000-8000-000000000002';
const forward = (d: Rspec) => serialiseRspec(d, { dialect: 'manager' });

/** Feeds an agent document to the service as `sendAsync` would: agent dialect on the wire, parsed. */
async function deliver(w: World, doc: Rspec): Promise<void> {
  await w.monitoring.handleMonitoringDocument(parseRspec(serialiseRspec(doc, { dialect: 'agent' })), forward);
}

const repo = (w: World) => w.tx.dataSource.getRepository(VirtualMachine);
const setState = (w: World, uuid: string, state: VmState) => repo(w).update({ uuid }, { state });
async function states(w: World): Promise<Record<string, VmState>> {
  return Object.fromEntries((await repo(w).find({ order: { id: 'ASC' } })).map((v) => [v.name, v.state]));
}
async function availability(w: World): Promise<Record<string, boolean>> {
  return Object.fromEntries((await w.tx.dataSource.getRepository(Server).find({ order: { id: 'ASC' } })).map((s) => [s.name, s.available]));
}

/** host1 and host2, each with its own ranges. */
async function twoHosts(w: World): Promise<void> {
  await addHost(w, 'host1', SERVER_UUID, 20);
  await addHost(w, 'host2', HOST2_UUID, 21);
}

// ---------------------------------------------------------------------------------------------------------------
// monitorOnce

forEachEngine('monitorOnce pings every server, marks a failing one unavailable, and available again once it answers', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await twoHosts(w);
  assert.deepEqual(await availability(w), { host1: true, host2: true });

  w.agent.pingFailures.set('host2', new UpstreamError('agent host2 unreachable'));
  assert.deepEqual(await w.monitoring.monitorOnce(), [
    { server: 'host1', available: true },
    { server: 'host2', available: false, error: 'agent host2 unreachable' },
  ]);
  assert.deepEqual(w.agent.pings.map((p) => p.server), ['host1', 'host2']);
  assert.deepEqual(await availability(w), { host1: true, host2: false });
  assert.deepEqual(w.agent.monitoringSent.map((m) => m.server.name), ['host1'], 'no listActiveVMs to an unreachable agent');

  w.agent.pingFailures.delete('host2');
  assert.deepEqual(await w.monitoring.monitorOnce(), [
    { server: 'host1', available: true },
    { server: 'host2', available: true },
  ]);
  assert.deepEqual(await availability(w), { host1: true, host2: true });
  assert.deepEqual(w.agent.monitoringSent.map((m) => m.server.name), ['host1', 'host1', 'host2']);

  // A failing listActiveVMs send also counts as unavailable.
  w.agent.monitoringFailures.set('host1', new UpstreamError('agent host1 refused'));
  assert.deepEqual((await w.monitoring.monitorOnce())[0], { server: 'host1', available: false, error: 'agent host1 refused' });
  assert.deepEqual(await availability(w), { host1: false, host2: true });
});

forEachEngine('monitorOnce sends each server a listActiveVMs query: manager dialect, fresh id, server virtualization-type', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await twoHosts(w);
  await w.tx.dataSource.getRepository(Server).update({ name: 'host2' }, { virtualizationType: 'xen' });
  await w.monitoring.monitorOnce();
  assert.equal(w.agent.monitoringSent.length, 2);
  const ids = new Set<string>();
  for (const [i, expected] of [[0, 'kvm'], [1, 'xen']] as const) {
    const sent = w.agent.monitoringSent[i]!;
    assert.equal(sent.callbackUrl, AGENT_CB);
    assert.match(sent.xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<rspec>\n/, 'manager dialect, no xmlns');
    const a = w.agent.monitoringAction(i);
    assert.equal(a.type, 'listActiveVMs');
    assert.match(a.id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    ids.add(a.id!);
    assert.equal(a.server?.virtualizationType, expected);
    assert.deepEqual(a.server?.virtualMachines, []);
    assert.equal(a.status, undefined);
  }
  assert.equal(ids.size, 2, 'one id per query');
  // Same shape as fixture 11 once the id is aligned.
  const fixture = readFixture('generated/11-manager-to-agent.send.listActiveVMs.rspec.xml');
  assert.equal(w.agent.monitoringSent[0]!.xml, fixture.replace('5e5e5e5e-aaaa-4bbb-8ccc-dddddddddddd', w.agent.monitoringAction(0).id!));
});

forEachEngine('listActiveVMs SUCCESS: listed → running, running-but-unlisted → stopped; created (stopped), busy VMs and other servers untouched', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await twoHosts(w);
  const listedRunning = await provisionVm(w, { name: 'listed-running' });
  const unlistedRunning = await provisionVm(w, { name: 'unlisted-running' });
  const listedStopped = await provisionVm(w, { name: 'listed-stopped' });
  const unlistedCreated = await provisionVm(w, { name: 'unlisted-created' });
  const listedCreated = await provisionVm(w, { name: 'listed-created' });
  const unlistedStarting = await provisionVm(w, { name: 'unlisted-starting' });
  const busyQueued = await provisionVm(w, { name: 'busy-queued' });
  const busyOngoing = await provisionVm(w, { name: 'busy-ongoing' });
  const otherHost = await provisionVm(w, { name: 'other-host', serverUuid: HOST2_UUID });
  for (const vm of [listedRunning, unlistedRunning, busyQueued, otherHost]) await setState(w, vm.vmUuid, 'running');
  await setState(w, listedStopped.vmUuid, 'stopped');
  await setState(w, unlistedStarting.vmUuid, 'starting...');
  // busy-queued: a hardStop the agent has not answered (QUEUED); busy-ongoing: a start the agent reported ONGOING.
  const n = w.agent.sent.length;
  const stop = lifecycleAction('hardStop', busyQueued.vmUuid);
  await w.provisioning.submit(CLIENT_CB, query(stop));
  const start = lifecycleAction('start', busyOngoing.vmUuid);
  await w.provisioning.submit(CLIENT_CB, query(start));
  await waitFor('both actions at the agent', () => w.agent.sent.length === n + 2);
  await w.provisioning.handleAgentStatus(agentStatus(start.id, 'ONGOING'));
  const actions = w.tx.dataSource.getRepository(ActionRecord);
  assert.equal((await actions.findOneBy({ uuid: stop.id }))?.status, 'QUEUED');
  assert.equal((await actions.findOneBy({ uuid: start.id }))?.status, 'ONGOING');

  const before = {
    'listed-running': 'running', 'unlisted-running': 'running', 'listed-stopped': 'stopped', 'unlisted-created': 'created (stopped)',
    'listed-created': 'created (stopped)', 'unlisted-starting': 'starting...', 'busy-queued': 'running', 'busy-ongoing': 'starting...', 'other-host': 'running',
  };
  assert.deepEqual(await states(w), before);
  w.notifier.sent.length = 0;

  await w.monitoring.monitorOnce();
  const host1Query = w.agent.monitoringSent.findIndex((m) => m.server.name === 'host1');
  const id = w.agent.monitoringAction(host1Query).id!;
  const listed: MonitoredVm[] = [listedRunning, listedStopped, listedCreated, busyOngoing].map((v) => ({ name: 'dom', uuid: v.vmUuid.toUpperCase() }));

  // ONGOING first: nothing changes, the query stays pending.
  await deliver(w, monitoringResponse({ status: 'ONGOING', actionId: id }));
  assert.deepEqual(await states(w), before);

  await deliver(w, monitoringResponse({ status: 'SUCCESS', actionId: id, vms: listed }));
  assert.deepEqual(await states(w), {
    'listed-running': 'running',
    'unlisted-running': 'stopped',
    'listed-stopped': 'running',
    'unlisted-created': 'created (stopped)',
    'listed-created': 'running',
    'unlisted-starting': 'stopped',
    'busy-queued': 'running',
    'busy-ongoing': 'starting...',
    'other-host': 'running',
  });
  assert.equal(w.notifier.sent.length, 0, 'monitoring results are not forwarded to clients');

  // The answer is consumed: a replay changes nothing.
  await setState(w, unlistedRunning.vmUuid, 'running');
  await deliver(w, monitoringResponse({ status: 'SUCCESS', actionId: id, vms: [] }));
  assert.equal((await states(w))['unlisted-running'], 'running');
});

forEachEngine('listActiveVMs: an answer for an unknown query id, or a FAILED answer, changes nothing', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await twoHosts(w);
  const a = await provisionVm(w, { name: 'a' });
  const b = await provisionVm(w, { name: 'b' });
  await setState(w, a.vmUuid, 'running');
  const before = await states(w);
  assert.deepEqual(before, { a: 'running', b: 'created (stopped)' });

  // Never asked: not even the fixture's own id.
  await deliver(w, monitoringResponse({ status: 'SUCCESS', actionId: '5e5e5e5e-aaaa-4bbb-8ccc-dddddddddddd', vms: [{ name: 'b', uuid: b.vmUuid }] }));
  await w.monitoring.handleMonitoringDocument(parseRspec(readFixture('generated/13-agent-to-manager.sendAsync.monitoring.SUCCESS.rspec.xml')), forward);
  assert.deepEqual(await states(w), before);

  // Asked, but the agent failed: nothing changes, and the id is consumed.
  await w.monitoring.monitorOnce();
  const id = w.agent.monitoringAction(0).id!;
  await deliver(w, monitoringResponse({ status: 'FAILED', actionId: id, description: 'libvirt down' }));
  assert.deepEqual(await states(w), before);
  await deliver(w, monitoringResponse({ status: 'SUCCESS', actionId: id, vms: [{ name: 'b', uuid: b.vmUuid }] }));
  assert.deepEqual(await states(w), before, 'a SUCCESS after the FAILED is for a forgotten query');
});

// ---------------------------------------------------------------------------------------------------------------
// libvirt events

const FIXTURE_VM_UUID = 'c0ffee00-1234-4abc-8def-0123456789ab';

forEachEngine('libvirt events: Started → running, Stopped → stopped, Defined changes nothing; only Started/Stopped forwarded', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const vm = await provisionVm(w, { name: 'web01', vmUuid: FIXTURE_VM_UUID });
  assert.equal((await states(w)).web01, 'created (stopped)');

  await deliver(w, libvirtEventResponse({ name: 'web01', uuid: FIXTURE_VM_UUID, status: 'Started' }));
  assert.equal((await states(w)).web01, 'running');
  await deliver(w, libvirtEventResponse({ name: 'web01', uuid: FIXTURE_VM_UUID, status: 'Defined' }));
  assert.equal((await states(w)).web01, 'running', 'Defined changes nothing');
  await deliver(w, libvirtEventResponse({ name: 'web01', uuid: FIXTURE_VM_UUID.toUpperCase(), status: 'Stopped' }));
  assert.equal((await states(w)).web01, 'stopped');
  await deliver(w, libvirtEventResponse({ name: 'web01', uuid: FIXTURE_VM_UUID, status: 'Undefined' }));
  assert.equal((await states(w)).web01, 'failed', 'Undefined with no action in flight: the domain vanished');
  const vanished = await w.tx.dataSource.getRepository(VirtualMachine).findOneByOrFail({ uuid: FIXTURE_VM_UUID });
  assert.equal(vanished.stateNote, 'domain vanished from host', 'marked, not deleted');
  await deliver(w, libvirtEventResponse({ name: 'web01', uuid: FIXTURE_VM_UUID, status: 'Resumed' }));
  assert.equal((await states(w)).web01, 'running');
  assert.equal((await w.tx.dataSource.getRepository(VirtualMachine).findOneByOrFail({ uuid: FIXTURE_VM_UUID })).stateNote, '', 'the note goes with the next state');
  await deliver(w, libvirtEventResponse({ name: 'web01', uuid: FIXTURE_VM_UUID, status: 'Suspended' }));
  assert.equal((await states(w)).web01, 'unknown');

  // Forwarded: Started and Stopped only, to the VM's stored callback, manager dialect (no xmlns).
  const forwarded = w.notifier.sent.map(({ url, xml }) => {
    assert.equal(url, CLIENT_CB);
    assert.doesNotMatch(xml, /xmlns/);
    const a = parseRspec(xml).response!.monitoring!.actions[0]!;
    return [a.type, a.id, a.status, a.server?.virtualMachines.map((v) => [v.name, v.uuid, v.status])];
  });
  assert.deepEqual(forwarded, [
    ['listActiveVMs', 'callback', 'SUCCESS', [['web01', vm.vmUuid, 'Started']]],
    ['listActiveVMs', 'callback', 'SUCCESS', [['web01', vm.vmUuid, 'Stopped']]],
  ]);
});

forEachEngine('libvirt event fixture 14 is forwarded as fixture 15, byte for byte', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  await provisionVm(w, { name: 'web01', vmUuid: FIXTURE_VM_UUID });
  const fixture14 = readFixture('generated/14-agent-to-manager.sendAsync.monitoring.libvirt-callback.rspec.xml');
  await w.monitoring.handleMonitoringDocument(parseRspec(fixture14), forward);
  assert.equal(w.notifier.sent.length, 1);
  assert.equal(w.notifier.sent[0]!.url, CLIENT_CB);
  assert.equal(w.notifier.sent[0]!.xml, readFixture('generated/15-manager-to-plugin.sendAsync.monitoring.libvirt-callback.rspec.xml'));
  assert.equal((await states(w)).web01, 'running');
  // Built from the same values, not just copied from the input document.
  assert.equal(w.notifier.sent[0]!.xml, forward(libvirtEventResponse({ name: 'web01', uuid: FIXTURE_VM_UUID, status: 'Started' })));
});

forEachEngine('libvirt events: an unknown VM is dropped; a busy VM keeps its state but the event is still forwarded', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const vm = await provisionVm(w, { name: 'web01' });
  await deliver(w, libvirtEventResponse({ name: 'ghost', uuid: 'deadbeef-0000-4000-8000-000000000000', status: 'Started' }));
  await deliver(w, libvirtEventResponse({ name: 'junk', uuid: 'not-a-uuid', status: 'Started' }));
  assert.deepEqual(await states(w), { web01: 'created (stopped)' });
  assert.equal(w.notifier.sent.length, 0);

  const start = lifecycleAction('start', vm.vmUuid);
  await w.provisioning.submit(CLIENT_CB, query(start));
  await waitFor('start at the agent', () => w.agent.sent.length === 2);
  await w.provisioning.handleAgentStatus(agentStatus(start.id, 'ONGOING'));
  w.notifier.sent.length = 0;
  await deliver(w, libvirtEventResponse({ name: 'web01', uuid: vm.vmUuid, status: 'Started' }));
  assert.equal((await states(w)).web01, 'starting...', 'the start action decides');
  assert.equal(w.notifier.sent.length, 1);
});

// ---------------------------------------------------------------------------------------------------------------
// force_update_exp_vms

/** host1: r1 running, r2 running, c created (stopped); host2: h running. */
async function forceWorld(w: World) {
  await twoHosts(w);
  const r1 = await provisionVm(w, { name: 'r1' });
  const r2 = await provisionVm(w, { name: 'r2' });
  const c = await provisionVm(w, { name: 'c' });
  const h = await provisionVm(w, { name: 'h', serverUuid: HOST2_UUID });
  for (const v of [r1, r2, h]) await setState(w, v.vmUuid, 'running');
  return { r1, r2, c, h };
}

forEachEngine('forceUpdate(server, None): asks that server\'s agent, returns its answer, applies it to that server only', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const { r1, c } = await forceWorld(w);
  w.agent.activeVms.set('host1', { [r1.vmUuid]: 'r1', [c.vmUuid]: 'c' });
  w.agent.activeVms.set('host2', {});
  assert.deepEqual(await w.monitoring.forceUpdate(SERVER_UUID.toUpperCase(), 'None'), { [r1.vmUuid]: 'r1', [c.vmUuid]: 'c' });
  assert.deepEqual(w.agent.forceListCalls, [{ server: 'host1', vmUuid: 'None' }]);
  assert.deepEqual(await states(w), { r1: 'running', r2: 'stopped', c: 'running', h: 'running' });
});

forEachEngine('forceUpdate(None, vm): asks the VM\'s server about that VM only, and changes only that VM', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const { r1, h } = await forceWorld(w);
  w.agent.activeVms.set('host1', {}); // r1 not running any more
  assert.deepEqual(await w.monitoring.forceUpdate('None', r1.vmUuid), {});
  assert.deepEqual(w.agent.forceListCalls, [{ server: 'host1', vmUuid: r1.vmUuid }]);
  assert.deepEqual(await states(w), { r1: 'stopped', r2: 'running', c: 'created (stopped)', h: 'running' }, 'r2 is not in the answer but was not asked about');

  w.agent.activeVms.set('host2', { [h.vmUuid]: 'h' });
  await setState(w, h.vmUuid, 'stopped');
  assert.deepEqual(await w.monitoring.forceUpdate('None', h.vmUuid), { [h.vmUuid]: 'h' });
  assert.deepEqual(w.agent.forceListCalls.at(-1), { server: 'host2', vmUuid: h.vmUuid });
  assert.equal((await states(w)).h, 'running');
  assert.equal((await states(w)).r2, 'running');
});

forEachEngine('forceUpdate(None, None): every server (the original faulted); an agent that throws contributes {} and changes nothing', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const { r2, h } = await forceWorld(w);
  w.agent.activeVms.set('host1', { [r2.vmUuid]: 'r2' });
  w.agent.activeVms.set('host2', { [h.vmUuid]: 'h' });
  assert.deepEqual(await w.monitoring.forceUpdate('None', 'None'), { [r2.vmUuid]: 'r2', [h.vmUuid]: 'h' });
  assert.deepEqual(w.agent.forceListCalls.map((c) => [c.server, c.vmUuid]), [['host1', 'None'], ['host2', 'None']]);
  assert.deepEqual(await states(w), { r1: 'stopped', r2: 'running', c: 'created (stopped)', h: 'running' });

  // host2's agent fails: host1's answer still comes back and applies; host2's VMs keep their states.
  await w.tx.dataSource.getRepository(VirtualMachine).update({ name: 'r1' }, { state: 'running' });
  w.agent.activeVms.set('host1', {});
  w.agent.activeVms.set('host2', new UpstreamError('agent host2 unreachable'));
  assert.deepEqual(await w.monitoring.forceUpdate('', ''), {}, '"" is "None" too');
  assert.deepEqual(await states(w), { r1: 'stopped', r2: 'stopped', c: 'created (stopped)', h: 'running' });

  // Only a failing agent: {} and no change at all.
  w.agent.activeVms.set('host1', new UpstreamError('agent host1 unreachable'));
  await setState(w, r2.vmUuid, 'running');
  const before = await states(w);
  assert.deepEqual(await w.monitoring.forceUpdate(SERVER_UUID, 'None'), {});
  assert.deepEqual(await w.monitoring.forceUpdate('None', r2.vmUuid), {});
  assert.deepEqual(await states(w), before);
});

forEachEngine('forceUpdate: unknown server or VM → NotFoundError, malformed uuid → InputError, the agent not called', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await forceWorld(w);
  const unknown = 'eeeeeeee-0000-4000-8000-000000000000';
  await assert.rejects(w.monitoring.forceUpdate(unknown, 'None'), (e: unknown) => e instanceof NotFoundError && e.message === `no server with uuid ${unknown}`);
  await assert.rejects(w.monitoring.forceUpdate('None', unknown), (e: unknown) => e instanceof NotFoundError && e.message === `no VM with uuid ${unknown}`);
  await assert.rejects(w.monitoring.forceUpdate('host1', 'None'), (e: unknown) => e instanceof InputError && /client_id must be a server UUID/.test(e.message));
  await assert.rejects(w.monitoring.forceUpdate('None', '../etc'), (e: unknown) => e instanceof InputError && /vm_id must be a VM UUID/.test(e.message));
  await assert.rejects(w.monitoring.forceUpdate(SERVER_UUID, 'xyz'), InputError, 'a bad vm_id is checked even with a server');
  assert.deepEqual(w.agent.forceListCalls, []);
});

// ---------------------------------------------------------------------------------------------------------------
// list_vm_templates

forEachEngine('listTemplates passes the agent\'s answer through; unknown server → NotFoundError; agent failure propagates', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await twoHosts(w);
  const catalogue: TemplateInfo[] = [
    { name: 'debian12', operatingSystemType: 'GNU/Linux', operatingSystemDistribution: 'Debian', operatingSystemVersion: '12', format: 'qcow2', sizeBytes: 123456, virtualSizeBytes: 2147483648, minMemoryMiB: 256, description: 'Debian 12' },
    { name: 'legacy-only-name' },
  ];
  w.agent.templates = catalogue;
  assert.deepEqual(await w.monitoring.listTemplates(HOST2_UUID), catalogue);
  assert.deepEqual(w.agent.templateCalls, ['host2']);

  const unknown = 'eeeeeeee-0000-4000-8000-000000000000';
  await assert.rejects(w.monitoring.listTemplates(unknown), (e: unknown) => e instanceof NotFoundError && e.message === `no server with uuid ${unknown}`);
  await assert.rejects(w.monitoring.listTemplates('host1'), InputError);
  assert.deepEqual(w.agent.templateCalls, ['host2']);

  w.agent.templates = new UpstreamError('agent host1 unreachable');
  await assert.rejects(w.monitoring.listTemplates(SERVER_UUID), (e: unknown) => e instanceof UpstreamError && e.message === 'agent host1 unreachable');
});

forEachEngine('a server is marked unavailable only after failureThreshold consecutive failed pings', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await twoHosts(w);
  const monitoring = new MonitoringService(w.tx, w.agent, w.notifier, { agentCallbackUrl: AGENT_CB, logger: silentLogger(), failureThreshold: 3 });
  w.agent.pingFailures.set('host2', new UpstreamError('agent host2 unreachable'));
  for (let i = 1; i <= 2; i++) {
    assert.deepEqual((await monitoring.monitorOnce())[1], { server: 'host2', available: true, error: 'agent host2 unreachable' }, `failure ${i} of 3`);
    assert.deepEqual(await availability(w), { host1: true, host2: true });
  }
  assert.deepEqual((await monitoring.monitorOnce())[1], { server: 'host2', available: false, error: 'agent host2 unreachable' });
  assert.deepEqual(await availability(w), { host1: true, host2: false });
  w.agent.pingFailures.delete('host2');
  await monitoring.monitorOnce();
  assert.deepEqual(await availability(w), { host1: true, host2: true }, 'back at the first answer');
  w.agent.pingFailures.set('host2', new UpstreamError('again'));
  await monitoring.monitorOnce();
  assert.deepEqual(await availability(w), { host1: true, host2: true }, 'the count started again');
});
