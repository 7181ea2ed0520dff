/**
 * A small semaphore with a bounded queue: at most `max` tasks run at once, at most `maxQueued` wait. Used to cap
 * concurrent scrypt password checks (basic-authenticator.ts, decision 016), so a burst of logins cannot fill
 * libuv's thread pool (which DNS lookups and file I/O share) or the memory scrypt needs (≈32 MiB per check).
 */
import { RateLimitedError } from '@kvm-crm/shared';

/** Runs tasks with bounded concurrency and a bounded queue (see the file comment). */
export class CheckSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    /** Tasks running at once (≥ 1). */
    private readonly max: number,
    /** Tasks waiting at most; more are refused. */
    private readonly maxQueued: number,
  ) {}

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` once a slot is free and resolves with its result.
   * @throws RateLimitedError (retry after 1 s) when `maxQueued` tasks already wait; the task's own error otherwise.
   */
  async run<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.running < this.max) this.running++;
    else {
      if (this.waiting.length >= this.maxQueued) throw new RateLimitedError('too many logins being checked: retry in 1 s', 1);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
