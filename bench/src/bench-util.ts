/**
 * Small helpers every benchmark module shares: statistics over runs (min/median/max), pair-by-pair ratios, the
 * machine description and load average, a bounded-concurrency pool, and a fast ready-line wait.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { execa } from 'execa';
import { waitForReadyLine, type ReadyLine } from '@kvm-crm/harness';

/** min, median and max of `xs` (ms or any unit). @throws Error when `xs` is empty. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

/** The median of `xs`. @throws Error when `xs` is empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** min/median/max of `xs`. @throws Error when `xs` is empty. */
export function spread(xs: readonly number[]): Spread {
  if (xs.length === 0) throw new Error('spread of no values');
  return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
}

/** Ratio of each pair `a[i] / b[i]`. @throws Error when the lengths differ. */
export function pairRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`pairRatios: ${a.length} against ${b.length} values`);
  return a.map((x, i) => x / b[i]!);
}

/** "12 ms" (rounded). */
export const ms = (x: number): string => `${x.toFixed(0)} ms`;
/** "1.234". */
export const ratio = (x: number): string => x.toFixed(3);
/** "min / median / max" with `f` applied. */
export const spreadText = (s: Spread, f: (x: number) => string): string => `${f(s.min)} / ${f(s.median)} / ${f(s.max)}`;

/** `/proc/loadavg`'s three load averages, e.g. "1.52 1.47 1.46". */
export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

/** The machine as one Markdown list: CPU, cores, RAM (GiB), kernel, Node, libvirt, QEMU. */
export async function machineDescription(): Promise<string> {
  const cpu = (await readFile('/proc/cpuinfo', 'utf8')).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
  const libvirt = (await execa('virsh', ['-c', 'qemu:///system', 'version'], { reject: false })).stdout.match(/Using library: libvirt (\S+)/)?.[1] ?? '?';
  const qemu = (await execa('qemu-system-x86_64', ['--version'], { reject: false })).stdout.split('\n')[0] ?? '?';
  return [
    `- CPU: ${cpu}, ${os.cpus().length} cores`,
    `- RAM: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- kernel: Linux ${os.release()}`,
    `- Node ${process.version}, libvirt ${libvirt}, ${qemu}`,
  ].join('\n');
}

/**
 * Runs `jobs` with at most `limit` at a time (limit ≥ 1); resolves with their results in order. The first failure
 * rejects once the jobs already running have settled (none is left running behind the caller's back).
 */
export async function pool<T>(jobs: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`pool: bad limit ${limit}`);
  const results: T[] = new Array(jobs.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (next < jobs.length && !failure) {
      const i = next++;
      try {
        results[i] = await jobs[i]!();
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failure) throw failure.err;
  return results;
}

/**
 * Polls the serial log `logPath` every 20 ms (the harness's default 250 ms is too coarse for a ratio) until the test
 * template's ready line appears; the harness's {@link waitForReadyLine}. @throws Error after `timeoutMs` with the
 * log's tail, or at once when the guest's kernel panicked.
 */
export function waitReady(logPath: string, timeoutMs = 180_000): Promise<ReadyLine> {
  return waitForReadyLine(logPath, timeoutMs, { pollMs: 20, failOnPanic: true });
}

/** A counting semaphore: `limit` holders at a time (limit ≥ 1), the rest wait in arrival order. */
export class Gate {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`Gate: bad limit ${limit}`);
    this.free = limit;
  }

  /** Runs `f` holding one place; the place is given back however `f` ends. */
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await f();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** CPU time (utime + stime) of process `pid` in ms, from /proc/<pid>/stat; NaN when unreadable (no such process). */
export async function processCpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return Number.isFinite(ticks) && f.length > 12 ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : NaN;
}

/** USER_HZ of /proc/<pid>/stat: 100 on every Linux architecture the project runs on (x86_64, arm64). */
const CLOCK_TICKS_PER_SECOND = 100;
