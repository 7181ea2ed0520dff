/**
 * Benchmark (issue #14 goal 6): the agent's memory, measured on the agent as a separate process (a one-host cluster
 * of the harness: `node packages/oxad-agent/dist/main.js` in its network namespace, started as in production).
 * Samples `VmRSS` and `VmHWM` from /proc/<pid>/status: just started (registered, before any action: 20 samples over
 * 4 s after a 3 s settle), idle (the same, 20 samples from {@link IDLE_SETTLE_MS} after start), then every 10 ms while
 * it runs 10 concurrent creates (quick: 3; overlay, seed ISO, `virsh define`, not started), then idle again after they
 * are deleted (the same 20 samples, {@link IDLE_SETTLE_MS} after the last delete's SUCCESS). Targets: idle ≤ 64 MiB,
 * also after work, ≤ 96 MiB during.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { AGENT_NODE_FLAGS } from '@kvm-crm/oxad-agent';
import { createQuery, lifecycleQuery, REPO_ROOT, startCluster } from '@kvm-crm/harness';
import type { BenchOptions, BenchSection } from './bench-section.js';
import { median } from './bench-util.js';
import { MEMORY_MIB, TEMPLATE } from './one-vm.js';

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/**
 * How long the agent is left alone before its idle samples, in ms (from the cluster being up, or from the last
 * delete). V8's memory reducer collects the garbage of a burst of work (start-up: loading and compiling modules,
 * registration) with full GCs once the process has allocated nothing for ~8 s; before that the agent's RSS is
 * ~4.5 MiB higher (measured: 66.2 MiB at 0–6 s, 61.7 MiB from 9 s on, flat until 45 s). An agent idles for hours,
 * so idle is measured after that; the "just started" row keeps the earlier figure.
 */
export const IDLE_SETTLE_MS = 15_000;

/**
 * VmRSS and VmHWM of process `pid`, and VmRSS's two main parts: `anon` (RssAnon: V8's heap, malloc, stacks) and
 * `file` (RssFile: mapped files, mostly the pages of the `node` binary that ran, shared with every other node
 * process), in MiB. @throws when the process is gone.
 */
export async function rssMiB(pid: number): Promise<{ rss: number; hwm: number; anon: number; file: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

/** CPU time (user + system) process `pid` has used so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15 of proc(5))
}

/** VmRSS and VmHWM of the agent's libvirt connection helper (its child running libvirt-session.py), if it runs. */
async function libvirtHelperRss(agentPid: number): Promise<{ pid: number; rss: number; hwm: number } | undefined> {
  const children = (await readFile(`/proc/${agentPid}/task/${agentPid}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
  for (const child of children) {
    const cmdline = await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('libvirt-session.py')) return { pid: child, ...(await rssMiB(child)) };
  }
  return undefined;
}

/** `count` samples of VmRSS `everyMs` apart. */
async function idleSamples(pid: number, count: number, everyMs: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < count; i++) {
    xs.push((await rssMiB(pid)).rss);
    await sleep(everyMs);
  }
  return xs;
}

const mib = (x: number) => `${x.toFixed(1)} MiB`;

/** What loading costs: a fresh `node <AGENT_NODE_FLAGS>` that imports `what` (nothing: ''), its VmRSS after 0.5 s. */
async function loadCost(what: string): Promise<number> {
  const code = `${what ? `await import(${JSON.stringify(what)});` : ''} await new Promise((r) => setTimeout(r, 500)); const s = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8'); console.log(/VmRSS:\\s+(\\d+)/.exec(s)[1]);`;
  const { stdout } = await execa(process.execPath, [...AGENT_NODE_FLAGS, '--input-type=module', '-e', code], { cwd: path.join(REPO_ROOT, 'packages/oxad-agent') });
  return Number(stdout.trim()) / 1024;
}

/** Where the idle RSS comes from: Node alone, then with the modules the agent loads (median of 3 each). */
export async function loadProfile(): Promise<string> {
  const rows: Array<[string, string]> = [
    ['node alone (`node -e …`)', ''],
    ['node:https (OpenSSL initialised)', 'node:https'],
    ['zod', 'zod'],
    ['zod/v4/locales (its 60 locales, which every entry point of zod 4 loads)', 'zod/v4/locales'],
    ['express', 'express'],
    ['node-forge (all of it; the agent loads its asn1/pem/oids/util modules only, decision 036)', 'node-forge'],
    ['execa', 'execa'],
    ['winston', 'winston'],
    ['prom-client', 'prom-client'],
    ['@opentelemetry/api (prom-client\'s default metrics require it)', '@opentelemetry/api'],
    ['@kvm-crm/shared (its whole index: XML-RPC, TLS, rspec, GENI, console, winston, zod; the agent imports subpaths)', '@kvm-crm/shared'],
    ['@kvm-crm/oxad-agent (every module of the agent, not started)', path.join(REPO_ROOT, 'packages/oxad-agent/dist/index.js')],
  ];
  const out: string[] = ['| loaded | VmRSS (median of 3) |', '|---|---|'];
  for (const [label, what] of rows) {
    const xs = [await loadCost(what), await loadCost(what), await loadCost(what)];
    out.push(`| ${label} | ${mib(median(xs))} |`);
  }
  return out.join('\n');
}

/** Runs the measurement. */
export async function run(options: BenchOptions): Promise<BenchSection> {
  const creates = options.quick ? 3 : 10;
  // 10 VMs of 1 vCPU on a 2-core host: above the default overcommit (4 vCPUs per CPU), so the manager would refuse
  // some (and 10 × 8200 MiB overlays may exceed the free disk); they are only defined, never started.
  const c = await startCluster({ hosts: 1, monitoring: { intervalSeconds: 0 }, managerOptions: () => ({ capacity: { cpuOvercommit: 16, diskOvercommit: 4 } }) });
  try {
    const host = c.hosts[0]!;
    const pid = host.pid;
    if (pid === undefined) throw new Error('the agent is not running');
    const upAt = Date.now();
    await sleep(3000);
    const justStarted = await idleSamples(pid, 20, 200);
    options.log(`just started: median ${mib(median(justStarted))}`);
    await sleep(Math.max(0, upAt + IDLE_SETTLE_MS - Date.now()));
    const idle = await idleSamples(pid, 20, 200);
    const { hwm: hwmIdle, anon: anonIdle, file: fileIdle } = await rssMiB(pid);
    options.log(`idle: median ${mib(median(idle))}, VmHWM ${mib(hwmIdle)}; last sample RssAnon ${mib(anonIdle)} + RssFile ${mib(fileIdle)}`);

    // 10 creates in one wave, sampled every 10 ms until all are terminal.
    const qs = Array.from({ length: creates }, (_, i) => createQuery({ serverUuid: host.serverUuid, name: `mem-${i + 1}`, template: TEMPLATE, memoryMb: MEMORY_MIB }));
    let busy = true;
    const during: number[] = [];
    const cpuAtCreates = await cpuMs(pid);
    const sampler = (async () => {
      while (busy) {
        during.push((await rssMiB(pid)).rss);
        await sleep(10);
      }
    })();
    try {
      await Promise.all(qs.map((q) => c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml])));
      const ends = await Promise.all(qs.map((q) => c.clearinghouse.waitForTerminal(q.actionId, 300_000, 0)));
      const failed = ends.filter((s) => s.at(-1)!.status !== 'SUCCESS');
      if (failed.length) throw new Error(`${failed.length} creates failed: ${JSON.stringify(failed[0])}`);
    } finally {
      busy = false;
      await sampler;
    }
    const createsCpu = (await cpuMs(pid)) - cpuAtCreates;
    const hwmAfter = (await rssMiB(pid)).hwm;
    const peak = Math.max(...during);
    options.log(`during ${creates} creates: peak VmRSS ${mib(peak)} (${during.length} samples), VmHWM ${mib(hwmAfter)}; agent CPU ${createsCpu} ms (${Math.round(createsCpu / creates)} ms per create)`);
    const dels = qs.map((q, i) => lifecycleQuery('delete', { serverUuid: host.serverUuid, vmUuid: q.vmUuid, name: `mem-${i + 1}` }));
    await Promise.all(dels.map((d) => c.plugin.call('send', [c.clearinghouse.callbackUrl, d.xml])));
    await Promise.all(dels.map((d) => c.clearinghouse.waitForTerminal(d.actionId, 300_000, 0)));
    const cpuAtQuiet = await cpuMs(pid);
    await sleep(IDLE_SETTLE_MS);
    const idleAfter = await idleSamples(pid, 20, 200);
    const quietCpu = (await cpuMs(pid)) - cpuAtQuiet;
    const after = await rssMiB(pid);
    const idleAfterMedian = median(idleAfter);
    options.log(`idle after work: median ${mib(idleAfterMedian)}; RssAnon ${mib(after.anon)} + RssFile ${mib(after.file)}; VmHWM ${mib(after.hwm)}; agent CPU ${quietCpu} ms from the last delete's SUCCESS to the last sample`);

    const idleMedian = median(idle);
    const helper = await libvirtHelperRss(pid);
    options.log(`libvirt connection helper: ${helper ? `pid ${helper.pid}, VmRSS ${mib(helper.rss)}, VmHWM ${mib(helper.hwm)}` : 'not running'}`);
    const profile = await loadProfile();
    const markdown = `The agent of a one-host cluster, its own process (\`node packages/oxad-agent/dist/main.js --config …\`,
pid sampled from /proc/<pid>/status; the Node flags are those of the agent's start script and systemd unit).

| moment | VmRSS | VmHWM (peak since start) |
|---|---|---|
| just started: registered, no action yet, 3–7 s after start (median of 20 samples over 4 s; min–max) | ${mib(median(justStarted))} (${mib(Math.min(...justStarted))}–${mib(Math.max(...justStarted))}) | — |
| idle: the same, ${IDLE_SETTLE_MS / 1000}–${IDLE_SETTLE_MS / 1000 + 4} s after start, once V8's memory reducer has run (median of 20 samples over 4 s; min–max) | ${mib(idleMedian)} (${mib(Math.min(...idle))}–${mib(Math.max(...idle))}) | ${mib(hwmIdle)} |
| of which, after the 20 samples: anonymous (RssAnon: V8 heap, malloc, stacks) + file-backed (RssFile: mostly the \`node\` binary's pages, shared by every node process) | ${mib(anonIdle)} + ${mib(fileIdle)} | — |
| during ${creates} concurrent creates (peak of ${during.length} samples, 10 ms apart) | ${mib(peak)} | ${mib(hwmAfter)} |
| the agent's CPU time (user + system) for these ${creates} creates, from sending them to the last one's SUCCESS (per create) | ${createsCpu} ms (${Math.round(createsCpu / creates)} ms) | — |
| idle after work: the same 20 samples ${IDLE_SETTLE_MS / 1000}–${IDLE_SETTLE_MS / 1000 + 4} s after the last delete's SUCCESS (median; min–max) | ${mib(idleAfterMedian)} (${mib(Math.min(...idleAfter))}–${mib(Math.max(...idleAfter))}) | ${mib(after.hwm)} (the compacting GC once quiet: decision 036) |
| of which, after the 20 samples: anonymous + file-backed | ${mib(after.anon)} + ${mib(after.file)} | — |
| the agent's CPU time (user + system) from the last delete's SUCCESS to the last of these samples (includes its one idle heap compaction) | ${quietCpu} ms | — |
| not counted above: the agent's libvirt connection helper (decision 041: \`python3 libvirt-session.py\`, its own process, replacing the ~19 MiB \`virsh\` process each libvirt call started), after the work | ${helper ? mib(helper.rss) : 'not running'} | ${helper ? mib(helper.hwm) : '—'} |

Where the idle RSS comes from (Node flags \`${AGENT_NODE_FLAGS.join(' ')}\`, each a fresh process importing one thing):

${profile}
`;
    return {
      title: 'agent memory (goal 6)',
      markdown,
      goals: [
        { goal: 'agent idle RSS', target: '≤ 64 MiB', measured: `${mib(idleMedian)} (median of 20 samples; its libvirt connection helper, a process of its own, ${helper ? mib(helper.rss) : 'not running'} more)`, met: idleMedian <= 64 },
        { goal: 'agent idle RSS after work (creates and deletes)', target: '≤ 64 MiB', measured: `${mib(idleAfterMedian)} (median of 20 samples)`, met: idleAfterMedian <= 64 },
        { goal: `agent RSS while it runs ${creates} concurrent creates`, target: '≤ 96 MiB', measured: `${mib(peak)} (peak VmRSS; VmHWM ${mib(hwmAfter)})`, met: peak <= 96 },
      ],
    };
  } finally {
    await c.cleanup();
  }
}
