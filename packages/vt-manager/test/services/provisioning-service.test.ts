/**
 * Unit tests of the manager's ProvisioningService, with in-memory fakes for unit tests of the ports (AgentGateway,
 * ClientNotifier, in `testing/fakes.ts`): they record every call and can be told to throw; nothing opens a socket. IpamService,
 * InventoryService and TransactionRunner are the real ones; every test runs on both real engines (`[sqlite]`:
 * `:memory:`; `[mysql]`: a fresh MariaDB/MySQL database, see testing/test-databases.ts), a fresh database per test.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLogger, InputError, serialiseRspec, UpstreamError, type Action } from '@kvm-crm/shared';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { AGENT_UNREACHABLE_REASON } from '../../dist/domain/client-reason.js';
import { Ipv4Slot } from '../../dist/db/entities/ipv4-slot.js';
import { MacSlot } from '../../dist/db/entities/mac-slot.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { VmInterface } from '../../dist/db/entities/vm-interface.js';
import { forEachEngine, openTestDatabase, type Engine } from '../../dist/testing/test-databases.js';
import { TransactionRunner } from '../../dist/db/transaction-runner.js';
import { InventoryService } from '../../dist/services/inventory-service.js';
import { IpamService } from '../../dist/services/ipam-service.js';
import { ProvisioningService } from '../../dist/services/provisioning-service.js';
import {
  AGENT_CB,
  agentStatus,
  CLIENT_CB,
  createAction,
  FakeAgentGateway,
  FakeClientNotifier,
  lifecycleAction,
  PROJECT_ID,
  query,
  SERVER_UUID,
  sleep,
  SLICE_ID,
  waitFor,
  type CreateSpec,
} from '../../dist/testing/fakes.js';

// ---------------------------------------------------------------------------------------------------------------
// Fixture

interface Env {
  tx: TransactionRunner;
  agent: FakeAgentGateway;
  notifier: FakeClientNotifier;
  svc: ProvisioningService;
}

/**
 * Server `host1` with bridges br-mgmt (mgmt, first) and br-data; IPv4 range 10.20.0.1–`lastIp` with 10.20.0.1
 * (the gateway) excluded; MAC range 02:00:0a:14:00:00–ff; both subscribed.
 */
async function setup(t: TestContext, engine: Engine, opts: { lastIp?: string; actionTimeoutSeconds?: number } = {}): Promise<Env> {
  const ds = await openTestDatabase(t, engine);
  const tx = new TransactionRunner(ds);
  const inventory = new InventoryService(tx);
  await inventory.registerServer({
    name: 'host1', uuid: SERVER_UUID, agentUrl: 'https://host1.example:9229/', agentPassword: 'agentpw',
    bridges: [{ name: 'br-mgmt' }, { name: 'br-data' }],
  });
  await inventory.addIpv4Range({
    name: 'v4', start: '10.20.0.1', end: opts.lastIp ?? '10.20.0.20', netmask: '255.255.255.0', gateway: '10.20.0.1', dns1: '1.1.1.1', dns2: '9.9.9.9',
    excluded: ['10.20.0.1'],
  });
  await inventory.addMacRange({ name: 'macs', start: '02:00:0a:14:00:00', end: '02:00:0a:14:00:ff' });
  await inventory.subscribe('host1', 'ipv4', 'v4');
  await inventory.subscribe('host1', 'mac', 'macs');
  const agent = new FakeAgentGateway();
  const notifier = new FakeClientNotifier();
  const svc = new ProvisioningService(tx, new IpamService(), agent, notifier, {
    agentCallbackUrl: AGENT_CB, actionTimeoutSeconds: opts.actionTimeoutSeconds, logger: createLogger({ component: 'test', silent: true }),
  });
  return { tx, agent, notifier, svc };
}

/** Lets background processing run out before checking that nothing more happened. */
async function settle(env: Env): Promise<void> {
  await sleep(50);
  await env.tx.run(async () => undefined); // every queued transaction has finished
  await env.notifier.drain();
}

async function counts(env: Env) {
  const ds = env.tx.dataSource;
  return {
    vms: await ds.getRepository(VirtualMachine).count(),
    nics: await ds.getRepository(VmInterface).count(),
    actions: await ds.getRepository(ActionRecord).count(),
    ipv4Taken: await ds.getRepository(Ipv4Slot).countBy({ excluded: false }),
    ipv4Excluded: await ds.getRepository(Ipv4Slot).countBy({ excluded: true }),
    macs: await ds.getRepository(MacSlot).count(),
  };
}

const vmRow = (env: Env, uuid: string) => env.tx.dataSource.getRepository(VirtualMachine).findOne({ where: { uuid }, relations: { interfaces: true } });
const actionRow = (env: Env, uuid: string) => env.tx.dataSource.getRepository(ActionRecord).findOneBy({ uuid });

/** Submits a create and waits until the agent has it. Returns the action. */
async function createQueued(env: Env, spec: CreateSpec = {}) {
  const a = createAction(spec);
  const n = env.agent.sent.length;
  assert.deepEqual((await env.svc.submit(CLIENT_CB, query(a))).accepted, [a.id]);
  await waitFor('the create to reach the agent', () => env.agent.sent.length > n);
  return a;
}

/** A VM created to 'created (stopped)' through agent statuses; the notifier is cleared afterwards. */
async function createdVm(env: Env, spec: CreateSpec = {}) {
  const a = await createQueued(env, spec);
  await env.svc.handleAgentStatus(agentStatus(a.id, 'ONGOING'));
  await env.svc.handleAgentStatus(agentStatus(a.id, 'SUCCESS'));
  assert.equal((await vmRow(env, a.vmUuid))?.state, 'created (stopped)');
  env.notifier.sent.length = 0;
  return a;
}

/** Submits one action and waits for its terminal status at the client. */
async function submitAndWaitForFailure(env: Env, action: Action & { id: string }) {
  await env.svc.submit(CLIENT_CB, query(action));
  const [s] = await waitFor(`FAILED for ${action.id}`, () => {
    const got = env.notifier.of(action.id);
    return got.length > 0 && got;
  });
  return s!;
}

// ---------------------------------------------------------------------------------------------------------------
// Create

forEachEngine('create: stores the VM on queue, QUEUED action, and sends the agent a query with rewritten interfaces (§6.5.2)', async (t, engine) => {
  const env = await setup(t, engine);
  const a = await createQueued(env, { name: 'web-1', memoryMb: 512 });

  assert.equal(env.agent.sent.length, 1);
  assert.equal(env.agent.sent[0]!.server.name, 'host1');
  assert.equal(env.agent.sent[0]!.callbackUrl, AGENT_CB);
  assert.match(env.agent.sent[0]!.xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<rspec>\n/, 'manager dialect, no xmlns');

  const q = env.agent.action(0);
  assert.equal(q.type, 'create');
  assert.equal(q.id, a.id);
  assert.equal(q.server?.uuid, SERVER_UUID);
  assert.equal(q.server?.virtualizationType, 'kvm');
  const vm = q.server!.virtualMachines[0]!;
  assert.equal(vm.uuid, a.vmUuid);
  assert.equal(vm.name, 'web-1');
  assert.equal(vm.projectId, PROJECT_ID);
  assert.equal(vm.sliceId, SLICE_ID);
  assert.equal(vm.virtualizationType, 'kvm');
  assert.equal(vm.serverId, SERVER_UUID);
  assert.equal(vm.xenConfiguration?.hdOriginPath, 'debian12/disk.qcow2');
  assert.equal(vm.xenConfiguration?.memoryMb, 512);
  assert.deepEqual(vm.xenConfiguration?.interfaces, [
    { ismgmt: true, name: 'eth0', mac: '02:00:0a:14:00:00', ip: '10.20.0.2', mask: '255.255.255.0', gw: '10.20.0.1', dns1: '1.1.1.1', dns2: '9.9.9.9', switchId: 'br-mgmt' },
    { ismgmt: false, name: 'eth1', mac: '02:00:0a:14:00:01', ip: 'NONE', mask: 'NONE', gw: 'NONE', dns1: 'NONE', dns2: 'NONE', switchId: 'br-data' },
  ]);

  const row = await vmRow(env, a.vmUuid);
  assert.equal(row?.state, 'on queue');
  assert.equal(row?.name, 'web-1');
  assert.equal(row?.callbackUrl, CLIENT_CB);
  assert.deepEqual(
    [...row!.interfaces].sort((x, y) => x.position - y.position).map((n) => [n.name, n.isMgmt, n.mac, n.ip, n.bridge]),
    [['eth0', true, '02:00:0a:14:00:00', '10.20.0.2', 'br-mgmt'], ['eth1', false, '02:00:0a:14:00:01', null, 'br-data']],
  );
  const action = await actionRow(env, a.id);
  assert.equal(action?.status, 'QUEUED');
  assert.equal(action?.type, 'create');
  assert.equal(action?.vmUuid, a.vmUuid);
  assert.deepEqual(await counts(env), { vms: 1, nics: 2, actions: 1, ipv4Taken: 1, ipv4Excluded: 1, macs: 2 });
  await settle(env);
  assert.equal(env.notifier.sent.length, 0, 'nothing goes to the client before the agent reports');
});

forEachEngine('create: ONGOING → creating..., SUCCESS → created (stopped); forwarded as §8.5; a second terminal status is ignored', async (t, engine) => {
  const env = await setup(t, engine);
  const a = await createQueued(env);

  await env.svc.handleAgentStatus(agentStatus(a.id, 'ONGOING'));
  assert.equal((await vmRow(env, a.vmUuid))?.state, 'creating...');
  assert.equal((await actionRow(env, a.id))?.status, 'ONGOING');
  assert.equal(env.notifier.sent.length, 1);
  assert.equal(env.notifier.sent[0]!.url, CLIENT_CB);
  assert.deepEqual(env.notifier.statuses()[0], { url: CLIENT_CB, type: 'create', id: a.id, status: 'ONGOING', description: undefined });

  await env.svc.handleAgentStatus(agentStatus(a.id, 'SUCCESS'));
  assert.equal((await vmRow(env, a.vmUuid))?.state, 'created (stopped)');
  assert.equal((await actionRow(env, a.id))?.status, 'SUCCESS');
  assert.equal(env.notifier.sent.length, 2);
  const expected = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<rspec>',
    '    <response>',
    '        <provisioning>',
    `            <action type="create" id="${a.id}">`,
    '                <server>',
    '                    <virtual-machines>',
    '                        <uuid>notRequired</uuid>',
    '                    </virtual-machines>',
    '                </server>',
    '                <status>SUCCESS</status>',
    '            </action>',
    '        </provisioning>',
    '    </response>',
    '</rspec>',
    '',
  ].join('\n');
  assert.equal(env.notifier.sent[1]!.xml, expected, 'type filled in, no xmlns, no empty <description> (§8.5)');
  for (const { xml } of env.notifier.sent) {
    assert.doesNotMatch(xml, /xmlns/);
    assert.doesNotMatch(xml, /<description/);
    assert.match(xml, /<action type="create" id=/);
  }

  // A second terminal status (and a repeated ONGOING) changes nothing and is not forwarded.
  await env.svc.handleAgentStatus(agentStatus(a.id, 'FAILED', 'late failure'));
  await env.svc.handleAgentStatus(agentStatus(a.id, 'SUCCESS'));
  await env.svc.handleAgentStatus(agentStatus(a.id, 'ONGOING'));
  await settle(env);
  assert.equal(env.notifier.sent.length, 2, 'exactly one terminal status forwarded');
  assert.equal(env.notifier.of(a.id).filter((s) => s.status === 'SUCCESS' || s.status === 'FAILED').length, 1);
  assert.equal((await vmRow(env, a.vmUuid))?.state, 'created (stopped)');
  const row = await actionRow(env, a.id);
  assert.equal(row?.status, 'SUCCESS');
  assert.equal(row?.description, '');
  assert.equal((await counts(env)).vms, 1);
});

forEachEngine('statuses for unknown actions are dropped', async (t, engine) => {
  const env = await setup(t, engine);
  await env.svc.handleAgentStatus(agentStatus('no-such-action', 'ONGOING'));
  await env.svc.handleAgentStatus(agentStatus('no-such-action', 'SUCCESS'));
  await settle(env);
  assert.equal(env.notifier.sent.length, 0);
  await assert.rejects(env.svc.handleAgentStatus('<rspec><response>'), InputError);
});

forEachEngine('agent unreachable: one FAILED with the reason to the client, VM row gone, every slot released', async (t, engine) => {
  const env = await setup(t, engine);
  env.agent.failWith = new UpstreamError('agent host1 unreachable: connect ECONNREFUSED 192.0.2.1:9229');
  const a = createAction();
  await env.svc.submit(CLIENT_CB, query(a));
  await waitFor('the FAILED status', () => env.notifier.sent.length > 0);
  await settle(env);
  assert.deepEqual(env.notifier.statuses(), [
    // Issue 9 item 12: the client gets a reason it can act on, not the agent's address (kept in the history).
    { url: CLIENT_CB, type: 'create', id: a.id, status: 'FAILED', description: AGENT_UNREACHABLE_REASON },
  ]);
  assert.equal(await vmRow(env, a.vmUuid), null);
  const row = await actionRow(env, a.id);
  assert.equal(row?.status, 'FAILED');
  assert.equal(row?.description, AGENT_UNREACHABLE_REASON);
  assert.deepEqual(await counts(env), { vms: 0, nics: 0, actions: 1, ipv4Taken: 0, ipv4Excluded: 1, macs: 0 });

  // The agent coming back later with a status for it changes nothing.
  await env.svc.handleAgentStatus(agentStatus(a.id, 'SUCCESS'));
  await settle(env);
  assert.equal(env.notifier.sent.length, 1);
});

forEachEngine('create FAILED from the agent: VM deleted, addresses released (and reusable), reason forwarded', async (t, engine) => {
  const env = await setup(t, engine);
  const a = await createQueued(env);
  await env.svc.handleAgentStatus(agentStatus(a.id, 'ONGOING'));
  await env.svc.handleAgentStatus(agentStatus(a.id, 'FAILED', 'Could not start VM, abort'));
  assert.equal(await vmRow(env, a.vmUuid), null);
  assert.deepEqual(await counts(env), { vms: 0, nics: 0, actions: 1, ipv4Taken: 0, ipv4Excluded: 1, macs: 0 });
  assert.deepEqual(env.notifier.of(a.id).map((s) => [s.type, s.status, s.description]), [['create', 'ONGOING', undefined], ['create', 'FAILED', 'Could not start VM, abort']]);
  assert.equal((await actionRow(env, a.id))?.description, 'Could not start VM, abort');

  const b = await createQueued(env);
  assert.deepEqual(env.agent.action(1).server?.virtualMachines[0]?.xenConfiguration?.interfaces?.map((i) => [i.mac, i.ip]), [['02:00:0a:14:00:00', '10.20.0.2'], ['02:00:0a:14:00:01', 'NONE']]);
  assert.equal((await vmRow(env, b.vmUuid))?.state, 'on queue');
});

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle

forEachEngine('start: the agent query is built from the DB (kvm, not the client\'s xen), ONGOING → starting..., SUCCESS → running', async (t, engine) => {
  const env = await setup(t, engine);
  const c = await createdVm(env, { name: 'vm-a' });
  const s = lifecycleAction('start', c.vmUuid);
  await env.svc.submit(CLIENT_CB, query(s));
  await waitFor('start at the agent', () => env.agent.sent.length === 2);
  const q = env.agent.action(1);
  assert.equal(q.type, 'start');
  assert.equal(q.id, s.id);
  assert.equal(q.server?.virtualizationType, 'kvm');
  assert.equal(q.server?.virtualMachines[0]?.uuid, c.vmUuid);
  assert.equal(q.server?.virtualMachines[0]?.name, 'vm-a', 'name from the DB');
  assert.equal(q.server?.virtualMachines[0]?.virtualizationType, 'kvm');
  assert.equal(q.server?.virtualMachines[0]?.xenConfiguration?.interfaces?.length, 2);
  assert.equal((await actionRow(env, s.id))?.status, 'QUEUED');

  await env.svc.handleAgentStatus(agentStatus(s.id, 'ONGOING'));
  assert.equal((await vmRow(env, c.vmUuid))?.state, 'starting...');
  await env.svc.handleAgentStatus(agentStatus(s.id, 'SUCCESS'));
  assert.equal((await vmRow(env, c.vmUuid))?.state, 'running');
  assert.deepEqual(env.notifier.of(s.id).map((x) => [x.type, x.status]), [['start', 'ONGOING'], ['start', 'SUCCESS']]);
});

forEachEngine('delete SUCCESS: VM gone, addresses released, forwarded with type delete', async (t, engine) => {
  const env = await setup(t, engine);
  const keep = await createdVm(env, { name: 'keep' });
  const c = await createdVm(env, { name: 'gone' });
  assert.deepEqual(await counts(env), { vms: 2, nics: 4, actions: 2, ipv4Taken: 2, ipv4Excluded: 1, macs: 4 });
  const d = lifecycleAction('delete', c.vmUuid);
  await env.svc.submit(CLIENT_CB, query(d));
  await waitFor('delete at the agent', () => env.agent.sent.length === 3);
  assert.equal(env.agent.action(2).type, 'delete');
  await env.svc.handleAgentStatus(agentStatus(d.id, 'ONGOING'));
  assert.equal((await vmRow(env, c.vmUuid))?.state, 'deleting...');
  await env.svc.handleAgentStatus(agentStatus(d.id, 'SUCCESS'));
  assert.equal(await vmRow(env, c.vmUuid), null);
  assert.deepEqual(await counts(env), { vms: 1, nics: 2, actions: 3, ipv4Taken: 1, ipv4Excluded: 1, macs: 2 });
  const slots = await env.tx.dataSource.getRepository(Ipv4Slot).findBy({ excluded: false });
  assert.deepEqual(slots.map((x) => x.vmUuid), [keep.vmUuid], 'only the other VM keeps its address');
  assert.deepEqual(env.notifier.of(d.id).map((x) => [x.type, x.status]), [['delete', 'ONGOING'], ['delete', 'SUCCESS']]);
  assert.match(env.notifier.sent.at(-1)!.xml, /<action type="delete" id=/);
});

forEachEngine('start of an unknown VM: FAILED "no VM", nothing stored, agent not called', async (t, engine) => {
  const env = await setup(t, engine);
  const ghost = randomUUID();
  const s = lifecycleAction('start', ghost);
  const st = await submitAndWaitForFailure(env, s);
  assert.deepEqual(st, { url: CLIENT_CB, type: 'start', id: s.id, status: 'FAILED', description: `no VM with uuid ${ghost}` });
  await settle(env);
  assert.equal(env.notifier.sent.length, 1);
  assert.equal(env.agent.sent.length, 0);
  assert.equal((await counts(env)).actions, 0);
});

forEachEngine('a second action on a VM while one is QUEUED or ONGOING: FAILED busy, the first one untouched', async (t, engine) => {
  const env = await setup(t, engine);
  const c = await createQueued(env);
  const s1 = lifecycleAction('start', c.vmUuid);
  const f1 = await submitAndWaitForFailure(env, s1);
  assert.equal(f1.status, 'FAILED');
  assert.equal(f1.type, 'start');
  assert.equal(f1.description, `VM vm1 is busy with action ${c.id} (create)`);

  await env.svc.handleAgentStatus(agentStatus(c.id, 'ONGOING'));
  const s2 = lifecycleAction('delete', c.vmUuid);
  const f2 = await submitAndWaitForFailure(env, s2);
  assert.equal(f2.status, 'FAILED');
  assert.equal(f2.description, `VM vm1 is busy with action ${c.id} (create)`);

  await settle(env);
  assert.equal(env.agent.sent.length, 1, 'only the create reached the agent');
  assert.equal(await actionRow(env, s1.id), null);
  assert.equal(await actionRow(env, s2.id), null);
  assert.equal((await actionRow(env, c.id))?.status, 'ONGOING');
  assert.equal((await vmRow(env, c.vmUuid))?.state, 'creating...');

  // Once the create finished, the VM takes actions again.
  await env.svc.handleAgentStatus(agentStatus(c.id, 'SUCCESS'));
  await env.svc.submit(CLIENT_CB, query(lifecycleAction('start', c.vmUuid)));
  await waitFor('start at the agent', () => env.agent.sent.length === 2);
});

forEachEngine('a duplicate action id: FAILED, the existing action and VM untouched', async (t, engine) => {
  const env = await setup(t, engine);
  const c = await createdVm(env);
  const before = await counts(env);
  const dupCreate = createAction({ actionId: c.id, name: 'other' });
  const f = await submitAndWaitForFailure(env, dupCreate);
  assert.deepEqual(f, { url: CLIENT_CB, type: 'create', id: c.id, status: 'FAILED', description: `action id ${c.id} is already used` });

  const dupStart = lifecycleAction('start', c.vmUuid, c.id);
  env.notifier.sent.length = 0;
  const f2 = await submitAndWaitForFailure(env, dupStart);
  assert.equal(f2.description, `action id ${c.id} is already used`);

  await settle(env);
  assert.deepEqual(await counts(env), before, 'nothing added');
  assert.equal(await vmRow(env, dupCreate.vmUuid as string), null);
  const row = await actionRow(env, c.id);
  assert.equal(row?.type, 'create');
  assert.equal(row?.status, 'SUCCESS');
  assert.equal(row?.vmUuid, c.vmUuid);
  assert.equal((await vmRow(env, c.vmUuid))?.state, 'created (stopped)');
  assert.equal(env.agent.sent.length, 1);
});

forEachEngine('a duplicate VM uuid: FAILED, the existing VM untouched', async (t, engine) => {
  const env = await setup(t, engine);
  const c = await createdVm(env, { name: 'original', memoryMb: 256 });
  const before = await counts(env);
  const dup = createAction({ vmUuid: c.vmUuid.toUpperCase(), name: 'impostor', memoryMb: 1024 });
  const f = await submitAndWaitForFailure(env, dup);
  assert.deepEqual(f, { url: CLIENT_CB, type: 'create', id: dup.id, status: 'FAILED', description: `a VM with uuid ${c.vmUuid} exists` });
  await settle(env);
  assert.deepEqual(await counts(env), before);
  assert.equal(await actionRow(env, dup.id), null);
  const vm = await vmRow(env, c.vmUuid);
  assert.equal(vm?.name, 'original');
  assert.equal(vm?.memoryMb, 256);
  assert.equal(vm?.state, 'created (stopped)');
  assert.equal(vm?.interfaces.length, 2);
  assert.equal(env.agent.sent.length, 1);
});

forEachEngine('submit rejects a missing/invalid action id or an unknown type with InputError and stores nothing', async (t, engine) => {
  const env = await setup(t, engine);
  const good = createAction();
  const cases: Array<[string, string, RegExp]> = [
    ['missing id', query({ ...createAction(), id: undefined }), /^invalid action id: nothing$/],
    ['path id', query(createAction({ actionId: '../x' })), /^invalid action id: "\.\.\/x"$/],
    ['shell id', query(createAction({ actionId: 'a;rm -rf /' })), /invalid action id/],
    ['long id', query(createAction({ actionId: 'a'.repeat(65) })), /invalid action id/],
    ['unknown type', query({ ...createAction(), type: 'destroy' }), /unsupported action type "destroy"/],
    ['missing type', query({ ...createAction(), type: undefined }), /unsupported action type ""/],
    ['listActiveVMs', query({ ...createAction(), type: 'listActiveVMs' }), /unsupported action type/],
    ['second action bad', query(good, { ...createAction(), id: 'bad id' }), /invalid action id: "bad id"/],
    ['no actions', serialiseRspec({ query: { provisioning: { actions: [] } } }, { dialect: 'manager' }), /no provisioning query with actions/],
    ['a response', agentStatus(good.id, 'SUCCESS'), /no provisioning query with actions/],
    ['not XML', 'this is not xml', /not well-formed XML/],
  ];
  for (const [what, xml, message] of cases) {
    await assert.rejects(env.svc.submit(CLIENT_CB, xml), (err: unknown) => {
      assert.ok(err instanceof InputError, `${what}: ${String(err)}`);
      assert.match(err.message, message, what);
      return true;
    });
  }
  await settle(env);
  assert.equal(env.agent.sent.length, 0, 'the good action of a rejected message is not processed either');
  assert.equal(env.notifier.sent.length, 0);
  assert.deepEqual(await counts(env), { vms: 0, nics: 0, actions: 0, ipv4Taken: 0, ipv4Excluded: 1, macs: 0 });
});

forEachEngine('a message with two create actions processes both', async (t, engine) => {
  const env = await setup(t, engine);
  const a = createAction({ name: 'first' });
  const b = createAction({ name: 'second' });
  assert.deepEqual((await env.svc.submit(CLIENT_CB, query(a, b))).accepted, [a.id, b.id]);
  await waitFor('both creates at the agent', () => env.agent.sent.length === 2);
  assert.deepEqual([env.agent.action(0).id, env.agent.action(1).id], [a.id, b.id], 'in message order');
  const ips = [0, 1].map((i) => env.agent.action(i).server?.virtualMachines[0]?.xenConfiguration?.interfaces?.[0]?.ip);
  assert.deepEqual(ips, ['10.20.0.2', '10.20.0.3']);
  assert.equal((await vmRow(env, a.vmUuid))?.name, 'first');
  assert.equal((await vmRow(env, b.vmUuid))?.name, 'second');
  assert.deepEqual(await counts(env), { vms: 2, nics: 4, actions: 2, ipv4Taken: 2, ipv4Excluded: 1, macs: 4 });
  for (const x of [a, b]) {
    await env.svc.handleAgentStatus(agentStatus(x.id, 'SUCCESS'));
    assert.equal((await vmRow(env, x.vmUuid))?.state, 'created (stopped)');
  }
  assert.deepEqual(env.notifier.statuses().map((s) => [s.id, s.status]), [[a.id, 'SUCCESS'], [b.id, 'SUCCESS']]);
});

forEachEngine('failOverdueActions fails a silent action with a reason, once', async (t, engine) => {
  const env = await setup(t, engine, { actionTimeoutSeconds: 30 });
  const c = await createQueued(env);
  assert.equal(await env.svc.failOverdueActions(), 0, 'not overdue yet');
  assert.equal(await env.svc.failOverdueActions(new Date(Date.now() + 20_000)), 0, 'still within 30 s');
  assert.equal(await env.svc.failOverdueActions(new Date(Date.now() + 31_000)), 1);
  assert.deepEqual(env.notifier.statuses(), [
    { url: CLIENT_CB, type: 'create', id: c.id, status: 'FAILED', description: 'no terminal status from the agent within 30 s' },
  ]);
  assert.equal((await actionRow(env, c.id))?.status, 'FAILED');
  assert.equal(await vmRow(env, c.vmUuid), null, 'a failed create removes the VM');
  assert.deepEqual(await counts(env), { vms: 0, nics: 0, actions: 1, ipv4Taken: 0, ipv4Excluded: 1, macs: 0 });

  assert.equal(await env.svc.failOverdueActions(new Date(Date.now() + 3_600_000)), 0, 'already failed');
  await env.svc.handleAgentStatus(agentStatus(c.id, 'SUCCESS'));
  await settle(env);
  assert.equal(env.notifier.sent.length, 1, 'notified once; a late SUCCESS is dropped');
});

forEachEngine('an ONGOING action also times out; a lifecycle timeout keeps the VM', async (t, engine) => {
  const env = await setup(t, engine);
  const c = await createdVm(env);
  const s = lifecycleAction('start', c.vmUuid);
  await env.svc.submit(CLIENT_CB, query(s));
  await waitFor('start at the agent', () => env.agent.sent.length === 2);
  await env.svc.handleAgentStatus(agentStatus(s.id, 'ONGOING'));
  env.notifier.sent.length = 0;
  assert.equal(await env.svc.failOverdueActions(new Date(Date.now() + 601_000)), 1, 'default timeout 600 s');
  assert.deepEqual(env.notifier.statuses().map((x) => [x.type, x.status, x.description]), [['start', 'FAILED', 'no terminal status from the agent within 600 s']]);
  assert.equal((await vmRow(env, c.vmUuid))?.state, 'unknown', 'the agent went silent: its effect is unknown');
});

forEachEngine('IPv4 pool exhaustion: FAILED "IPv4 pool exhausted", nothing kept', async (t, engine) => {
  const env = await setup(t, engine, { lastIp: '10.20.0.2' }); // one usable address
  const first = await createQueued(env);
  const before = await counts(env);
  assert.deepEqual(before, { vms: 1, nics: 2, actions: 1, ipv4Taken: 1, ipv4Excluded: 1, macs: 2 });
  const second = createAction({ name: 'vm2' });
  const f = await submitAndWaitForFailure(env, second);
  assert.equal(f.status, 'FAILED');
  assert.equal(f.type, 'create');
  assert.match(f.description ?? '', /^IPv4 pool exhausted/);
  await settle(env);
  assert.deepEqual(await counts(env), before, 'the MAC taken for eth0 before the IPv4 failure was rolled back');
  assert.equal(await vmRow(env, second.vmUuid), null);
  assert.equal(await actionRow(env, second.id), null);
  assert.equal(env.agent.sent.length, 1);
  assert.equal((await vmRow(env, first.vmUuid))?.state, 'on queue');
});

forEachEngine('hostile VM names and hd-origin-paths: FAILED with an InputError reason, nothing stored', async (t, engine) => {
  const env = await setup(t, engine);
  const hostile = ['../x', 'a;rm -rf /', '<x>'];
  const cases: Array<[CreateSpec, string]> = [
    ...hostile.map((name): [CreateSpec, string] => [{ name }, `invalid VM name: ${JSON.stringify(name)}`]),
    ...[...hostile, '/etc/passwd', 'a/b/c', 'debian/../../etc', '.hidden'].map((template): [CreateSpec, string] => [
      { template },
      `invalid hd-origin-path (template): ${JSON.stringify(template)}`,
    ]),
    [{ memoryMb: 16 }, 'memory-mb must be an integer from 64 to 1048576'],
  ];
  for (const [spec, reason] of cases) {
    const a = createAction(spec);
    const f = await submitAndWaitForFailure(env, a);
    assert.deepEqual(f, { url: CLIENT_CB, type: 'create', id: a.id, status: 'FAILED', description: reason }, JSON.stringify(spec));
  }
  await settle(env);
  assert.equal(env.notifier.sent.length, cases.length, 'one FAILED each');
  assert.equal(env.agent.sent.length, 0);
  assert.deepEqual(await counts(env), { vms: 0, nics: 0, actions: 0, ipv4Taken: 0, ipv4Excluded: 1, macs: 0 });
});

forEachEngine('a lifecycle action the agent never got leaves the VM state as it was', async (t, engine) => {
  const env = await setup(t, engine);
  const c = await createdVm(env);
  const before = (await vmRow(env, c.vmUuid))?.state;
  assert.equal(before, 'created (stopped)');
  env.agent.failWith = new UpstreamError('agent host1 unreachable');
  const stop = lifecycleAction('hardStop', c.vmUuid);
  const f = await submitAndWaitForFailure(env, stop);
  assert.equal(f.description, AGENT_UNREACHABLE_REASON);
  assert.equal((await vmRow(env, c.vmUuid))?.state, before, 'not turned into "running" by the failure table');
});
