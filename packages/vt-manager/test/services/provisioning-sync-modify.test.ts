/**
 * Unit tests of ProvisioningService.submitAndWait (`send_sync`, docs/ocf-protocol.md §2.2.2 made to work) and of `modify`,
 * with fakes for unit tests of the ports (`testing/fakes.ts`: a recording AgentGateway and ClientNotifier, no socket)
 * on both engines (`[sqlite]` `:memory:`, `[mysql]` a fresh MariaDB/MySQL database). Agent statuses are fed with handleAgentStatus from a concurrent task while submitAndWait polls.
 */
import assert from 'node:assert/strict';
import { InputError } from '@kvm-crm/shared';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { forEachEngine, type Engine } from '../../dist/testing/test-databases.js';
import {
  addHost,
  agentStatus,
  CLIENT_CB,
  createAction,
  lifecycleAction,
  modifyAction,
  openWorld,
  provisionVm,
  query,
  SERVER_UUID,
  sleep,
  waitFor,
  type World,
} from '../../dist/testing/fakes.js';

async function world(t: Parameters<typeof openWorld>[0], engine: Engine): Promise<World> {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  return w;
}

const vmRow = (w: World, uuid: string) => w.tx.dataSource.getRepository(VirtualMachine).findOneBy({ uuid });
const actionRow = (w: World, uuid: string) => w.tx.dataSource.getRepository(ActionRecord).findOneBy({ uuid });

/** Answers the `n`-th agent query (0-based) with the given statuses once it arrives, from a concurrent task. */
function agentAnswers(w: World, n: number, ...statuses: Array<['ONGOING' | 'SUCCESS' | 'FAILED', string?]>): Promise<void> {
  return (async () => {
    await waitFor(`agent query #${n}`, () => w.agent.sent.length > n);
    const id = w.agent.action(n).id!;
    for (const [status, description] of statuses) {
      await sleep(20);
      await w.provisioning.handleAgentStatus(agentStatus(id, status, description));
    }
  })();
}

// ---------------------------------------------------------------------------------------------------------------
// submitAndWait

forEachEngine('submitAndWait resolves true once the agent\'s statuses end in SUCCESS; statuses also go to the callback', async (t, engine) => {
  const w = await world(t, engine);
  const a = createAction({ name: 'sync-1' });
  const answering = agentAnswers(w, 0, ['ONGOING'], ['SUCCESS']);
  const result = await w.provisioning.submitAndWait(CLIENT_CB, query(a), 10);
  await answering;
  assert.equal(result, true);
  assert.equal((await actionRow(w, a.id))?.status, 'SUCCESS');
  assert.equal((await vmRow(w, a.vmUuid))?.state, 'created (stopped)');
  assert.deepEqual(w.notifier.statuses().map((s) => [s.url, s.type, s.id, s.status]), [
    [CLIENT_CB, 'create', a.id, 'ONGOING'],
    [CLIENT_CB, 'create', a.id, 'SUCCESS'],
  ]);
});

forEachEngine('submitAndWait returns "<type> <id> FAILED: <reason>" when the agent answers FAILED', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'sync-2' });
  const start = lifecycleAction('start', vm.vmUuid);
  const answering = agentAnswers(w, 1, ['ONGOING'], ['FAILED', 'domain failed to boot']);
  assert.equal(await w.provisioning.submitAndWait(CLIENT_CB, query(start), 10), `start ${start.id} FAILED: domain failed to boot`);
  await answering;
  assert.equal((await vmRow(w, vm.vmUuid))?.state, 'stopped', 'start FAILED → stopped (§5.3)');
});

forEachEngine('submitAndWait with two actions: waits for both and joins the failures with "; "', async (t, engine) => {
  const w = await world(t, engine);
  const a = createAction({ name: 'ok' });
  const b = createAction({ name: 'bad' });
  const answering = Promise.all([agentAnswers(w, 0, ['SUCCESS']), agentAnswers(w, 1, ['FAILED', 'no space left'])]);
  assert.equal(await w.provisioning.submitAndWait(CLIENT_CB, query(a, b), 10), `create ${b.id} FAILED: no space left`);
  await answering;
  const c = createAction({ name: 'bad2' });
  const d = createAction({ name: 'bad3' });
  const answering2 = Promise.all([agentAnswers(w, 2, ['FAILED', 'x']), agentAnswers(w, 3, ['FAILED', 'y'])]);
  assert.equal(await w.provisioning.submitAndWait(CLIENT_CB, query(c, d), 10), `create ${c.id} FAILED: x; create ${d.id} FAILED: y`);
  await answering2;
});

forEachEngine('submitAndWait reports an action refused before storage (duplicate id) with its type and reason', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'sync-3' });
  const dup = lifecycleAction('start', vm.vmUuid, vm.id);
  const started = Date.now();
  assert.equal(await w.provisioning.submitAndWait(CLIENT_CB, query(dup), 10), `start ${vm.id} FAILED: action id ${vm.id} is already used`);
  assert.ok(Date.now() - started < 2000, 'no polling for an action that was never stored');
  assert.equal(w.agent.sent.length, 1, 'only the original create reached the agent');
  const row = await actionRow(w, vm.id);
  assert.equal(row?.type, 'create');
  assert.equal(row?.status, 'SUCCESS');
  assert.deepEqual(w.notifier.statuses().map((s) => [s.type, s.status, s.description]), [['start', 'FAILED', `action id ${vm.id} is already used`]]);
});

forEachEngine('submitAndWait returns TIMEOUT when the agent stays silent (1 s)', async (t, engine) => {
  const w = await world(t, engine);
  const a = createAction({ name: 'silent' });
  const started = Date.now();
  assert.equal(await w.provisioning.submitAndWait(CLIENT_CB, query(a), 1), 'TIMEOUT');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1000 && elapsed < 3000, `waited ${elapsed} ms`);
  assert.equal(w.agent.sent.length, 1);
  assert.equal((await actionRow(w, a.id))?.status, 'QUEUED', 'the action itself is not failed by send_sync\'s own timeout');
});

forEachEngine('submitAndWait with callBackUrl "" or "None": no callback at all, nothing sent to the notifier', async (t, engine) => {
  const w = await world(t, engine);
  for (const [i, cb] of ['None', ''].entries()) {
    const a = createAction({ name: `nocb-${i}` });
    const answering = agentAnswers(w, i, ['ONGOING'], ['SUCCESS']);
    assert.equal(await w.provisioning.submitAndWait(cb, query(a), 10), true, JSON.stringify(cb));
    await answering;
    assert.equal((await vmRow(w, a.vmUuid))?.callbackUrl, '');
    assert.equal((await actionRow(w, a.id))?.callbackUrl, '');
  }
  // A refused action and an agent FAILED are not sent anywhere either.
  const dup = createAction({ actionId: w.agent.action(0).id!, name: 'dup' });
  assert.match(String(await w.provisioning.submitAndWait('None', query(dup), 10)), /^create \S+ FAILED: action id \S+ is already used$/);
  const f = createAction({ name: 'fails' });
  const answering = agentAnswers(w, 2, ['FAILED', 'nope']);
  assert.equal(await w.provisioning.submitAndWait('None', query(f), 10), `create ${f.id} FAILED: nope`);
  await answering;
  await sleep(50);
  assert.equal(w.notifier.sent.length, 0);
});

forEachEngine('submit (send) rejects callBackUrl "None" or "" with InputError: nothing stored, agent not called', async (t, engine) => {
  const w = await world(t, engine);
  for (const cb of ['None', '', 'ftp://x/', 'not a url']) {
    await assert.rejects(w.provisioning.submit(cb, query(createAction())), (e: unknown) => e instanceof InputError && /URL/.test(e.message), JSON.stringify(cb));
  }
  await sleep(50);
  assert.equal(w.agent.sent.length, 0);
  assert.equal(await w.tx.dataSource.getRepository(ActionRecord).count(), 0);
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).count(), 0);
  await assert.rejects(w.provisioning.submitAndWait(CLIENT_CB, 'garbage', 1), InputError, 'send_sync checks the document like send');
});

// ---------------------------------------------------------------------------------------------------------------
// modify

/** Submits a modify and waits until the agent has it; returns the agent's view of the VM. */
async function submitModify(w: World, vmUuid: string, requested: { memoryMb?: number; vcpus?: number }) {
  const m = modifyAction(vmUuid, requested);
  const n = w.agent.sent.length;
  await w.provisioning.submit(CLIENT_CB, query(m));
  await waitFor('modify at the agent', () => w.agent.sent.length > n);
  const q = w.agent.action(n);
  assert.equal(q.type, 'modify');
  assert.equal(q.id, m.id);
  return { m, agentVm: q.server!.virtualMachines[0]! };
}

forEachEngine('modify: the agent gets the requested memory and vcpus; the record keeps the old values until SUCCESS', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'mod-1', memoryMb: 256 });
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus]), [256, 1]);

  const { m, agentVm } = await submitModify(w, vm.vmUuid, { memoryMb: 2048, vcpus: 2 });
  assert.equal(agentVm.uuid, vm.vmUuid);
  assert.equal(agentVm.name, 'mod-1');
  assert.equal(agentVm.xenConfiguration?.memoryMb, 2048);
  assert.equal(agentVm.xenConfiguration?.vcpus, 2);
  assert.equal(agentVm.xenConfiguration?.interfaces?.length, 2, 'built from the DB, NICs included');
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus]), [256, 1], 'QUEUED: unchanged');

  await w.provisioning.handleAgentStatus(agentStatus(m.id, 'ONGOING'));
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus, v?.state]), [256, 1, 'created (stopped)'], 'ONGOING: unchanged');

  await w.provisioning.handleAgentStatus(agentStatus(m.id, 'SUCCESS'));
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus, v?.state]), [2048, 2, 'created (stopped)']);
  assert.deepEqual(w.notifier.statuses().map((s) => [s.type, s.id, s.status]), [['modify', m.id, 'ONGOING'], ['modify', m.id, 'SUCCESS']]);
});

forEachEngine('modify with memory-mb only keeps the vcpus (and vice versa), in the agent query and after SUCCESS', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'mod-2', memoryMb: 512, vcpus: 3 });
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus]), [512, 3]);

  const mem = await submitModify(w, vm.vmUuid, { memoryMb: 1024 });
  assert.deepEqual([mem.agentVm.xenConfiguration?.memoryMb, mem.agentVm.xenConfiguration?.vcpus], [1024, 3]);
  await w.provisioning.handleAgentStatus(agentStatus(mem.m.id, 'SUCCESS'));
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus]), [1024, 3]);

  const cpu = await submitModify(w, vm.vmUuid, { vcpus: 4 });
  assert.deepEqual([cpu.agentVm.xenConfiguration?.memoryMb, cpu.agentVm.xenConfiguration?.vcpus], [1024, 4]);
  await w.provisioning.handleAgentStatus(agentStatus(cpu.m.id, 'SUCCESS'));
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus]), [1024, 4]);
});

forEachEngine('modify FAILED leaves the record\'s memory, vcpus and state as they were', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'mod-3', memoryMb: 256 }, { start: true });
  const { m } = await submitModify(w, vm.vmUuid, { memoryMb: 4096, vcpus: 8 });
  await w.provisioning.handleAgentStatus(agentStatus(m.id, 'ONGOING'));
  await w.provisioning.handleAgentStatus(agentStatus(m.id, 'FAILED', 'not enough memory on the host'));
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus, v?.state]), [256, 1, 'running']);
  const row = await actionRow(w, m.id);
  assert.deepEqual([row?.status, row?.description, row?.requestedMemoryMb, row?.requestedVcpus], ['FAILED', 'not enough memory on the host', 4096, 8]);
  assert.deepEqual(w.notifier.statuses().at(-1), { url: CLIENT_CB, type: 'modify', id: m.id, status: 'FAILED', description: 'not enough memory on the host' });
});

forEachEngine('modify without memory-mb and vcpus, or out of range: FAILED InputError reason, nothing stored, agent not called', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'mod-4', memoryMb: 256 });
  const cases: Array<[{ memoryMb?: number; vcpus?: number }, string]> = [
    [{}, 'modify needs xen-configuration/memory-mb and/or vcpus'],
    [{ memoryMb: 32 }, 'memory-mb must be an integer from 64 to 1048576'],
    [{ memoryMb: 2 * 1024 * 1024 }, 'memory-mb must be an integer from 64 to 1048576'],
    [{ memoryMb: 512, vcpus: 65 }, 'vcpus must be an integer from 1 to 64'],
    [{ vcpus: 0 }, 'vcpus must be an integer from 1 to 64'],
  ];
  for (const [requested, reason] of cases) {
    const m = modifyAction(vm.vmUuid, requested);
    w.notifier.sent.length = 0;
    await w.provisioning.submit(CLIENT_CB, query(m));
    const [s] = await waitFor(`FAILED for ${JSON.stringify(requested)}`, () => w.notifier.sent.length > 0 && w.notifier.statuses());
    assert.deepEqual(s, { url: CLIENT_CB, type: 'modify', id: m.id, status: 'FAILED', description: reason }, JSON.stringify(requested));
    assert.equal(await actionRow(w, m.id), null);
  }
  assert.equal(w.agent.sent.length, 1, 'only the create');
  assert.deepEqual(await vmRow(w, vm.vmUuid).then((v) => [v?.memoryMb, v?.vcpus, v?.state]), [256, 1, 'created (stopped)']);

  // Through send_sync, the same refusal comes back as text.
  const m = modifyAction(vm.vmUuid, { memoryMb: 32 });
  assert.equal(await w.provisioning.submitAndWait('None', query(m), 5), `modify ${m.id} FAILED: memory-mb must be an integer from 64 to 1048576`);
});

forEachEngine('modify through submitAndWait: true on SUCCESS, values applied', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'mod-5', memoryMb: 256 });
  const m = modifyAction(vm.vmUuid, { memoryMb: 768 });
  const answering = agentAnswers(w, 1, ['ONGOING'], ['SUCCESS']);
  assert.equal(await w.provisioning.submitAndWait('None', query(m), 10), true);
  await answering;
  assert.equal((await vmRow(w, vm.vmUuid))?.memoryMb, 768);
});

forEachEngine('a message naming one action id twice is refused whole', async (t, engine) => {
  const w = await world(t, engine);
  const a = createAction({ name: 'twice' });
  await assert.rejects(w.provisioning.submit(CLIENT_CB, query(a, a)), /action id .* appears twice in the message/);
  assert.equal(w.agent.sent.length, 0);
});
