/**
 * "Intake first" (decision 034): the background work that follows a `send` (handing the stored actions to their
 * agents, which in turn brings the agents' statuses and the client notifications) runs in a lane that gives way to
 * the intake, so a burst of `send`s is answered before the work it queued takes the event loop.
 *
 * Policy: tasks start in arrival order. While any intake is in flight (a `send` between its start and its answer),
 * at most {@link LaneOptions.busyConcurrency} tasks run at once; when the intake is idle, up to
 * {@link LaneOptions.idleConcurrency}. The busy limit is at least one, so background work never starves: it goes on
 * at a slower pace while the intake is busy, and catches up when it is idle. The lane counts the actions it holds
 * (queued and running); the intake refuses new work past its cap (see {@link IntakeFirstLane.assertRoom}), so a flood
 * cannot grow the queue without bound.
 */
import { ConflictError } from '@kvm-crm/shared';

/** Options of {@link IntakeFirstLane}. */
export interface LaneOptions {
  /** Tasks running at once while an intake is in flight. Default 1 (at least 1). */
  busyConcurrency?: number;
  /** Tasks running at once while no intake is in flight. Default 8. */
  idleConcurrency?: number;
  /** Most actions the lane holds (queued and running) before the intake refuses new work. Default 2,000 (the manager passes its `maxQueuedHandOvers`). */
  maxQueuedActions?: number;
}

interface Task {
  /** Runs the work and settles its caller's promise; never rejects. */
  run: () => Promise<void>;
}

/** Runs background tasks behind the intake (see the file comment). */
export class IntakeFirstLane {
  private readonly busyConcurrency: number;
  private readonly idleConcurrency: number;
  /** The cap on held actions (see {@link LaneOptions.maxQueuedActions}). */
  readonly maxQueuedActions: number;
  private readonly queue: Task[] = [];
  private running = 0;
  private intakes = 0;
  private held = 0;

  constructor(options: LaneOptions = {}) {
    this.busyConcurrency = Math.max(1, options.busyConcurrency ?? 1);
    this.idleConcurrency = Math.max(this.busyConcurrency, options.idleConcurrency ?? 8);
    this.maxQueuedActions = options.maxQueuedActions ?? 2000;
  }

  /** Actions held: queued or running. */
  get heldActions(): number {
    return this.held;
  }

  /**
   * Marks an intake in flight until the returned function is called (once; later calls do nothing).
   */
  intakeStarted(): () => void {
    this.intakes++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.intakes--;
      if (this.intakes === 0) this.pump();
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
   * Queues `run`, which stands for `actions` actions (counted against the cap until it settles). The returned
   * promise settles as `run`'s does.
   */
  enqueue<T>(actions: number, run: () => Promise<T>): Promise<T> {
    this.held += actions;
    return new Promise<T>((resolve, reject) => {
      const settle = <V>(then: (v: V) => void) => (v: V) => {
        this.held -= actions;
        then(v);
      };
      this.queue.push({ run: () => run().then(settle(resolve), settle(reject)) });
      this.pump();
    });
  }

  /** Starts queued tasks up to the current limit. */
  private pump(): void {
    const limit = this.intakes > 0 ? this.busyConcurrency : this.idleConcurrency;
    while (this.running < limit && this.queue.length > 0) {
      const task = this.queue.shift()!;
      this.running++;
      void task.run().finally(() => {
        this.running--;
        this.pump();
      });
    }
  }
}
