/**
 * Decisions 034 and 040: the background lane gives way to the intake (one task at a time while the intake is busy,
 * i.e. a `send` in flight or answered less than `quietMs` ago, within `busyShare` of the loop's active time and never deferred past
 * `maxDeferMs`; more when idle), keeps arrival order, yields between starts, and refuses work past its cap; the backlog guard's cached count never
 * lets a principal past the limit that an exact read would refuse after its own sends; the first hand-over claims
 * an action only while no send was made.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { randomUUID } from 'node:crypto';
import { ConflictError } from '@kvm-crm/shared';
import { ActionRepository } from '../../dist/repositories/action-repository.js';
import { IntakeFirstLane, type LaneClock } from '../../dist/services/provisioning/intake-first-lane.js';
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

/** Queues one gated task per name on `lane`; `startedAt[name]` is the clock's time when it started. */
function gatedTasks(lane: IntakeFirstLane, clock: LaneClock, names: string[]) {
  const startedAt: Record<string, number> = {};
  const tasks = names.map((n) => {
    const g = gate([], n);
    return { ...g, promise: lane.enqueue(1, async () => { startedAt[n] = clock.now(); await g.run(); }) };
  });
  return { startedAt, tasks };
}

/**
 * A fake {@link LaneClock} for these tests only: time moves when the test says so, timers fire in due order from
 * {@link advance}, and the lane's macrotask yields run only from {@link turn} / {@link settle}, one turn at a time.
 */
class FakeClock implements LaneClock {
  t = 1000;
  private timers: Array<{ at: number; fn: () => void }> = [];
  private yields: Array<() => void> = [];
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): () => void {
    const entry = { at: this.t + ms, fn };
    this.timers.push(entry);
    return () => (this.timers = this.timers.filter((e) => e !== entry));
  }
  yieldThen(fn: () => void): void {
    this.yields.push(fn);
  }
  /** Lets promise callbacks run, then runs the yields queued so far (one macrotask turn). */
  async turn(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const due = this.yields;
    this.yields = [];
    due.forEach((fn) => fn());
    await new Promise((r) => setImmediate(r));
  }
  /** Turns until no yield is pending. */
  async settle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await this.turn();
      if (this.yields.length === 0) return;
    }
    throw new Error('the lane keeps yielding');
  }
  /** Moves time forward by `ms`, firing due timers in order (settling after each). */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await this.settle();
      const next = this.timers.filter((e) => e.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((e) => e !== next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = target;
    await this.settle();
  }
}


test('while an intake is in flight one background task runs at a time, in arrival order; when idle, several', async () => {
  const clock = new FakeClock();
  const lane = new IntakeFirstLane({ busyConcurrency: 1, idleConcurrency: 3, busyShare: 1, quietMs: 0, clock });
  const started: string[] = [];
  const done = lane.intakeStarted();
  const tasks = ['a', 'b', 'c', 'd'].map((n) => gate(started, n));
  const settled = tasks.map((t) => lane.enqueue(1, t.run));
  assert.deepEqual(started, [], 'nothing starts synchronously in enqueue');
  await clock.settle();
  assert.deepEqual(started, ['a'], 'one at a time while the intake is busy');
  tasks[0]!.release();
  await settled[0];
  await clock.settle();
  assert.deepEqual(started, ['a', 'b'], 'the next in arrival order, still one at a time');
  done();
  done(); // a second call does nothing
  await clock.turn();
  assert.deepEqual(started, ['a', 'b', 'c'], 'idle: one more per macrotask turn, not all in one');
  await clock.settle();
  assert.deepEqual(started, ['a', 'b', 'c', 'd'], 'idle: up to three at once');
  for (const t of tasks) t.release();
  await Promise.all(settled);
  assert.equal(lane.heldActions, 0);
});

test('the intake stays busy for quietMs after its last answer, then the lane opens up to the idle limit', async () => {
  const clock = new FakeClock();
  const lane = new IntakeFirstLane({ busyConcurrency: 1, idleConcurrency: 4, busyShare: 1, quietMs: 100, clock });
  const started: string[] = [];
  const tasks = ['a', 'b', 'c'].map((n) => gate(started, n));
  lane.intakeStarted()();
  const settled = tasks.map((t) => lane.enqueue(1, t.run));
  await clock.advance(99);
  assert.deepEqual(started, ['a'], 'still busy 99 ms after the answer: one at a time');
  await clock.advance(1);
  assert.deepEqual(started, ['a', 'b', 'c'], 'quiet for 100 ms: idle, the rest start (woken by the lane\'s own timer)');
  // A new intake makes it busy again: with two running, the next waits.
  const more = gate(started, 'd');
  const stop = lane.intakeStarted();
  const last = lane.enqueue(1, more.run);
  await clock.advance(10);
  assert.deepEqual(started, ['a', 'b', 'c'], 'busy again: nothing new while three run');
  stop();
  for (const t of tasks) t.release();
  await Promise.all(settled);
  await clock.advance(50);
  assert.deepEqual(started, ['a', 'b', 'c', 'd'], 'room under the busy limit: it starts');
  more.release();
  await last;
});

test('while busy, background tasks keep to busyShare of wall time: after a task of d ms the next waits d·(1−share)/share', async () => {
  const clock = new FakeClock();
  const lane = new IntakeFirstLane({ busyShare: 0.2, quietMs: 0, maxDeferMs: 10_000, clock });
  const stop = lane.intakeStarted();
  const { startedAt, tasks } = gatedTasks(lane, clock, ['a', 'b', 'c']);
  await clock.settle();
  assert.equal(startedAt.a, 1000, 'the first starts at once');
  await clock.advance(20); // a runs 20 ms
  tasks[0]!.release();
  await tasks[0]!.promise;
  await clock.advance(79);
  assert.equal(startedAt.b, undefined, '79 ms after a 20 ms task at share 0.2: still resting');
  await clock.advance(1);
  assert.equal(startedAt.b, 1100, '80 ms of rest after 20 ms of work: 20 % of the wall time');
  tasks[1]!.release(); // b took 0 ms: no rest owed
  await tasks[1]!.promise;
  await clock.settle();
  assert.equal(startedAt.c, 1100, 'a task of 0 ms owes no rest');
  tasks[2]!.release();
  await tasks[2]!.promise;
  stop();
});

test('a task is charged the loop\'s active time, not its wall time: a hand-over waiting on a slow agent owes little rest', async () => {
  const clock = new FakeClock();
  let active = 0; // the loop's active milliseconds, moved by the test (a real clock reads eventLoopUtilization)
  const lane = new IntakeFirstLane({ busyShare: 0.2, quietMs: 0, maxDeferMs: 10_000, clock: Object.assign(clock, { activeMs: () => active }) });
  const stop = lane.intakeStarted();
  const { startedAt, tasks } = gatedTasks(lane, clock, ['a', 'b']);
  await clock.settle();
  assert.equal(startedAt.a, 1000);
  active += 5; // 5 ms of work (the admission), then 495 ms waiting on the agent with the loop idle
  await clock.advance(500);
  tasks[0]!.release();
  await tasks[0]!.promise;
  await clock.advance(19);
  assert.equal(startedAt.b, undefined, '5 ms active at share 0.2: 20 ms of rest, not 2,000');
  await clock.advance(1);
  assert.equal(startedAt.b, 1520, 'b starts 20 ms after a ended');
  tasks[1]!.release();
  await tasks[1]!.promise;
  stop();
});

test('the starvation bound: a task waits for the budget at most maxDeferMs after it was queued', async () => {
  const clock = new FakeClock();
  const lane = new IntakeFirstLane({ busyShare: 0.1, quietMs: 0, maxDeferMs: 500, clock });
  const stop = lane.intakeStarted();
  const startedAt: number[] = [];
  const long = gate([], 'long');
  const first = lane.enqueue(1, async () => { startedAt.push(clock.now()); await long.run(); });
  await clock.settle();
  await clock.advance(1000); // 1 s of work at share 0.1: 9 s of rest owed
  const second = lane.enqueue(1, async () => { startedAt.push(clock.now()); });
  long.release();
  await first;
  await clock.advance(499);
  assert.deepEqual(startedAt, [1000], 'resting: not yet');
  await clock.advance(1);
  assert.deepEqual(startedAt, [1000, 2500], 'queued at 2000, started at 2500 despite 9 s of rest owed');
  await second;
  stop();
});

test('tasks started while the intake was idle owe no rest; the idle limit has no budget', async () => {
  const clock = new FakeClock();
  const lane = new IntakeFirstLane({ busyShare: 0.2, quietMs: 0, clock });
  const startedAt: number[] = [];
  const g = gate([], 'idle');
  const idleTask = lane.enqueue(1, async () => { startedAt.push(clock.now()); await g.run(); });
  await clock.settle();
  await clock.advance(1000);
  g.release();
  await idleTask;
  const stop = lane.intakeStarted();
  const busyTask = lane.enqueue(1, async () => { startedAt.push(clock.now()); });
  await clock.settle();
  assert.deepEqual(startedAt, [1000, 2000], 'the busy task starts at once: the idle one was not charged');
  await busyTask;
  stop();
});

test('a new busy period forgives the rest owed from the last one', async () => {
  const clock = new FakeClock();
  const lane = new IntakeFirstLane({ busyShare: 0.1, quietMs: 100, maxDeferMs: 60_000, clock });
  const startedAt: number[] = [];
  const stop = lane.intakeStarted();
  const long = gate([], 'long');
  const first = lane.enqueue(1, async () => { startedAt.push(clock.now()); await long.run(); });
  await clock.settle();
  await clock.advance(1000); // 1 s of busy work at share 0.1: 9 s of rest owed
  long.release();
  await first;
  stop();
  await clock.advance(500); // quiet for 500 ms: idle
  const again = lane.intakeStarted();
  const next = lane.enqueue(1, async () => { startedAt.push(clock.now()); });
  await clock.settle();
  assert.deepEqual(startedAt, [1000, 2500], 'starts at once in the new busy period');
  await next;
  again();
  // Within one busy period the rest still holds (the same lane, a 1 s task again).
  const stop2 = lane.intakeStarted();
  const long2 = gate([], 'long2');
  const third = lane.enqueue(1, async () => { startedAt.push(clock.now()); await long2.run(); });
  await clock.settle();
  await clock.advance(1000);
  long2.release();
  await third;
  const fourth = lane.enqueue(1, async () => { startedAt.push(clock.now()); });
  await clock.advance(8999);
  assert.equal(startedAt.length, 3, 'still resting 8,999 ms after a 1 s task at share 0.1');
  await clock.advance(1);
  assert.equal(startedAt.length, 4);
  await fourth;
  stop2();
});

test('options out of range are refused', () => {
  assert.throws(() => new IntakeFirstLane({ busyShare: 0 }), /busyShare must be in \(0, 1\], not 0/);
  assert.throws(() => new IntakeFirstLane({ busyShare: 1.5 }), RangeError);
  assert.throws(() => new IntakeFirstLane({ busyConcurrency: 0 }), /busyConcurrency must be an integer ≥ 1/);
  assert.throws(() => new IntakeFirstLane({ quietMs: -1 }), /quietMs must be ≥ 0/);
  assert.throws(() => new IntakeFirstLane({ maxDeferMs: Number.NaN }), /maxDeferMs must be ≥ 0/);
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
