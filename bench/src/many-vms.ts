/**
 * Benchmark (issue #14 goal 5): many VMs at once. 20 creates + starts (quick: 3) spread over the three-host test
 * cluster (agents in network namespaces, decision 018; creates name no server, placement `spread` picks), each start
 * sent as soon as its create succeeded; against the bare script doing the same 20 with the same parallelism: the
 * agents run at most `maxConcurrentActions` (default 4) actions each, so at most 3 × 4 = 12 bare scripts run at a
 * time (the wait for the ready line holds no place, as a started VM holds no agent slot). Guests: 128 MiB, 1 vCPU,
 * TCG on this machine. Measured from the first request to the LAST ready line; sides alternate (kvm-crm first),
 * runs: 1 (the guests' boots dominate; a pair takes minutes). Target: ratio ≤ 1.1.
 */
import type { BenchOptions, BenchSection } from './bench-section.js';
import { Gate, ms, ratio } from './bench-util.js';
import { startBenchCluster } from './bench-cluster.js';
import { bareCreateStart, kvmCrmCreateStart, MEMORY_MIB, type GuestTimes } from './one-vm.js';

/** Agent default `maxConcurrentActions` (packages/oxad-agent/src/agent-options.ts). */
const AGENT_SLOTS = 4;
const HOSTS = 3;

/** Runs all `jobs` at once; resolves with the time from the start to the last ready line and each job's times. */
async function wave(jobs: Array<(onReady: (now: number) => void) => Promise<GuestTimes>>): Promise<{ lastReady: number; times: GuestTimes[] }> {
  const t0 = performance.now();
  let last = t0;
  const times = await Promise.all(jobs.map((j) => j((now) => { last = Math.max(last, now); })));
  return { lastReady: last - t0, times };
}

/** Runs the comparison. */
export async function run(options: BenchOptions): Promise<BenchSection> {
  const count = options.quick ? 3 : 20;
  const { c, peer } = await startBenchCluster(HOSTS);
  try {
    const gate = new Gate(HOSTS * AGENT_SLOTS);
    const k = await wave(Array.from({ length: count }, (_, i) => (onReady) => kvmCrmCreateStart(c, undefined, `many-${i + 1}`, onReady)));
    options.log(`kvm-crm: ${count} VMs, last ready line after ${ms(k.lastReady)}`);
    const b = await wave(Array.from({ length: count }, (_, i) => (onReady) => bareCreateStart(peer, i + 1, { gate: (f) => gate.run(f), onReady })));
    options.log(`bare: ${count} VMs, last ready line after ${ms(b.lastReady)}`);
    const r = k.lastReady / b.lastReady;
    const lastStarted = (t: GuestTimes[]) => Math.max(...t.map((x) => x.started));
    const markdown = `${count} creates + starts over ${HOSTS} hosts at once (kvm-crm: \`send(create)\` naming no server, each
\`send(start)\` as its create succeeds; the manager's placement spreads them), against \`bench/bare-create-start.sh\`
× ${count} with at most ${HOSTS * AGENT_SLOTS} at a time (${HOSTS} hosts × ${AGENT_SLOTS} agent slots). Guests: the test template, ${MEMORY_MIB} MiB,
1 vCPU, domain type \`${peer.domainType}\`; each guest is deleted once its ready line is seen (both sides).

| side | last start SUCCESS / script returned | last ready line | ready lines (first / last of the ${count}, each from its own start) |
|---|---|---|---|
| kvm-crm | ${ms(lastStarted(k.times))} (per VM, from its own create) | ${ms(k.lastReady)} | ${ms(Math.min(...k.times.map((t) => t.ready)))} / ${ms(Math.max(...k.times.map((t) => t.ready)))} |
| bare | ${ms(lastStarted(b.times))} (per VM, from its own launch) | ${ms(b.lastReady)} | ${ms(Math.min(...b.times.map((t) => t.ready)))} / ${ms(Math.max(...b.times.map((t) => t.ready)))} |

Ratio to the last ready line, kvm-crm / bare: **${ratio(r)}**.
`;
    return {
      title: `${count} VMs on three hosts: kvm-crm against the bare script (goal 5)`,
      markdown,
      goals: [{ goal: `${count} creates + starts over 3 hosts, to the last ready line, kvm-crm / bare script`, target: '≤ 1.1', measured: `${ratio(r)} (${ms(k.lastReady)} / ${ms(b.lastReady)}, one run each)`, met: r <= 1.1 }],
    };
  } finally {
    await c.cleanup();
  }
}
