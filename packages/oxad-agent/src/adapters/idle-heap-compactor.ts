/**
 * Gives back the V8 heap that a burst of work left behind once the agent is quiet again (issue #14 goal 6,
 * decision 036, amended 2026-12-05).
 *
 * Why: with `--max-semi-space-size=1` the short-lived objects of a create (XML documents, command output, promises
 * that wait seconds for `virsh`) are promoted to the old generation, which grows by several MiB during 10 creates.
 * The full GCs during the work free those objects but leave their pages half empty, and V8's memory reducer, which
 * compacts the heap once a process falls quiet, runs again only when the committed heap grew by ≥ 10 MiB since its
 * last run (`kCommittedMemoryDelta` in V8's memory-reducer.cc): measured, the agent idled at 66.6–67.9 MiB after
 * 10 creates and deletes against 62.2 MiB before, with the same live heap (16.0 MiB) and 5–7 MiB more old space.
 *
 * What: every {@link IdleHeapCompactorOptions.intervalSeconds} the compactor reads the size of V8's old space
 * (`v8.getHeapSpaceStatistics`, microseconds) and the event-loop utilisation since the last check; when the loop was
 * quiet and the old space is at least `minGrowthMiB` larger than its baseline (its size after the last collection,
 * or the smallest size seen since, as V8 shrinks it by itself after start-up), it runs one full GC (`gc()`, which
 * Node exposes with `--expose-gc`, in `AGENT_NODE_FLAGS`) and takes the size after it as the new baseline. The
 * garbage of the work is often not even collected yet (the old space's limit was not reached): that GC frees it, and
 * with `--compact-on-every-full-gc` (also in `AGENT_NODE_FLAGS`, given at start) it compacts the old space too:
 * `gc()` alone evacuates only the pages V8's heuristics pick (measured: a 43.5 MiB old space with 12.5 MiB live
 * stayed at 37.2 MiB; compacting: 13.2 MiB). The flag is given at start, not switched on for this one GC with
 * `v8.setFlagsFromString`: Node documents changing V8 flags after start as possibly unpredictable (crashes, data
 * loss, or nothing). Its cost, every full GC compacting, measured over 10 creates: the agent's CPU +7 % (mean of 10
 * runs), peak RSS +10–13 MiB, under the 96 MiB budget (decision 036, amended).
 * Without `--expose-gc` (an agent started by hand without the flags, tests that start the agent in process) it does
 * nothing; without `--compact-on-every-full-gc` it still collects, without compacting (logged at start, debug).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { Logger } from '@kvm-crm/shared/logger';

/** Options of {@link IdleHeapCompactor}. */
export interface IdleHeapCompactorOptions {
  logger: Logger;
  /** Seconds between two checks. Default 5. */
  intervalSeconds?: number;
  /** Growth of the old space over its baseline (MiB) from which a quiet agent collects. Default 2. */
  minGrowthMiB?: number;
  /** Event-loop utilisation (0–1) since the last check above which the agent counts as busy. Default 0.05. */
  maxLoopUtilisation?: number;
  /** The full GC; default `globalThis.gc` (present with `--expose-gc`). Tests pass their own. */
  gc?: () => void;
  /** Old-space size and used bytes; default from `v8.getHeapSpaceStatistics()`. Tests pass their own. */
  oldSpace?: () => { size: number; used: number };
  /** Event-loop utilisation (0–1) since the previous call; default from `performance.eventLoopUtilization()`. */
  loopUtilisation?: () => number;
}

/** What one {@link IdleHeapCompactor.check} found or did. */
export type CompactorCheck = 'busy' | 'small' | 'collected';

const MiB = 1024 * 1024;

/** Old space's size and used bytes of this process (`v8.getHeapSpaceStatistics`). */
export function v8OldSpace(): { size: number; used: number } {
  const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'old_space');
  return { size: s?.space_size ?? 0, used: s?.space_used_size ?? 0 };
}

/** A function returning this process's event-loop utilisation (0–1) since its previous call. */
export function loopUtilisationMeter(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}

/** Runs one full GC when the agent is quiet and its old space grew since the last one (module comment). */
export class IdleHeapCompactor {
  private readonly gc: () => void;
  private readonly oldSpace: () => { size: number; used: number };
  private readonly loopUtilisation: () => number;
  private readonly minGrowth: number;
  private readonly maxLoop: number;
  private readonly log: Logger;
  /** Old-space bytes after the last collection, or the smallest size seen since (module comment). */
  private baseline: number;
  private timer?: NodeJS.Timeout;
  /** Collections run so far. */
  collections = 0;

  /** Use {@link IdleHeapCompactor.start}, or construct with a `gc` and call {@link check} (tests). */
  constructor(gc: () => void, options: IdleHeapCompactorOptions) {
    this.gc = gc;
    this.oldSpace = options.oldSpace ?? v8OldSpace;
    this.loopUtilisation = options.loopUtilisation ?? loopUtilisationMeter();
    this.minGrowth = (options.minGrowthMiB ?? 2) * MiB;
    this.maxLoop = options.maxLoopUtilisation ?? 0.05;
    this.log = options.logger;
    this.baseline = this.oldSpace().size;
  }

  /**
   * Starts checking every `intervalSeconds` (an unref'd timer: it never keeps the process alive). Returns undefined
   * (and logs at debug level) when there is no GC to call: the process was started without `--expose-gc`.
   */
  static start(options: IdleHeapCompactorOptions): IdleHeapCompactor | undefined {
    const gc = options.gc ?? globalThis.gc;
    if (typeof gc !== 'function') {
      options.logger.debug('idle heap compaction off: node was started without --expose-gc (AGENT_NODE_FLAGS)');
      return undefined;
    }
    if (!process.execArgv.includes('--compact-on-every-full-gc')) {
      options.logger.debug('idle heap compaction without compacting: node was started without --compact-on-every-full-gc (AGENT_NODE_FLAGS)');
    }
    const c = new IdleHeapCompactor(() => gc(), options);
    const ms = (options.intervalSeconds ?? 5) * 1000;
    c.timer = setInterval(() => c.check(), ms);
    c.timer.unref();
    return c;
  }

  /**
   * One check: `busy` (the loop was more than `maxLoopUtilisation` busy since the previous check), `small` (the old
   * space is less than `minGrowthMiB` above its baseline), or `collected` (one full GC ran; logged at debug level
   * with its effect and cost).
   */
  check(): CompactorCheck {
    if (this.loopUtilisation() > this.maxLoop) return 'busy';
    const before = this.oldSpace();
    this.baseline = Math.min(this.baseline, before.size);
    if (before.size < this.baseline + this.minGrowth) return 'small';
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    this.gc();
    const wallMs = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    const after = this.oldSpace();
    this.baseline = after.size;
    this.collections++;
    const m = (b: number) => Math.round((b / MiB) * 10) / 10;
    this.log.debug('idle heap compaction', {
      oldSpaceMiB: { before: m(before.size), after: m(after.size) }, usedMiB: { before: m(before.used), after: m(after.used) },
      wallMs: Math.round(wallMs), cpuMs: Math.round((used.user + used.system) / 1000),
    });
    return 'collected';
  }

  /** Stops the checks. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
