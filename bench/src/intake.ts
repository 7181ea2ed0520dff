/**
 * Benchmark (not a test): the intake, issue #14 goal 2. `send` of create actions at concurrency 20 against the
 * manager running as a child process (`packages/vt-manager/dist/main.js`, real HTTPS, the clearinghouse's Basic
 * login checked by the manager), on SQLite and on MariaDB (a database per run), with the address pools pre-filled to
 * 0 and to 10,000 taken slots (excluded addresses: slot rows like allocated ones, added through the admin RPC
 * `ipv4.addRange`/`mac.addRange`). Measured: accepted creates per second (creates / wall time from the first `send`
 * to the last answer) and the latency of each `send` (p50, p99), medians over the runs. Since decision 039 `send`
 * answers once its actions are durable as intake rows (one group-committed INSERT); admission (placement,
 * addresses, the action row) and the hand-over follow in the background, so "all terminal" (until every action's
 * terminal status reached the clearinghouse) and the manager's CPU per create are the whole life of the actions.
 *
 * The agent is the legacy OCF agent test/python/legacy_agent.py (`--delay 0`: it answers `send` at once and reports
 * ONGOING then SUCCESS through `sendAsync` over HTTP, keeping VMs in memory): a real peer that takes the actions
 * through the normal hand-over, so every action ends SUCCESS or FAILED, while the agent's own work is not what is
 * measured. After each run the bench waits until every action reached the test clearinghouse with a terminal status
 * and checks that each got exactly one (it throws otherwise).
 *
 * Alone: `node bench/dist/intake.js [--quick] [--runs N] [--cpu-prof] [--keep-profiles DIR] [--only sqlite|mariadb] [--fill N]`. `--fill N` measures that
 * fill only (taken slots per pool, at most 60,000), for quick before/after comparisons. `--cpu-prof` runs
 * the manager under `node --cpu-prof` during the measured runs (not the set-up) and adds the profile's top
 * self-time entries per engine. --quick: 40 creates, 1 run, pools pre-filled to 0 and 1,000.
 */
import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { connectMysql, createQuery, createTestDatabase, mysqlSettings, startManagerProcesses, type ManagerProcesses } from '@kvm-crm/harness';
import type { BenchGoal, BenchOptions, BenchSection } from './bench-section.js';
import { profileTable, profileTop, type ProfileEntry } from './cpu-profile-top.js';
import { INTAKE_BASELINE_MARKDOWN } from './intake-baseline.js';

const CONCURRENCY = 20;
const GOAL_RATE = { sqlite: 500, mariadb: 300 } as const;
const GOAL_P99_MS = 100;

type Engine = 'sqlite' | 'mariadb';

/** Options beyond {@link BenchOptions} (the command line's). */
export interface IntakeOptions extends BenchOptions {
  /** Measured runs per engine and fill. Default 3 (quick: 1). */
  runs?: number;
  /** Profile the manager during the measured runs (`--cpu-prof`). Default false. */
  cpuProf?: boolean;
  /** Only this engine. Default both. */
  only?: Engine;
  /** Only this fill (taken slots per pool, 0–60,000). Default both of the mode's (0 and 10,000; quick 0 and 1,000). */
  fill?: number;
  /** With cpuProf: also copy each profile to this folder as `intake-<engine>-<fill>.cpuprofile` (for DevTools). */
  keepProfiles?: string;
}

/** One measured run. */
interface RunFigures {
  creates: number;
  wallMs: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** Milliseconds from the first `send` until every action had its terminal status. */
  terminalMs: number;
  failed: number;
  /** The FAILED statuses' descriptions with their counts, e.g. `2 × agent unreachable …`. */
  failures: string[];
  /**
   * The manager process's CPU time (user + system, all threads) from the first `send` until every action was
   * terminal, per create: intake, hand-over, statuses and client notifications. The machine's load does not inflate
   * it as it does wall times.
   */
  cpuMsPerCreate?: number;
}

/** The runs of one engine at one fill. */
interface Combination {
  engine: Engine;
  fill: number;
  runs: RunFigures[];
  profile?: { busyMs: number; entries: ProfileEntry[] };
  loadavg: string;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
const median = (xs: number[]) => quantile(xs, 0.5);
const round1 = (x: number) => Math.round(x * 10) / 10;

/** `n` consecutive addresses from `first` (an integer), written by `format`. */
function addresses(first: number, n: number, format: (x: number) => string): string[] {
  return Array.from({ length: n }, (_, i) => format(first + i));
}
const ipv4 = (x: number) => [24, 16, 8, 0].map((s) => (x >>> s) & 255).join('.');
const mac = (x: number) => Array.from({ length: 6 }, (_, i) => ((x / 2 ** (8 * (5 - i))) & 255).toString(16).padStart(2, '0')).join(':');
const IPV4_FIRST = (10 << 24) + (80 << 16) + 1; // 10.80.0.1 … 10.80.255.255: 65,535 addresses
const MAC_FIRST = 0x02fe80000000; // 02:fe:80:00:00:00 … 02:fe:80:00:ff:ff: 65,536 addresses

/** The clean-ups not yet run, for a SIGINT/SIGTERM of the command line. */
const pending = new Set<Cleanups>();

/** Collects clean-ups the way node:test's `t.after` does, and runs them in reverse. */
class Cleanups {
  private readonly hooks: Array<() => unknown> = [];
  constructor() {
    pending.add(this);
  }
  after = (fn: () => unknown): void => {
    this.hooks.push(fn);
  };
  async run(): Promise<void> {
    pending.delete(this);
    for (const fn of this.hooks.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (Linux; clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Stops a manager with SIGTERM (so a `--cpu-prof` profile is written) and waits for it to exit. */
async function stopGracefully(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Sends `count` creates at concurrency 20; returns the run's figures once every action is terminal (checked). */
async function measureRun(bed: ManagerProcesses, serverUuid: string, count: number, tag: string): Promise<RunFigures> {
  const creates = Array.from({ length: count }, (_, i) => createQuery({ serverUuid, name: `${tag}${i}`, template: 'tpl' }));
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < creates.length) {
        const c = creates[next++]!;
        const t0 = performance.now();
        await bed.plugin.a.call('send', [bed.clearinghouse.callbackUrl, c.xml]);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const wallMs = performance.now() - started;
  for (const c of creates) await bed.clearinghouse.waitForTerminal(c.actionId, 180_000, 0);
  const terminalMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 300)); // a second terminal status would arrive within this
  let failed = 0;
  const reasons = new Map<string, number>();
  for (const c of creates) {
    const terminal = bed.clearinghouse.statuses(c.actionId).filter((s) => s.status === 'SUCCESS' || s.status === 'FAILED');
    if (terminal.length !== 1) throw new Error(`action ${c.actionId}: ${terminal.length} terminal statuses (${JSON.stringify(terminal)})`);
    if (terminal[0]!.status === 'FAILED') {
      failed++;
      const why = (terminal[0]!.description ?? '').slice(0, 160);
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
  }
  return {
    creates: count, wallMs: Math.round(wallMs), perSecond: round1((count / wallMs) * 1000),
    p50: round1(median(latencies)), p99: round1(quantile(latencies, 0.99)), max: round1(Math.max(...latencies)), terminalMs: Math.round(terminalMs), failed,
    failures: [...reasons].map(([why, n]) => `${n} × ${why}`),
  };
}

/** The database section for `engine`, and its clean-up; or a reason why MariaDB is not available. */
async function databaseFor(engine: Engine, cleanups: Cleanups): Promise<Record<string, unknown> | string> {
  if (engine === 'sqlite') return { type: 'sqlite', path: 'manager.sqlite' };
  const settings = mysqlSettings();
  if (typeof settings === 'string') return settings;
  const admin = await connectMysql(settings, { connectTimeout: 3000 }).catch((err: Error) => err.message);
  if (typeof admin === 'string') return `MariaDB at ${settings.host}:${settings.port}: ${admin}`;
  const db = await createTestDatabase(admin, settings);
  cleanups.after(() => db.drop());
  return db.config;
}

/** Set-up, warm-up and the runs of one engine at one fill. */
async function measureCombination(engine: Engine, fill: number, creates: number, runs: number, o: IntakeOptions): Promise<Combination | string> {
  const cleanups = new Cleanups();
  try {
    const database = await databaseFor(engine, cleanups);
    if (typeof database === 'string') return database;
    const bed = await startManagerProcesses(cleanups, {
      dirPrefix: `kvmcrm-bench-intake-${engine}-`, database, managers: ['a'], agentDelay: '0',
      config: { actionTimeoutSeconds: 300 },
    });
    let child = await bed.start('a');
    const t0 = performance.now();
    const { serverUuid } = await bed.registerLegacyServer({
      ipv4: { start: ipv4(IPV4_FIRST), end: ipv4(IPV4_FIRST + 65_534), netmask: '255.255.0.0', gateway: '10.80.0.0', excluded: addresses(IPV4_FIRST, fill, ipv4) },
      mac: { start: mac(MAC_FIRST), end: mac(MAC_FIRST + 65_535), excluded: addresses(MAC_FIRST, fill, mac) },
    });
    o.log(`intake ${engine} fill ${fill}: set up in ${Math.round(performance.now() - t0)} ms`);
    const profDir = o.cpuProf ? await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-bench-intake-prof-')) : undefined;
    if (profDir) {
      cleanups.after(() => rm(profDir, { recursive: true, force: true }));
      await stopGracefully(child);
      child = await bed.start('a', ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    }
    await measureRun(bed, serverUuid, CONCURRENCY, `warm${engine}`); // JIT, pooled connections, the project's claim
    const figures: RunFigures[] = [];
    for (let r = 0; r < runs; r++) {
      const cpuBefore = await cpuSeconds(child.pid!);
      const f = await measureRun(bed, serverUuid, creates, `r${r}${engine}`);
      f.cpuMsPerCreate = round1(((await cpuSeconds(child.pid!)) - cpuBefore) * 1000 / creates);
      o.log(`intake ${engine} fill ${fill} run ${r + 1}: ${f.perSecond}/s, p50 ${f.p50} ms, p99 ${f.p99} ms, all terminal ${f.terminalMs} ms, ${f.failed} FAILED, manager CPU ${f.cpuMsPerCreate} ms/create`);
      figures.push(f);
    }
    const loadavg = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    let profile: Combination['profile'];
    if (profDir) {
      await stopGracefully(child);
      const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
      if (file) profile = await profileTop(path.join(profDir, file));
      if (file && o.keepProfiles) await copyFile(path.join(profDir, file), path.join(o.keepProfiles, `intake-${engine}-${fill}.cpuprofile`));
    }
    return { engine, fill, runs: figures, profile, loadavg };
  } finally {
    await cleanups.run();
  }
}

/** The benchmark section (see the file comment). */
export async function run(options: IntakeOptions): Promise<BenchSection> {
  const creates = options.quick ? 40 : 500;
  const runs = options.runs ?? (options.quick ? 1 : 3);
  const fills = options.fill !== undefined ? [options.fill] : options.quick ? [0, 1000] : [0, 10_000];
  const engines: Engine[] = options.only ? [options.only] : ['sqlite', 'mariadb'];
  const results: Combination[] = [];
  const skipped: string[] = [];
  for (const engine of engines) {
    for (const fill of fills) {
      const r = await measureCombination(engine, fill, creates, runs, options);
      if (typeof r === 'string') {
        if (process.env['CI'] || process.env['KVMCRM_TEST_REQUIRE_MYSQL']) throw new Error(`intake bench: ${engine} unavailable: ${r}`);
        skipped.push(`${engine}: ${r}`);
        break;
      }
      results.push(r);
    }
  }
  const goals: BenchGoal[] = [];
  const lines: string[] = [
    `Method: bench/src/intake.ts. ${creates} creates per run (one action per \`send\`) at concurrency ${CONCURRENCY}, ${runs} run(s) per engine and fill after a warm-up of ${CONCURRENCY}; the manager as a child process (HTTPS, Basic login), the legacy OCF agent (test/python/legacy_agent.py, \`--delay 0\`) taking the hand-overs; every action checked to end in exactly one terminal status. Fill = taken slots (excluded addresses) in the IPv4 pool and the MAC pools before the runs.`,
    '',
    `Command: \`node bench/dist/intake.js${options.quick ? ' --quick' : ''}${options.cpuProf ? ' --cpu-prof' : ''}${options.fill !== undefined ? ` --fill ${options.fill}` : ''}\`. Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}.`,
    '',
    '| engine | fill | run | accepted/s | p50 ms | p99 ms | max ms | all terminal ms | FAILED | manager CPU ms/create | load avg (after) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const c of results) {
    c.runs.forEach((f, i) => lines.push(`| ${c.engine} | ${c.fill} | ${i + 1} | ${f.perSecond} | ${f.p50} | ${f.p99} | ${f.max} | ${f.terminalMs} | ${f.failed} | ${f.cpuMsPerCreate ?? ''} | ${c.loadavg} |`));
    const rate = median(c.runs.map((f) => f.perSecond));
    const p50 = median(c.runs.map((f) => f.p50));
    const p99 = median(c.runs.map((f) => f.p99));
    const cpu = median(c.runs.map((f) => f.cpuMsPerCreate ?? NaN));
    lines.push(`| **${c.engine}** | **${c.fill}** | median | **${rate}** | **${p50}** | **${p99}** | | | | **${cpu}** | |`);
    const of = `${c.engine === 'sqlite' ? 'SQLite' : 'MariaDB'}, pools filled to ${c.fill}`;
    goals.push({ goal: `send creates accepted per second, concurrency ${CONCURRENCY} (${of})`, target: `≥ ${GOAL_RATE[c.engine]}/s`, measured: `${rate}/s (median of ${c.runs.length})`, met: rate >= GOAL_RATE[c.engine] });
    goals.push({ goal: `send latency p99 (${of})`, target: `≤ ${GOAL_P99_MS} ms`, measured: `${p99} ms (p50 ${p50} ms, median of ${c.runs.length})`, met: p99 <= GOAL_P99_MS });
  }
  for (const c of results) {
    c.runs.forEach((f, i) => {
      if (f.failures.length) lines.push('', `FAILED in ${c.engine}, fill ${c.fill}, run ${i + 1}: ${f.failures.join('; ')}`);
    });
  }
  for (const s of skipped) lines.push('', `Skipped ${s}.`);
  for (const c of results.filter((x) => x.profile)) {
    lines.push(
      '',
      `Manager CPU profile (main thread), ${c.engine}, fill ${c.fill}: ${c.profile!.busyMs} ms sampled busy over the warm-up and the runs (sample intervals stretch when the machine is loaded, so compare shares, not milliseconds). Top self time:`,
      '',
      profileTable(c.profile!.entries),
    );
  }
  lines.push('', INTAKE_BASELINE_MARKDOWN.trimEnd());
  return { title: 'Intake: send of creates at concurrency 20 (issue #14 goal 2)', markdown: lines.join('\n'), goals };
}

/** The command line (see the file comment). */
async function main(): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // The manager, the agent, the database and the folders of the run in progress go too.
      void Promise.all([...pending].map((c) => c.run())).finally(() => process.exit(130));
    });
  }
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const runs = value('--runs');
  const only = value('--only');
  const keepProfiles = value('--keep-profiles');
  const fill = value('--fill');
  if (fill !== undefined && !(/^[0-9]{1,5}$/.test(fill) && Number(fill) <= 60_000)) throw new Error('--fill takes 0–60000');
  if (only !== undefined && only !== 'sqlite' && only !== 'mariadb') throw new Error('--only sqlite|mariadb');
  if (runs !== undefined && !/^[1-9][0-9]?$/.test(runs)) throw new Error('--runs takes 1–99');
  const section = await run({
    quick: args.includes('--quick'), log: (l) => process.stderr.write(`${l}\n`),
    cpuProf: args.includes('--cpu-prof') || keepProfiles !== undefined, ...(runs ? { runs: Number(runs) } : {}), ...(only ? { only } : {}),
    ...(fill !== undefined ? { fill: Number(fill) } : {}),
    ...(keepProfiles ? { keepProfiles: path.resolve(keepProfiles) } : {}),
  });
  process.stdout.write(`## ${section.title}\n\n${section.markdown}\n\n`);
  for (const g of section.goals) process.stdout.write(`- ${g.met ? 'met' : 'NOT met'}: ${g.goal}: ${g.measured} (target ${g.target})\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
