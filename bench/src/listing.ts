/**
 * Benchmark of `listResources` at cluster scale (issue #14 goal 1, decision 031), on SQLite and on MariaDB (a
 * per-run database on the test server of scripts/setup-mariadb.sh):
 *
 *   node bench/dist/listing.js [--quick] [--engine sqlite|mysql]   (the umbrella runner calls `run`: both engines)
 *
 * The inventory (1,000 servers, 10,000 VMs; --quick: 50 / 500) is seeded through the manager's repositories
 * (vt-manager/testing inventory-seed.ts), the manager runs as a child process, and every call goes over HTTPS.
 * First, the view's first build after the manager started (no per-server pieces to reuse, decision 035), with its CPU
 * time. Then medians of 10 runs (--quick: 2) of: the full document after a listed change (cold: the view is rebuilt), the
 * full document again (cached), the unchanged check (`[hash, ""]`), the worst `ping` wait while 5 listings of 5
 * views are built at once (seen from this process, which receives the 5 answers, and from a pinger in a worker thread
 * of its own: bench/src/ping-worker.ts), the manager's peak RSS, and the cost for a caller with 10 VMs at 1/10 and at all of the
 * VMs (linear in the caller's own VMs plus servers). A last pass runs the manager with `--cpu-prof` over 3 cold
 * listings after one untimed first build (so the profile shows the rebuild after a change, as the goal measures).
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectMysql, createTestDatabase, mysqlSettings } from '@kvm-crm/harness';
import { openInventoryDatabase, seedInventory, touchVm } from '@kvm-crm/vt-manager/testing';
import type { BenchGoal, BenchOptions, BenchSection } from './bench-section.js';
import { answerHash, profileTop, startManagerChild, type ManagerChild } from './listing-manager.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');

interface EngineFigures {
  engine: 'sqlite' | 'mysql';
  servers: number;
  vms: number;
  documentMiB: number;
  /** The big view's first build after the manager started (no pieces to reuse): ms and the manager's CPU ms. */
  first: { ms: number; cpuMs: number };
  cold: number[];
  /** The manager's CPU ms (user + system) during each cold call. */
  coldCpu: number[];
  cached: number[];
  unchanged: number[];
  pingWorst: number[];
  /** The same from a client of its own (a worker thread: not the loop that receives the 5 answers). */
  pingWorstApart: number[];
  /** The manager's own longest event-loop delay (ms) during each round of 5 listings, and its GCs over 10 ms. */
  lagMax: number[];
  gcOver10ms: string[];
  pingIdle: number[];
  smallAt10th: number[];
  smallAtAll: number[];
  rssIdle: number;
  rssPeak: number;
  profile: string[];
}

const BIG = 'expedient';
const SMALL = 'small-ch';

async function measureEngine(engine: 'sqlite' | 'mysql', o: BenchOptions): Promise<EngineFigures | string> {
  const size = o.quick ? { servers: 50, vms: 500, runs: 2 } : { servers: 1000, vms: 10_000, runs: 10 };
  const dir = await mkdtemp(path.join(os.tmpdir(), `kvmcrm-bench-listing-${engine}-`));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  let database: Record<string, unknown>;
  if (engine === 'mysql') {
    const settings = mysqlSettings();
    if (typeof settings === 'string') return `MariaDB not available: ${settings}`;
    const db = await createTestDatabase(await connectMysql(settings), settings);
    cleanups.unshift(db.drop);
    database = db.config;
  } else {
    database = { type: 'sqlite', path: path.join(dir, 'manager.sqlite') };
  }
  let manager: ManagerChild | undefined;
  try {
    const inv = await openInventoryDatabase(database as Parameters<typeof openInventoryDatabase>[0], path.join(dir, 'secrets.key'));
    cleanups.unshift(inv.close);
    const projects: Array<[string, string]> = Array.from({ length: 10 }, (_, i) => [`bench-project-${i}`, BIG]);
    const t0 = performance.now();
    const first = await seedInventory(inv.tx, { servers: size.servers, vms: size.vms / 10, projects, seed: 1, prefix: 'b-' });
    const small = await seedInventory(inv.tx, { servers: 1, vms: 10, projects: [['small-project', SMALL]], seed: 2, prefix: 's-' });
    o.log(`listing[${engine}]: seeded ${size.servers + 1} servers, ${size.vms / 10 + 10} VMs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    manager = await startManagerChild(dir, database, [BIG, SMALL], false);
    const rssIdle = manager.rss().nowMiB;
    let n = 0;
    const cold = async (user: string, vmIds: number[], params: unknown[] = ['0']) => {
      await touchVm(inv.tx, vmIds[n % vmIds.length]!, n);
      n += 1;
      return manager!.call(user, 'listResources', params);
    };
    const smallAt10th: number[] = [];
    for (let r = 0; r < size.runs; r += 1) smallAt10th.push((await cold(SMALL, small.vmIds)).ms);

    const t1 = performance.now();
    const rest = await seedInventory(inv.tx, { servers: 0, vms: size.vms - size.vms / 10, projects, seed: 3, prefix: 'c-', onServers: first.serverIds });
    o.log(`listing[${engine}]: seeded ${rest.vmIds.length} more VMs in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    const bigVms = [...first.vmIds, ...rest.vmIds];
    const smallAtAll: number[] = [];
    for (let r = 0; r < size.runs; r += 1) smallAtAll.push((await cold(SMALL, small.vmIds)).ms);

    const firstCpu0 = manager.cpuMs();
    const firstBuild = { ms: (await cold(BIG, bigVms)).ms, cpuMs: manager.cpuMs() - firstCpu0 };
    const mem = (what: string) => o.log(`listing[${engine}]: manager RSS ${manager!.rss().nowMiB.toFixed(0)} MiB, peak ${manager!.rss().peakMiB.toFixed(0)} MiB ${what}`);
    mem('after the first build of the full view');
    const coldRuns: number[] = [];
    const coldCpu: number[] = [];
    let body: Buffer = Buffer.alloc(0);
    for (let r = 0; r < size.runs; r += 1) {
      const cpu0 = manager.cpuMs();
      const a = await cold(BIG, bigVms);
      coldCpu.push(manager.cpuMs() - cpu0);
      coldRuns.push(a.ms);
      body = a.body;
    }
    mem('after the cold full documents');
    const hash = answerHash(body);
    const cached: number[] = [];
    const unchanged: number[] = [];
    for (let r = 0; r < size.runs; r += 1) cached.push((await manager.call(BIG, 'listResources', ['0'])).ms);
    for (let r = 0; r < size.runs; r += 1) {
      const a = await manager.call(BIG, 'listResources', [hash]);
      if (answerHash(a.body) !== hash || a.body.length > 400) throw new Error('the unchanged check did not answer [hash, ""]');
      unchanged.push(a.ms);
    }
    const pingIdle: number[] = [];
    for (let r = 0; r < size.runs; r += 1) pingIdle.push((await manager.call(BIG, 'ping', ['x'])).ms);
    const pingWorst: number[] = [];
    const pingWorstApart: number[] = [];
    const lagMax: number[] = [];
    const gcOver10ms: string[] = [];
    for (let r = 0; r < size.runs; r += 1) {
      await touchVm(inv.tx, bigVms[n % bigVms.length]!, n);
      n += 1;
      await manager.loopStats(); // restarts the manager's loop-delay histogram
      const apart = await manager.pinger(BIG);
      let done = false;
      let worst = 0;
      const pinger = (async () => {
        while (!done) worst = Math.max(worst, (await manager!.call(BIG, 'ping', ['x'])).ms);
      })();
      await Promise.all([['0'], ['0', 'None', 'slice-0'], ['0', 'None', 'slice-1'], ['0', 'None', 'slice-2'], ['0', 'None', 'slice-3']].map((p) => manager!.call(BIG, 'listResources', p)));
      done = true;
      await pinger;
      pingWorst.push(worst);
      pingWorstApart.push((await apart.stop()).worst);
      const stats = await manager.loopStats();
      lagMax.push(stats.lagMaxMs);
      gcOver10ms.push(stats.gcKinds || 'none');
      mem(`after round ${r + 1} (5 listings at once; V8 heap ${stats.heapMiB.toFixed(0)} MiB, external ${stats.externalMiB.toFixed(0)} MiB)`);
    }
    const rssPeak = manager.rss().peakMiB;
    await manager.stop();

    manager = await startManagerChild(path.join(dir), database, [BIG, SMALL], true);
    await cold(BIG, bigVms); // the first build (no pieces yet) stays out of the profiled window
    const p0 = performance.now();
    for (let r = 0; r < 3; r += 1) await cold(BIG, bigVms);
    const profiledMs = performance.now() - p0;
    await manager.stop();
    const profile = profileTop(path.join(dir, 'prof'), 12, profiledMs + 500);
    manager = undefined;
    return {
      engine, servers: size.servers + 1, vms: size.vms + 10, documentMiB: body.length / 1024 / 1024, first: firstBuild, cold: coldRuns, coldCpu, cached, unchanged, pingWorst, pingWorstApart, lagMax, gcOver10ms, pingIdle,
      smallAt10th, smallAtAll, rssIdle, rssPeak, profile,
    };
  } catch (err) {
    // keep the manager's log for the post-mortem: the run's folder is removed below
    await copyFile(path.join(dir, 'manager.log'), path.join(os.tmpdir(), `kvmcrm-bench-listing-${engine}-manager.log`)).catch(() => undefined);
    throw err;
  } finally {
    await manager?.stop();
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

/** Runs the listing benchmark on SQLite and MariaDB (or on `engines`). */
export async function run(options: BenchOptions, engines: ReadonlyArray<'sqlite' | 'mysql'> = ['sqlite', 'mysql']): Promise<BenchSection> {
  const load = () => readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
  const lines: string[] = [];
  const goals: BenchGoal[] = [];
  lines.push(`Method: \`node bench/dist/listing.js${options.quick ? ' --quick' : ''}\` (bench/src/listing.ts). Inventory seeded through the manager's repositories; the manager is a child process (RSS from /proc); calls over HTTPS with keep-alive, timed to the last byte of the answer. "Cold": a VM state change first (the view is rebuilt). Load average before: ${load()}; ${os.cpus().length} CPUs.`, '');
  for (const engine of engines) {
    const f = await measureEngine(engine, options);
    const label = engine === 'sqlite' ? 'SQLite' : 'MariaDB';
    if (typeof f === 'string') {
      lines.push(`### ${label}`, '', `Not measured: ${f}.`, '');
      goals.push({ goal: `listResources (${label})`, target: 'measured', measured: f, met: false });
      continue;
    }
    const ratio = median(f.smallAtAll) / median(f.smallAt10th);
    lines.push(
      `### ${label}: ${f.servers} servers, ${f.vms} VMs, document ${f.documentMiB.toFixed(1)} MiB on the wire`, '',
      '| what | median ms | runs (ms) |', '|---|---|---|',
      `| first build of the view after the manager started (nothing to reuse; one run) | ${f.first.ms.toFixed(1)} | manager CPU ${f.first.cpuMs.toFixed(0)} ms |`,
      `| full document, cold (after a change) | ${median(f.cold).toFixed(1)} | ${fmt(f.cold)} |`,
      `| manager CPU time of a cold full document | ${median(f.coldCpu).toFixed(0)} | ${fmt(f.coldCpu)} |`,
      `| full document, cached (hash '0', nothing changed) | ${median(f.cached).toFixed(1)} | ${fmt(f.cached)} |`,
      `| unchanged check (current hash → [hash, ""]) | ${median(f.unchanged).toFixed(1)} | ${fmt(f.unchanged)} |`,
      `| ping, idle | ${median(f.pingIdle).toFixed(1)} | ${fmt(f.pingIdle)} |`,
      `| worst ping wait while 5 views are built at once (pinger in the process receiving the 5 answers) | ${median(f.pingWorst).toFixed(1)} | ${fmt(f.pingWorst)} |`,
      `| the same, pinger in a worker thread of its own (a separate client) | ${median(f.pingWorstApart).toFixed(1)} | ${fmt(f.pingWorstApart)} |`,
      `| the manager's longest event-loop delay in those rounds (its own /metrics, 10 ms resolution) | ${median(f.lagMax).toFixed(1)} | ${fmt(f.lagMax)} |`,
      `| caller with 10 VMs, cold, at ${Math.round(f.vms / 10)} VMs in all | ${median(f.smallAt10th).toFixed(1)} | ${fmt(f.smallAt10th)} |`,
      `| caller with 10 VMs, cold, at ${f.vms} VMs in all | ${median(f.smallAtAll).toFixed(1)} | ${fmt(f.smallAtAll)} |`,
      '', `Manager GCs over 10 ms in those rounds: ${f.gcOver10ms.join('; ')}.`, '', `Manager RSS: ${f.rssIdle.toFixed(0)} MiB after start, peak ${f.rssPeak.toFixed(0)} MiB (VmHWM) over all the listings. Ratio of the small caller's cost (all VMs / one tenth): ${ratio.toFixed(2)}. Load average after: ${load()}.`, '',
      `CPU profile of the manager over 3 cold full listings (\`--cpu-prof\`, start-up left out), top self time:`, '', '| share of busy | ms | function |', '|---|---|---|', ...f.profile, '',
    );
    const g = (goal: string, target: string, measured: string, met: boolean) => goals.push({ goal: `${goal} (${label}, ${f.vms} VMs)`, target, measured, met });
    g('listResources full document, cold', '≤ 300 ms', `${median(f.cold).toFixed(0)} ms (median of ${f.cold.length})`, median(f.cold) <= 300);
    g('listResources unchanged check', '≤ 20 ms', `${median(f.unchanged).toFixed(1)} ms (median of ${f.unchanged.length})`, median(f.unchanged) <= 20);
    g('worst ping wait during 5 listings, separate client', '≤ 50 ms', `${median(f.pingWorstApart).toFixed(0)} ms (median of ${f.pingWorstApart.length}; ${median(f.pingWorst).toFixed(0)} ms from the process receiving the answers)`, median(f.pingWorstApart) <= 50);
    g('longest manager event-loop delay during 5 listings (its /metrics)', '≤ 50 ms', `${median(f.lagMax).toFixed(0)} ms (median of ${f.lagMax.length})`, median(f.lagMax) <= 50);
    g('manager RSS peak during listings', '≤ 256 MiB', `${f.rssPeak.toFixed(0)} MiB`, f.rssPeak <= 256);
    g('cost for a caller with 10 VMs, all VMs / one tenth', 'linear in own VMs + servers (≤ 1.5)', ratio.toFixed(2), ratio <= 1.5);
  }
  return { title: 'listResources at cluster scale (issue #14 goal 1)', markdown: lines.join('\n'), goals };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const at = process.argv.indexOf('--engine');
  const engine = at > 0 ? process.argv[at + 1] : undefined;
  if (engine !== undefined && engine !== 'sqlite' && engine !== 'mysql') throw new Error(`--engine: sqlite or mysql, not ${engine}`);
  const section = await run({ quick, log: (l) => process.stderr.write(`${l}\n`) }, engine ? [engine] : undefined);
  process.stdout.write(`## ${section.title}\n\n${section.markdown}\n\n| goal | target | measured | met |\n|---|---|---|---|\n`);
  for (const g of section.goals) process.stdout.write(`| ${g.goal} | ${g.target} | ${g.measured} | ${g.met ? 'yes' : 'no'} |\n`);
}
