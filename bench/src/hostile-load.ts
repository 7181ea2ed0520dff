/**
 * Benchmark (not a test): the event loop's worst stall inside the manager while it is fed each hostile input class
 * of bench/src/hostile-inputs.ts, with a legitimate `ping`'s latency (p50, p99) measured beside it, against a
 * quiet baseline in the same run (issue 9, "Done means"; the goal is no stall over 50 ms).
 *
 * The manager (and the agent; no VM is booted) runs in this process (`startCluster({ withTemplate: false })`), so
 * `perf_hooks.monitorEventLoopDelay` samples the manager's own event loop; the load generators share it, so their
 * client-side work (TLS handshakes, sending bodies) is counted too: the figures are an upper bound. Loopback only;
 * every class is bounded and the run stops by itself. `--runs N` (default 3) runs per class; the medians are
 * printed and written to bench/HOSTILE-RESULTS.md.
 */
import { writeFile, readFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { methodCallXml, REPO_ROOT, startCluster, type Cluster } from '@kvm-crm/harness';
import { HOSTILE_CLASSES, post, type HostileClass } from './hostile-inputs.js';

const GOAL_MS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}
const median = (xs: number[]) => quantile(xs, 0.5);

interface Measure {
  stallMs: number;
  p50: number;
  p99: number;
  pings: number;
  failedPings: number;
  ms: number;
}

/** Runs `load` while sampling the loop delay and pinging as the clearinghouse (kept connection, every 10 ms). */
async function measure(c: Cluster, load: () => Promise<void>, minMs: number): Promise<Measure> {
  const u = new URL(c.pluginUrl);
  const [user, pass] = [decodeURIComponent(u.username), decodeURIComponent(u.password)];
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const body = methodCallXml('ping', ['legit']);
  await post(c, '/xmlrpc/plugin', body, user, pass, agent); // connection and cached login made before measuring
  const h = monitorEventLoopDelay({ resolution: 5 });
  const latencies: number[] = [];
  let failedPings = 0;
  let running = true;
  const started = performance.now();
  h.enable();
  const pinger = (async () => {
    while (running) {
      const t0 = performance.now();
      const status = await post(c, '/xmlrpc/plugin', body, user, pass, agent);
      if (status === 200) latencies.push(performance.now() - t0);
      else failedPings++;
      await sleep(10);
    }
  })();
  await Promise.all([load(), sleep(minMs)]);
  running = false;
  await pinger;
  h.disable();
  agent.destroy();
  return { stallMs: h.max / 1e6, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), pings: latencies.length, failedPings, ms: performance.now() - started };
}

async function machine(): Promise<string> {
  const cpu = (await readFile('/proc/cpuinfo', 'utf8')).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}; load average at start ${load}`;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Math.max(1, Number(process.argv[i + 1])) : 3;
  const c = await startCluster({ withTemplate: false });
  const rows: Array<{ name: string; stall: number; p50: number; p99: number; failed: number }> = [];
  try {
    const classes: HostileClass[] = [{ name: 'quiet baseline', prepare: async () => async () => undefined }, ...HOSTILE_CLASSES];
    for (const k of classes) {
      const results: Measure[] = [];
      for (let r = 0; r < runs; r++) {
        const load = await k.prepare(c);
        await sleep(500); // let the previous run's connections and background work settle
        results.push(await measure(c, load, 2000));
      }
      const row = { name: k.name, stall: median(results.map((m) => m.stallMs)), p50: median(results.map((m) => m.p50)), p99: median(results.map((m) => m.p99)), failed: results.reduce((a, m) => a + m.failedPings, 0) };
      rows.push(row);
      console.log(`${row.name.padEnd(48)} stall ${row.stall.toFixed(1).padStart(7)} ms   ping p50 ${row.p50.toFixed(1).padStart(7)} ms   p99 ${row.p99.toFixed(1).padStart(7)} ms${row.failed ? `   (${row.failed} pings failed)` : ''}${row.stall > GOAL_MS ? '   > 50 ms' : ''}`);
    }
  } finally {
    await c.cleanup();
  }
  const table = [
    '| input class | worst event-loop stall (ms) | ping p50 (ms) | ping p99 (ms) | over 50 ms |',
    '|---|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${r.stall.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.stall > GOAL_MS ? '**yes**' : 'no'}${r.failed ? ` (${r.failed} pings failed)` : ''} |`),
  ].join('\n');
  const doc = `# Hostile-input load benchmark\n\nMachine: ${await machine()}\nDate: ${new Date().toISOString()}\nGit: run \`npm run bench:hostile\` on the branch to reproduce.\n\n` +
    `Medians of ${runs} runs per class. The stall is \`monitorEventLoopDelay\`'s maximum (resolution 5 ms) inside the process that runs the ` +
    `manager (the agent and the load generators share it, so their client-side work counts too: an upper bound). ` +
    `The ping is a legitimate clearinghouse \`ping\` on a kept connection every 10 ms while the class runs. Goal: no stall over ${GOAL_MS} ms.\n\n${table}\n`;
  await writeFile(path.join(REPO_ROOT, 'bench/HOSTILE-RESULTS.md'), doc);
  console.log(`\nwritten to bench/HOSTILE-RESULTS.md`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
