/**
 * "Intake first" (decisions 034, 040): the background work that follows a `send` (admitting the accepted actions,
 * handing them to their agents, which in turn brings the agents' statuses and the client notifications) runs in a
 * lane that gives way to the intake, so a burst of `send`s is answered before the work it queued takes the event loop.
 *
 * Policy: tasks start in arrival order. The intake is *busy* while a submission is in flight and until it has been
 * quiet for {@link LaneOptions.quietMs} after the last one answered (at concurrency 20 the in-flight count drops to 0
 * between two sends, so "in flight" alone does not see a burst). While busy:
 * - at most {@link LaneOptions.busyConcurrency} tasks run at once;
 * - a token budget keeps background work to {@link LaneOptions.busyShare} of the event loop: each task is charged
 *   the loop's active time from its start to its settle (`d` ms, {@link LaneClock.activeMs}: a hand-over waiting on
 *   a slow agent while the loop idles costs little), and after a task of `d` ms started while busy, the next busy
 *   start waits until `d · (1 − share) / share` ms after it ended (a 20 ms admission at share 0.2: 80 ms of rest);
 * - a starvation bound: a task that has waited {@link LaneOptions.maxDeferMs} since it was queued starts anyway
 *   (still within the concurrency limit), so a sustained flood slows the background down, never stops it.
 * When not busy, up to {@link LaneOptions.idleConcurrency} tasks run at once and there is no budget. Every start goes
 * through a macrotask yield (setImmediate), one task per turn, so a request waiting for the loop gets in between.
 *
 * The lane counts the actions it holds (queued and running); the intake refuses new work past its cap (see
 * {@link IntakeFirstLane.assertRoom}), so a flood cannot grow the queue without bound.
 *
 * Not charged to the budget: the agents' statuses and the client notifications a hand-over causes (they arrive as
 * their own requests), and tasks started while the intake was idle.
 */
import { ConflictError } from '@kvm-crm/shared';

/** The time source and timers of the lane: the real ones by default, a fake clock in unit tests. */
export interface LaneClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
  /** Calls `fn` in a later macrotask (after pending I/O callbacks). */
  yieldThen(fn: () => void): void;
  /**
   * Milliseconds the event loop has been active (not waiting for I/O or timers) so far; a task is charged the
   * difference over its run. Default: {@link now} (wall time).
   */
  activeMs?(): number;
}

/** The real clock: `performance.now()`, `setTimeout`, `setImmediate`, the loop's active time (`eventLoopUtilization`). */
export const REAL_LANE_CLOCK: LaneClock = {
  now: () => performance.now(),
  activeMs: () => performance.eventLoopUtilization().active,
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  yieldThen: (fn) => void setImmediate(fn),
};

/** Options of {@link IntakeFirstLane}. Each is validated by the constructor (RangeError when out of range). */
export interface LaneOptions {
  /** Tasks running at once while the intake is busy. Default 1 (at least 1). */
  busyConcurrency?: number;
  /** Tasks running at once while the intake is idle. Default 8 (at least `busyConcurrency`). */
  idleConcurrency?: number;
  /** Most actions the lane holds (queued and running) before the intake refuses new work. Default 2,000 (the manager passes its `maxQueuedHandOvers`). */
  maxQueuedActions?: number;
  /** Milliseconds the intake counts as busy after its last submission answered. Default 100 (0: busy only while one is in flight). */
  quietMs?: number;
  /** Share of the event loop's active time background tasks may take while the intake is busy, in (0, 1]. Default 0.2 (1: no rest between tasks). */
  busyShare?: number;
  /** Most milliseconds a queued task waits for the budget while the intake is busy (the starvation bound). Default 2,000. */
  maxDeferMs?: number;
  /** Time source and timers. Default {@link REAL_LANE_CLOCK}. */
  clock?: LaneClock;
}

/** The defaults of {@link LaneOptions}. */
export const LANE_DEFAULTS = { busyConcurrency: 1, idleConcurrency: 8, maxQueuedActions: 2000, quietMs: 100, busyShare: 0.2, maxDeferMs: 2000 } as const;

interface Task {
  /** Runs the work and settles its caller's promise; never rejects. */
  run: () => Promise<void>;
  /** When it was queued ({@link LaneClock.now}). */
  queuedAt: number;
}

/** Runs background tasks behind the intake (see the file comment). */
export class IntakeFirstLane {
  private readonly busyConcurrency: number;
  private readonly idleConcurrency: number;
  /** The cap on held actions (see {@link LaneOptions.maxQueuedActions}). */
  readonly maxQueuedActions: number;
  private readonly quietMs: number;
  private readonly busyShare: number;
  private readonly maxDeferMs: number;
  private readonly clock: LaneClock;
  private readonly queue: Task[] = [];
  private running = 0;
  private intakes = 0;
  private held = 0;
  /** When the last submission answered (-Infinity: never). */
  private lastIntakeEnd = -Infinity;
  /** No task starts under the budget before this time (the rest owed for the busy tasks that ran). */
  private restUntil = -Infinity;
  /** A pump is scheduled for the next macrotask. */
  private pumpQueued = false;
  /** The pending wake-up: when it fires and how to cancel it. */
  private wake: { at: number; cancel: () => void } | undefined;

  /** @throws RangeError when an option is out of range (see {@link LaneOptions}). */
  constructor(options: LaneOptions = {}) {
    const o = { ...LANE_DEFAULTS, ...stripUndefined(options) };
    if (!Number.isInteger(o.busyConcurrency) || o.busyConcurrency < 1) throw new RangeError(`busyConcurrency must be an integer ≥ 1, not ${o.busyConcurrency}`);
    if (!Number.isInteger(o.idleConcurrency) || o.idleConcurrency < 1) throw new RangeError(`idleConcurrency must be an integer ≥ 1, not ${o.idleConcurrency}`);
    if (!(o.quietMs >= 0)) throw new RangeError(`quietMs must be ≥ 0, not ${o.quietMs}`);
    if (!(o.busyShare > 0 && o.busyShare <= 1)) throw new RangeError(`busyShare must be in (0, 1], not ${o.busyShare}`);
    if (!(o.maxDeferMs >= 0)) throw new RangeError(`maxDeferMs must be ≥ 0, not ${o.maxDeferMs}`);
    this.busyConcurrency = o.busyConcurrency;
    this.idleConcurrency = Math.max(o.busyConcurrency, o.idleConcurrency);
    this.maxQueuedActions = o.maxQueuedActions;
    this.quietMs = o.quietMs;
    this.busyShare = o.busyShare;
    this.maxDeferMs = o.maxDeferMs;
    this.clock = options.clock ?? REAL_LANE_CLOCK;
  }

  /** Actions held: queued or running. */
  get heldActions(): number {
    return this.held;
  }

  /**
   * Marks an intake in flight until the returned function is called (once; later calls do nothing). The intake
   * stays busy for `quietMs` after the last one ends.
   */
  intakeStarted(): () => void {
    // A new busy period: the rest owed from an earlier one is forgiven (the idle time between paid for it).
    if (!this.busyAt(this.clock.now())) this.restUntil = -Infinity;
    this.intakes++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.intakes--;
      if (this.intakes === 0) {
        this.lastIntakeEnd = this.clock.now();
        this.schedulePump();
      }
    };
  }

  /**
   * @throws ConflictError ("manager busy") when taking `actions` more would hold more than the cap: the
   *   background work is behind; the client should send again later.
   */
  assertRoom(actions: number): void {
    if (this.held + actions > this.maxQueuedActions) {
      throw new ConflictError(`manager busy: ${this.held} accepted actions are waiting to be handed to their agents (at most ${this.maxQueuedActions}); send again later`);
    }
  }

  /**
   * Queues `run`, which stands for `actions` actions (counted against the cap until it settles). It starts in a
   * later macrotask, never synchronously. The returned promise settles as `run`'s does.
   */
  enqueue<T>(actions: number, run: () => Promise<T>): Promise<T> {
    this.held += actions;
    return new Promise<T>((resolve, reject) => {
      const settle = <V>(then: (v: V) => void) => (v: V) => {
        this.held -= actions;
        then(v);
      };
      this.queue.push({ run: () => run().then(settle(resolve), settle(reject)), queuedAt: this.clock.now() });
      this.schedulePump();
    });
  }

  /** Whether the intake is busy at `now`: a submission in flight, or one answered less than `quietMs` ago. */
  private busyAt(now: number): boolean {
    return this.intakes > 0 || now - this.lastIntakeEnd < this.quietMs;
  }

  /** Runs {@link pump} in the next macrotask (once, however often asked). */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    this.clock.yieldThen(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Starts the head task if the policy allows it now; otherwise arranges to be called again when it may. */
  private pump(): void {
    const head = this.queue[0];
    if (!head) return;
    const now = this.clock.now();
    const busy = this.busyAt(now);
    // When the intake turns idle by itself (quiet long enough), more tasks may start: be called then.
    const idleAt = this.intakes === 0 && busy ? this.lastIntakeEnd + this.quietMs : Infinity;
    if (this.running >= (busy ? this.busyConcurrency : this.idleConcurrency)) {
      this.wakeAt(idleAt, now); // otherwise a task's end calls pump
      return;
    }
    if (busy && now < this.restUntil && now - head.queuedAt < this.maxDeferMs) {
      this.wakeAt(Math.min(this.restUntil, head.queuedAt + this.maxDeferMs, idleAt), now);
      return;
    }
    this.queue.shift();
    this.running++;
    const activeAtStart = this.activeMs();
    void head.run().finally(() => {
      this.running--;
      if (busy) {
        const end = this.clock.now();
        const rest = ((this.activeMs() - activeAtStart) * (1 - this.busyShare)) / this.busyShare;
        this.restUntil = Math.max(this.restUntil, end + rest);
      }
      this.schedulePump();
    });
    if (this.queue.length > 0) this.schedulePump(); // the next one, after a yield
  }

  /** The loop's active milliseconds so far (the clock's, else its wall time). */
  private activeMs(): number {
    return this.clock.activeMs ? this.clock.activeMs() : this.clock.now();
  }

  /** Arranges a pump at time `at` (Infinity: none), keeping the earlier one when one is already set. */
  private wakeAt(at: number, now: number): void {
    if (at === Infinity || (this.wake && this.wake.at <= at)) return;
    this.wake?.cancel();
    const cancel = this.clock.setTimer(() => {
      this.wake = undefined;
      this.pump();
    }, Math.max(0, at - now));
    this.wake = { at, cancel };
  }
}

/** `o` without its undefined fields (so they do not override the defaults). */
function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
