/**
 * Decision 034: the background lane gives way to the intake (one task at a time while a `send` is in flight, more
 * when idle, never none), keeps arrival order, and refuses work past its cap; the backlog guard's cached count never
 * lets a principal past the limit that an exact read would refuse after its own sends; the first hand-over claims
 * an action only while no send was made.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { randomUUID } from 'node:crypto';
import { ConflictError } from '@kvm-crm/shared';
import { ActionRepository } from '../../dist/repositories/action-repository.js';
import { IntakeFirstLane } from '../../dist/services/provisioning/intake-first-lane.js';
import { DbClientNotifier } from '../../dist/adapters/db-client-notifier.js';
import { IpamService } from '../../dist/services/ipam-service.js';
import { ProvisioningService } from '../../dist/services/provisioning-service.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import { addHost, AGENT_CB, CLIENT_CB, createAction, FakeAgentGateway, lifecycleAction, openWorld, query, SERVER_UUID, silentLogger } from '../../dist/testing/fakes.js';

/** A task that records its start and finishes when `release` is called. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return { run: async () => { log.push(name); await done; }, release: () => release() };
}

const tick = () => new Promise((r) => setImmediate(r));

test('while an intake is in flight one background task runs at a time, in arrival order; when idle, several', async () => {
  const lane = new IntakeFirstLane({ busyConcurrency: 1, idleConcurrency: 3 });
  const started: string[] = [];
  const done = lane.intakeStarted();
  const tasks = ['a', 'b', 'c', 'd'].map((n) => gate(started, n));
  const settled = tasks.map((t) => lane.enqueue(1, t.run));
  await tick();
  assert.deepEqual(started, ['a'], 'one at a time while the intake is busy');
  tasks[0]!.release();
  await settled[0];
  await tick();
  assert.deepEqual(started, ['a', 'b'], 'the next in arrival order, still one at a time');
  done();
  done(); // a second call does nothing
  await tick();
  assert.deepEqual(started, ['a', 'b', 'c', 'd'], 'idle: up to three at once');
  for (const t of tasks) t.release();
  await Promise.all(settled);
  assert.equal(lane.heldActions, 0);
});

test('a task that throws rejects its own promise only; the lane goes on', async () => {
  const lane = new IntakeFirstLane();
  const bad = lane.enqueue(1, async () => { throw new Error('boom'); });
  const good = lane.enqueue(1, async () => 42);
  await assert.rejects(bad, /boom/);
  assert.equal(await good, 42);
  assert.equal(lane.heldActions, 0);
});

test('past maxQueuedActions the intake is refused with "manager busy"; room comes back as tasks finish', async () => {
  const lane = new IntakeFirstLane({ maxQueuedActions: 3 });
  const g = gate([], 'x');
  const p = lane.enqueue(3, g.run);
  assert.throws(() => lane.assertRoom(1), (e: unknown) => e instanceof ConflictError && /^manager busy: 3 accepted actions are waiting .* \(at most 3\); send again later$/.test(e.message));
  g.release();
  await p;
  lane.assertRoom(3);
});

forEachEngine('the cached backlog count refuses as an exact read would once the principal itself filled it', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const outbox = new (class extends DbClientNotifier {
    override wake(): void {}
  })(w.tx, async () => { throw new Error('callback down'); }, { logger: silentLogger(), retryDelaySeconds: 1 });
  const provisioning = new ProvisioningService(w.tx, new IpamService(), new FakeAgentGateway(), outbox, { agentCallbackUrl: AGENT_CB, logger: silentLogger(), maxPendingStatusesPerPrincipal: 10 });
  // Four single-action sends (refused starts: one status document each) read the count once, then estimate it.
  for (let i = 0; i < 4; i++) await (await provisioning.submit(CLIENT_CB, query(lifecycleAction('start', randomUUID())), { principal: 'alice' })).handedOver;
  // Six more in one message: the estimate (4) is under half the limit, so this send is taken; the backlog is then 10.
  await (await provisioning.submit(CLIENT_CB, query(...Array.from({ length: 6 }, () => lifecycleAction('start', randomUUID()))), { principal: 'alice' })).handedOver;
  await assert.rejects(
    provisioning.submit(CLIENT_CB, query(lifecycleAction('start', randomUUID())), { principal: 'alice' }),
    (e: unknown) => e instanceof ConflictError && e.message.startsWith('callback backlog full: 10 statuses'),
  );
});

forEachEngine("the intake's first hand-over never sends an action that was already sent (taken over while it waited in the lane)", async (t, engine) => {
  const w = await openWorld(t, { engine });
  const server = await addHost(w, 'host1', SERVER_UUID, 20);
  const create = createAction();
  await (await w.provisioning.submit(CLIENT_CB, query(create), { principal: 'alice' })).handedOver;
  assert.equal(w.agent.sent.length, 1, 'handed over once');
  const xml = w.agent.sent[0]!.xml;
  // Still QUEUED under this manager's lease (the fake agent reports nothing), one send attempt counted: what the
  // lane's hand-over finds after the recovery sweep took the action over and sent it.
  assert.equal(await w.provisioning.dispatcher.handOver(create.id, server, xml, 'first'), false, 'a first attempt is refused');
  assert.equal(w.agent.sent.length, 1, 'nothing sent again');
  assert.equal(await w.provisioning.dispatcher.handOver(create.id, server, xml), true, "the recovery's and the operator's re-send still claim it");
  assert.equal(w.agent.sent.length, 2);
});

forEachEngine('a recovery take-over with a fresh lease counts as the send attempt: the lane\'s first hand-over no longer claims the action', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const server = await addHost(w, 'host1', SERVER_UUID, 20);
  const owner = w.provisioning.dispatcher['settings'].instanceId as string;
  const actionId = randomUUID();
  const past = new Date(Date.now() - 1000);
  await new ActionRepository(w.tx.manager).insertQueued({
    uuid: actionId, type: 'start', vmUuid: randomUUID(), callbackUrl: CLIENT_CB, requestedMemoryMb: null, requestedVcpus: null,
    deadline: new Date(Date.now() + 600_000), leaseOwner: owner, leaseExpiresAt: past,
  });
  // The sweep takes it over (its lease ran out while it waited in the lane); the lane's hand-over comes next.
  assert.equal(await new ActionRepository(w.tx.manager).takeOverExpiredLease(actionId, owner, new Date(), { leaseSeconds: 60 }), true);
  assert.equal(await w.provisioning.dispatcher.handOver(actionId, server, '<query/>', 'first'), false, 'the lane does not send it');
  assert.equal(w.agent.sent.length, 0);
  assert.equal((await new ActionRepository(w.tx.manager).findByUuid(actionId))?.sendAttempts, 1, 'the take-over counted the attempt');
});
