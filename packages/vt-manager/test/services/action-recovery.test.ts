/**
 * Action leases and recovery (several managers on one database, a manager that died between storing an action and
 * handing it to the agent), the notification outbox (DbClientNotifier), the action history, and the operator verbs
 * (action.show|retry|fail|succeed). Every test runs on both engines.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { ConflictError, libvirtEventResponse, parseRspec, serialiseRspec } from '@kvm-crm/shared';
import { DbClientNotifier } from '../../dist/adapters/db-client-notifier.js';
import { adminApi } from '../../dist/api/admin-api.js';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { Ipv4Slot } from '../../dist/db/entities/ipv4-slot.js';
import { NotificationRecord } from '../../dist/db/entities/notification.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { forEachEngine, type Engine } from '../../dist/testing/test-databases.js';
import { IpamService } from '../../dist/services/ipam-service.js';
import { PrincipalService } from '../../dist/services/principal-service.js';
import { ProvisioningService } from '../../dist/services/provisioning-service.js';
import type { AgentGateway, ClientNotifier } from '../../dist/services/ports.js';
import {
  addHost,
  AGENT_CB,
  agentStatus,
  CLIENT_CB,
  createAction,
  FakeAgentGateway,
  FakeClientNotifier,
  lifecycleAction,
  openWorld,
  provisionVm,
  query,
  SERVER_UUID,
  silentLogger,
  sleep,
  waitFor,
  type World,
} from '../../dist/testing/fakes.js';

/** An agent whose `send` never answers (the manager is "killed" while it waits). */
class HangingAgent extends FakeAgentGateway {
  override send(): Promise<void> {
    return new Promise(() => undefined);
  }
}

async function world(t: TestContext, engine: Engine): Promise<World> {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  return w;
}

function manager(w: World, id: string, opts: { agent?: AgentGateway; notifier?: ClientNotifier; leaseSeconds?: number; actionTimeoutSeconds?: number } = {}): ProvisioningService {
  return new ProvisioningService(w.tx, new IpamService(), opts.agent ?? w.agent, opts.notifier ?? w.notifier, {
    agentCallbackUrl: AGENT_CB, instanceId: id, leaseSeconds: opts.leaseSeconds, actionTimeoutSeconds: opts.actionTimeoutSeconds, logger: silentLogger(),
  });
}

const actionRow = (w: World, id: string) => w.tx.dataSource.getRepository(ActionRecord).findOneByOrFail({ uuid: id });

forEachEngine('a manager that died before the hand-over: another takes the lease over and sends the action once', async (t, engine) => {
  const w = await world(t, engine);
  // Lease of 0 s: manager A "dies" between storing and sending (its hand-over finds its lease gone, sends nothing).
  const a = manager(w, 'mgr-a', { leaseSeconds: 0 });
  const create = createAction();
  const { handedOver } = await a.submit(CLIENT_CB, query(create));
  assert.equal((await handedOver).size, 0);
  assert.equal(w.agent.sent.length, 0, 'A sent nothing');
  let row = await actionRow(w, create.id);
  assert.equal(row.status, 'QUEUED');
  assert.equal(row.sendAttempts, 0);

  // Two managers recover at once: exactly one wins the lease and sends.
  const b = manager(w, 'mgr-b');
  const c = manager(w, 'mgr-c');
  const later = new Date(Date.now() + 1000);
  const [nb, nc] = await Promise.all([b.recoverQueuedActions(later), c.recoverQueuedActions(later)]);
  assert.equal(nb + nc, 1);
  assert.equal(w.agent.sent.length, 1);
  assert.equal(w.agent.action(0).id, create.id);
  row = await actionRow(w, create.id);
  assert.equal(row.sendAttempts, 1);
  assert.ok(row.leaseOwner === 'mgr-b' || row.leaseOwner === 'mgr-c');
  assert.equal(row.leaseExpiresAt?.getTime(), row.deadline.getTime(), 'after the hand-over the lease runs to the deadline');
  // Nothing to recover any more (the agent has it; silence is the deadline sweep's).
  assert.equal(await b.recoverQueuedActions(new Date(Date.now() + 5000)), 0);
  assert.equal(w.agent.sent.length, 1);

  await b.handleAgentStatus(agentStatus(create.id, 'SUCCESS'));
  assert.deepEqual(w.notifier.of(create.id).map((s) => s.status), ['SUCCESS']);
  const { events } = await b.showAction(create.id);
  assert.deepEqual(events.map((e) => [e.fromStatus, e.toStatus]), [[null, 'QUEUED'], ['QUEUED', 'QUEUED'], ['QUEUED', 'SUCCESS']]);
  assert.match(events[1]!.who, /^manager:mgr-[bc]$/);
});

forEachEngine('recovery re-sends a lifecycle action whose send was interrupted, but never a create that was sent', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w);
  const hanging = new HangingAgent();
  // 2 s: MySQL's DATETIME keeps whole seconds, so a 1 s lease could end 0.1 s after the insert, before the lane's
  // hand-over (which waits for the intake to be quiet, decision 040) claims it.
  const a = manager(w, 'mgr-a', { agent: hanging, leaseSeconds: 2 });
  const start = lifecycleAction('start', vm.vmUuid);
  await a.submit(CLIENT_CB, query(start));
  const create = createAction({ name: 'vm2' });
  await a.submit(CLIENT_CB, query(create));
  const attempts = async (id: string) => (await w.tx.dataSource.getRepository(ActionRecord).findOneBy({ uuid: id }))?.sendAttempts;
  await waitFor('both sends to start', async () => (await attempts(create.id)) === 1 && (await attempts(start.id)) === 1);
  const sentBefore = w.agent.sent.length;

  const b = manager(w, 'mgr-b');
  assert.equal(await b.recoverQueuedActions(), 0, 'leases still held');
  assert.equal(await b.recoverQueuedActions(new Date(Date.now() + 3000)), 1, 'the start is re-sent, the create is not');
  assert.equal(w.agent.sent.length, sentBefore + 1);
  assert.equal(w.agent.action(sentBefore).id, start.id);
  const createRow = await actionRow(w, create.id);
  assert.equal(createRow.status, 'QUEUED');
  assert.equal(createRow.leaseExpiresAt?.getTime(), createRow.deadline.getTime(), 'the create waits for the agent or its deadline');
  const { events } = await b.showAction(create.id);
  assert.match(events.at(-1)!.why, /not sent again/);
  // Past the deadline recovery leaves it to the deadline sweep, which fails it once, with the reason.
  assert.equal(await b.recoverQueuedActions(new Date(Date.now() + 3_600_000)), 0);
  assert.equal(await b.failOverdueActions(new Date(Date.now() + 3_600_000)), 2);
  assert.equal(w.notifier.of(create.id).length, 1);
  assert.equal(w.notifier.of(create.id)[0]!.status, 'FAILED');
});

forEachEngine('outbox: statuses are stored with the status change, delivered in order per callback, retried, deleted on acknowledgement', async (t, engine) => {
  const w = await world(t, engine);
  const delivered: Array<{ url: string; id?: string; status?: string }> = [];
  let failNext = 1;
  const deliver = async (url: string, xml: string) => {
    if (failNext > 0) {
      failNext--;
      throw new Error('callback down');
    }
    const act = parseRspec(xml).response!.provisioning!.actions[0]!;
    delivered.push({ url, id: act.id, status: act.status });
  };
  // This manager is killed before it delivers anything: its notifier stores, never delivers.
  const outbox = new (class extends DbClientNotifier {
    override wake(): void {}
  })(w.tx, deliver, { logger: silentLogger(), retryDelaySeconds: 1 });
  const a = manager(w, 'mgr-a', { notifier: outbox });
  const create = createAction();
  await (await a.submit(CLIENT_CB, query(create))).handedOver;
  await a.handleAgentStatus(agentStatus(create.id, 'ONGOING'));
  await a.handleAgentStatus(agentStatus(create.id, 'SUCCESS'));
  const rows = w.tx.dataSource.getRepository(NotificationRecord);
  // The rows are there, the callback URL sealed at rest.
  assert.equal(await rows.count(), 2);
  const raw = (await w.tx.dataSource.query('SELECT callbackUrl FROM notification')) as Array<{ callbackUrl: string }>;
  assert.ok(raw.every((r) => !r.callbackUrl.includes('expedient')), 'callback URL encrypted at rest');

  // A new manager's notifier delivers them: first attempt fails, the retry keeps the order.
  const again = new DbClientNotifier(w.tx, deliver, { logger: silentLogger(), retryDelaySeconds: 1 });
  assert.equal(await again.deliverDue(), 0, 'first attempt failed');
  assert.equal(await again.deliverDue(), 0, 'the retry is not due yet, and the later status waits behind it');
  await sleep(1100);
  assert.equal(await again.deliverDue(new Date(Date.now() + 1000)), 2);
  assert.deepEqual(delivered, [{ url: CLIENT_CB, id: create.id, status: 'ONGOING' }, { url: CLIENT_CB, id: create.id, status: 'SUCCESS' }]);
  assert.equal(await rows.count(), 0, 'deleted on acknowledgement');
});

forEachEngine('outbox: two managers delivering at once deliver each status exactly once', async (t, engine) => {
  const w = await world(t, engine);
  const seen: string[] = [];
  const deliver = async (_url: string, xml: string) => {
    await sleep(2);
    seen.push(parseRspec(xml).response!.provisioning!.actions[0]!.id!);
  };
  const n1 = new DbClientNotifier(w.tx, deliver, { logger: silentLogger() });
  const n2 = new DbClientNotifier(w.tx, deliver, { logger: silentLogger() });
  for (let i = 0; i < 10; i++) {
    n1.sendAsync(i % 2 ? CLIENT_CB : 'https://other.example/cb', statusDoc(`id-${i}`));
  }
  n1.stop();
  await n1.drain();
  await Promise.all([n1.deliverDue(), n2.deliverDue(), n2.deliverDue()]);
  await n1.drain();
  await Promise.all([n1.deliverDue(), n2.deliverDue()]);
  assert.deepEqual([...seen].sort(), Array.from({ length: 10 }, (_, i) => `id-${i}`).sort());
  assert.equal(await w.tx.dataSource.getRepository(NotificationRecord).count(), 0);
});

function statusDoc(id: string): string {
  return `<?xml version="1.0"?><rspec><response><provisioning><action id="${id}" status="SUCCESS" type="start"/></provisioning></response></rspec>`;
}

forEachEngine('operator verbs: fail, succeed and retry a stuck action, each audited in the history; finished actions refused', async (t, engine) => {
  const w = await world(t, engine);
  const notifier = new FakeClientNotifier();
  const p = manager(w, 'mgr-a', { notifier });
  // A create stuck ONGOING: failing it removes the VM and releases its addresses, the client is told once.
  const create = createAction();
  await (await p.submit(CLIENT_CB, query(create))).handedOver;
  await p.handleAgentStatus(agentStatus(create.id, 'ONGOING'));
  await assert.rejects(p.operatorResolve(create.id, 'FAILED', '  ', 'alice'), /reason/);
  await p.operatorResolve(create.id, 'FAILED', 'host rebuilt', 'alice');
  assert.deepEqual(notifier.of(create.id).map((s) => s.status), ['ONGOING', 'FAILED']);
  assert.match(notifier.of(create.id)[1]!.description ?? '', /failed by operator alice: host rebuilt/);
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).countBy({ uuid: create.vmUuid }), 0);
  assert.equal(await w.tx.dataSource.getRepository(Ipv4Slot).countBy({ vmUuid: create.vmUuid }), 0);
  await assert.rejects(p.operatorResolve(create.id, 'SUCCESS', 'oops', 'alice'), ConflictError);
  await assert.rejects(p.operatorRetry(create.id, 'again', 'alice'), ConflictError);
  const { events } = await p.showAction(create.id);
  assert.deepEqual(events.at(-1)!.who, 'operator:alice');
  assert.equal(events.at(-1)!.why, 'host rebuilt');
  assert.equal(events.at(-1)!.toStatus, 'FAILED');

  // A start stuck: retry re-sends it, succeed applies its effect (running).
  const vm = await provisionVm(w);
  const start = lifecycleAction('start', vm.vmUuid);
  await (await p.submit(CLIENT_CB, query(start))).handedOver;
  const before = w.agent.sent.length;
  const oldDeadline = (await actionRow(w, start.id)).deadline;
  await sleep(1100);
  await p.operatorRetry(start.id, 'agent restarted', 'bob');
  assert.equal(w.agent.sent.length, before + 1);
  assert.equal(w.agent.action(before).id, start.id);
  assert.ok((await actionRow(w, start.id)).deadline.getTime() > oldDeadline.getTime(), 'a fresh deadline');
  await p.operatorResolve(start.id, 'SUCCESS', 'domain seen running', 'bob');
  assert.equal((await w.tx.dataSource.getRepository(VirtualMachine).findOneByOrFail({ uuid: vm.vmUuid })).state, 'running');
  assert.deepEqual(notifier.of(start.id).map((s) => s.status), ['SUCCESS']);
  // The agent's late report is ignored (one terminal status per action).
  await p.handleAgentStatus(agentStatus(start.id, 'FAILED', 'late'));
  assert.equal(notifier.of(start.id).length, 1);

  // A create that was already sent is not retried.
  const create2 = createAction({ name: 'vm3' });
  await (await p.submit(CLIENT_CB, query(create2))).handedOver;
  await assert.rejects(p.operatorRetry(create2.id, 'try again', 'bob'), /already sent/);
});

forEachEngine('admin RPC: action.show with history, action.fail with the admin principal as who; action.list filters by type', async (t, engine) => {
  const w = await world(t, engine);
  const api = adminApi({ inventory: w.inventory, dataSource: w.tx.dataSource, principals: new PrincipalService(w.tx, []), provisioning: w.provisioning });
  const create = createAction();
  await (await w.provisioning.submit(CLIENT_CB, query(create), { principal: 'ch1' })).handedOver;
  const ctx = { principal: { name: 'root-admin' } } as Parameters<NonNullable<(typeof api)['action.fail']>>[1];
  await assert.rejects(Promise.resolve(api['action.fail']!([{ id: create.id }], ctx)), /missing field why/);
  assert.equal(await api['action.fail']!([{ id: create.id, why: 'stuck for a day' }], ctx), true);
  const shown = (await api['action.show']!([{ id: create.id }], ctx)) as { status: string; history: Array<{ from: string; to: string; who: string; why: string }> };
  assert.equal(shown.status, 'FAILED');
  assert.deepEqual(shown.history.map((h) => [h.from, h.to, h.who]), [['', 'QUEUED', 'principal:ch1'], ['QUEUED', 'FAILED', 'operator:root-admin']]);
  assert.equal(shown.history[1]!.why, 'stuck for a day');
  const listed = (await api['action.list']!([{ type: 'create' }], ctx)) as unknown[];
  assert.equal(listed.length, 1);
  assert.equal(((await api['action.list']!([{ type: 'start' }], ctx)) as unknown[]).length, 0);
});

forEachEngine('vanished VM: an Undefined event with a delete in flight changes nothing; without one the VM is marked failed, not deleted', async (t, engine) => {
  const w = await world(t, engine);
  const a = await provisionVm(w, { name: 'web01' });
  const b = await provisionVm(w, { name: 'web02' });
  const del = lifecycleAction('delete', a.vmUuid);
  await (await w.provisioning.submit(CLIENT_CB, query(del))).handedOver;
  const event = (uuid: string) => libvirtEventResponse({ name: 'x', uuid, status: 'Undefined' });
  await w.monitoring.handleMonitoringDocument(event(a.vmUuid), (d) => serialiseRspec(d, { dialect: 'manager' }));
  await w.monitoring.handleMonitoringDocument(event(b.vmUuid), (d) => serialiseRspec(d, { dialect: 'manager' }));
  const vms = w.tx.dataSource.getRepository(VirtualMachine);
  assert.notEqual((await vms.findOneByOrFail({ uuid: a.vmUuid })).state, 'failed', 'the delete in flight owns the VM');
  const gone = await vms.findOneByOrFail({ uuid: b.vmUuid });
  assert.equal(gone.state, 'failed');
  assert.equal(gone.stateNote, 'domain vanished from host');
  assert.equal(await w.tx.dataSource.getRepository(Ipv4Slot).countBy({ vmUuid: b.vmUuid }), 1, 'its address stays allocated');
});

forEachEngine('expiry: an expired VM is deleted through a normal delete action, once, whose statuses reach its callback', async (t, engine) => {
  const w = await world(t, engine);
  const a = await provisionVm(w, { name: 'web01' });
  const keep = await provisionVm(w, { name: 'web02' });
  const api = adminApi({ inventory: w.inventory, dataSource: w.tx.dataSource, principals: new PrincipalService(w.tx, []), provisioning: w.provisioning });
  const ctx = { principal: { name: 'root-admin' } } as Parameters<NonNullable<(typeof api)['vm.setExpiry']>>[1];
  const soon = new Date(Date.now() + 60_000);
  await api['vm.setExpiry']!([{ uuid: a.vmUuid, expiresAt: soon.toISOString() }], ctx);
  await api['vm.setExpiry']!([{ uuid: keep.vmUuid, expiresAt: soon.toISOString() }], ctx);
  await api['vm.setExpiry']!([{ uuid: keep.vmUuid, expiresAt: '' }], ctx);
  await assert.rejects(Promise.resolve(api['vm.setExpiry']!([{ uuid: a.vmUuid, expiresAt: 'tomorrow' }], ctx)), /ISO 8601/);
  const listed = (await api['vm.list']!([], ctx)) as Array<{ uuid: string; expiresAt: string }>;
  // MySQL DATETIME keeps whole seconds.
  assert.ok(Math.abs(Date.parse(listed.find((v) => v.uuid === a.vmUuid)!.expiresAt) - soon.getTime()) < 1000);
  assert.equal(listed.find((v) => v.uuid === keep.vmUuid)!.expiresAt, '');

  assert.deepEqual(await w.provisioning.deleteExpiredVms(), [], 'not expired yet');
  const later = new Date(Date.now() + 120_000);
  const p2 = manager(w, 'mgr-b');
  const [i1, i2] = await Promise.all([w.provisioning.deleteExpiredVms(later), p2.deleteExpiredVms(later)]);
  const issued = [...i1, ...i2];
  assert.equal(issued.length, 1, 'one delete, also with two managers');
  const deleteId = issued[0]!;
  const sent = w.agent.sent.map((_, i) => w.agent.action(i)).find((x) => x.id === deleteId);
  assert.equal(sent?.type, 'delete');
  await w.provisioning.handleAgentStatus(agentStatus(deleteId, 'SUCCESS'));
  assert.deepEqual(w.notifier.of(deleteId).map((s) => [s.url, s.type, s.status]), [[CLIENT_CB, 'delete', 'SUCCESS']]);
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).countBy({ uuid: a.vmUuid }), 0);
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).countBy({ uuid: keep.vmUuid }), 1);
  const { events } = await w.provisioning.showAction(deleteId);
  assert.equal(events[0]!.who, 'system');
  assert.deepEqual(await w.provisioning.deleteExpiredVms(new Date(Date.now() + 7_200_000)), []);
});

forEachEngine('slice expiry: set and cleared by admins; the sweep deletes every VM of an expired slice once; creates in it are refused', async (t, engine) => {
  const w = await world(t, engine);
  const [expiring, cleared, untouched, past] = ['slice-expiring', 'slice-cleared', 'slice-untouched', 'slice-past'];
  const a1 = await provisionVm(w, { name: 'a1', sliceId: expiring });
  const a2 = await provisionVm(w, { name: 'a2', sliceId: expiring });
  const b1 = await provisionVm(w, { name: 'b1', sliceId: cleared });
  const c1 = await provisionVm(w, { name: 'c1', sliceId: untouched });
  const api = adminApi({ inventory: w.inventory, dataSource: w.tx.dataSource, principals: new PrincipalService(w.tx, []), provisioning: w.provisioning });
  const ctx = { principal: { name: 'root-admin' } } as Parameters<NonNullable<(typeof api)['slice.setExpiry']>>[1];
  const soon = new Date(Date.now() + 60_000);
  assert.equal(await api['slice.setExpiry']!([{ sliceId: expiring, expiresAt: soon.toISOString(), why: 'project ended' }], ctx), true);
  await api['slice.setExpiry']!([{ sliceId: cleared, expiresAt: soon.toISOString() }], ctx);
  await api['slice.setExpiry']!([{ sliceId: cleared, expiresAt: '' }], ctx);
  await api['slice.setExpiry']!([{ sliceId: past, expiresAt: new Date(Date.now() - 1000).toISOString() }], ctx);
  await assert.rejects(Promise.resolve(api['slice.setExpiry']!([{ sliceId: expiring, expiresAt: 'tomorrow' }], ctx)), /ISO 8601/);
  await assert.rejects(Promise.resolve(api['slice.setExpiry']!([{ sliceId: 'bad slice!', expiresAt: '' }], ctx)), /slice id/);
  const listed = (await api['slice.list']!([], ctx)) as Array<{ sliceId: string; expiresAt: string; setBy: string; setAt: string }>;
  assert.deepEqual(listed.map((s) => s.sliceId), [cleared, expiring, past]);
  const shown = listed.find((s) => s.sliceId === expiring)!;
  // MySQL DATETIME keeps whole seconds.
  assert.ok(Math.abs(Date.parse(shown.expiresAt) - soon.getTime()) < 1000);
  assert.equal(shown.setBy, 'root-admin');
  assert.ok(Math.abs(Date.parse(shown.setAt) - Date.now()) < 60_000);
  assert.equal(listed.find((s) => s.sliceId === cleared)!.expiresAt, '');

  assert.deepEqual(await w.provisioning.deleteExpiredVms(), [], 'not expired yet (the past slice has no VMs)');
  // Two managers sweep at once: each VM of the expired slice gets exactly one delete.
  const later = new Date(Date.now() + 120_000);
  const p2 = manager(w, 'mgr-b');
  const [i1, i2] = await Promise.all([w.provisioning.deleteExpiredVms(later), p2.deleteExpiredVms(later)]);
  const issued = [...i1, ...i2];
  assert.equal(issued.length, 2, 'one delete per VM, also with two managers');
  const sent = issued.map((id) => w.agent.sent.map((_, i) => w.agent.action(i)).find((x) => x.id === id));
  assert.deepEqual(sent.map((x) => x?.type), ['delete', 'delete']);
  assert.deepEqual(sent.map((x) => x?.server?.virtualMachines[0]?.uuid).sort(), [a1.vmUuid, a2.vmUuid].sort());
  // While the deletes run, and after the retry interval, nothing is issued twice.
  const [j1, j2] = await Promise.all([w.provisioning.deleteExpiredVms(new Date(Date.now() + 7_200_000)), p2.deleteExpiredVms(new Date(Date.now() + 7_200_000))]);
  assert.deepEqual([...j1, ...j2], []);
  for (const id of issued) await w.provisioning.handleAgentStatus(agentStatus(id, 'SUCCESS'));
  for (const id of issued) assert.deepEqual(w.notifier.of(id).map((s) => [s.url, s.type, s.status]), [[CLIENT_CB, 'delete', 'SUCCESS']]);
  const vms = w.tx.dataSource.getRepository(VirtualMachine);
  assert.equal(await vms.countBy({ sliceId: expiring }), 0);
  assert.equal(await vms.countBy({ uuid: b1.vmUuid }), 1, 'a cleared slice is untouched');
  assert.equal(await vms.countBy({ uuid: c1.vmUuid }), 1, 'a slice without expiry is untouched');
  assert.equal((await w.provisioning.showAction(issued[0]!)).events[0]!.who, 'system');
  assert.deepEqual(await w.provisioning.deleteExpiredVms(new Date(Date.now() + 7_200_000)), []);

  // A create in an expired slice is refused (FAILED to the client) and stores nothing; in a cleared slice it works.
  const refused = createAction({ name: 'late', sliceId: past });
  const before = { vms: await vms.count(), actions: await w.tx.dataSource.getRepository(ActionRecord).count(), slots: await w.tx.dataSource.getRepository(Ipv4Slot).countBy({ vmUuid: refused.vmUuid }) };
  const { handedOver } = await w.provisioning.submit(CLIENT_CB, query(refused));
  assert.equal((await handedOver).get(refused.id), `slice ${past} has expired`);
  assert.deepEqual(w.notifier.of(refused.id).map((s) => [s.type, s.status, s.description]), [['create', 'FAILED', `slice ${past} has expired`]]);
  assert.equal(await vms.count(), before.vms);
  assert.equal(await vms.countBy({ uuid: refused.vmUuid }), 0);
  assert.equal(await w.tx.dataSource.getRepository(ActionRecord).count(), before.actions);
  assert.equal(await w.tx.dataSource.getRepository(Ipv4Slot).countBy({ vmUuid: refused.vmUuid }), before.slots);
  await provisionVm(w, { name: 'b2', sliceId: cleared });
  assert.equal(await vms.countBy({ sliceId: cleared }), 2);
});

forEachEngine('slice expiry: a manager that finds the slice claimed issues nothing; a failed delete is tried again later', async (t, engine) => {
  const w = await world(t, engine);
  const r1 = await provisionVm(w, { name: 'r1', sliceId: 'slice-retry' });
  await w.provisioning.setSliceExpiry('slice-retry', new Date(Date.now() + 60_000), 'root-admin');
  const later = new Date(Date.now() + 120_000);
  const [first] = await w.provisioning.deleteExpiredVms(later);
  assert.ok(first);
  await w.provisioning.handleAgentStatus(agentStatus(first, 'FAILED'));
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).countBy({ uuid: r1.vmUuid }), 1, 'the failed delete left the VM');
  const p2 = manager(w, 'mgr-b');
  assert.deepEqual(await p2.deleteExpiredVms(later), [], 'claimed by the first manager until the retry time');
  const again = await p2.deleteExpiredVms(new Date(later.getTime() + 7_200_000));
  assert.equal(again.length, 1);
  assert.notEqual(again[0], first);
  assert.equal(w.agent.action(w.agent.sent.length - 1).server?.virtualMachines[0]?.uuid, r1.vmUuid);
});

forEachEngine('send stores every action before it answers (a refused one with its FAILED status in the outbox)', async (t, engine) => {
  const w = await world(t, engine);
  const outbox = new (class extends DbClientNotifier {
    override wake(): void {}
  })(w.tx, async () => undefined, { logger: silentLogger() });
  const p = manager(w, 'mgr-a', { agent: new HangingAgent(), notifier: outbox });
  const creates = [createAction({ name: 'a1' }), createAction({ name: 'a2' }), createAction({ name: 'a3' })];
  const bad = lifecycleAction('start', '00000000-0000-4000-8000-00000000dead');
  await p.submit(CLIENT_CB, query(...creates, bad)); // not waiting for handedOver: the agent never answers
  const rows = await w.tx.dataSource.getRepository(ActionRecord).find();
  assert.deepEqual(rows.map((r) => r.uuid).sort(), creates.map((c) => c.id).sort());
  assert.ok(rows.every((r) => r.status === 'QUEUED' && r.leaseOwner === 'mgr-a'));
  const stored = await w.tx.dataSource.getRepository(NotificationRecord).find();
  assert.equal(stored.length, 1);
  assert.match(stored[0]!.rspec, new RegExp(`${bad.id}[\\s\\S]*FAILED|FAILED[\\s\\S]*${bad.id}`));
  assert.equal(stored[0]!.callbackUrl, CLIENT_CB);
});
