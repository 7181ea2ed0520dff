/**
 * Benchmark (issue #14 goal 5): many VMs at once. 20 creates + starts (quick: 3) spread over the three-host test
 * cluster (agents in network namespaces, decision 018; creates name no server, placement `spread` picks), each start
 * sent as soon as its create succeeded; against the bare script doing the same 20 with the same parallelism: the
 * agents run at most `maxConcurrentActions` (default 4) actions each, so at most 3 × 4 = 12 bare scripts run at a
 * time (the wait for the ready line holds no place, as a started VM holds no agent slot). Guests: 128 MiB, 1 vCPU,
 * TCG on this machine. Measured from the first request to the LAST ready line; full: two pairs in the order
 * kvm-crm, bare, bare, kvm-crm (quick: one pair). Target: median pair ratio ≤ 1.1.
 */
import type { BenchOptions, BenchSection } from './bench-section.js';
import { Gate, median, ms, ratio } from './bench-util.js';
import { startBenchCluster } from './bench-cluster.js';
import { bareCreateStart, kvmCrmCreateStart, MEMORY_MIB, type GuestTimes } from './one-vm.js';

/** Agent default `maxConcurrentActions` (packages/oxad-agent/src/agent-options.ts). */
const AGENT_SLOTS = 4;
const HOSTS = 3;

/** One wave of creates + starts: ms from its first request to the last ready line, and each guest's own times. */
interface Wave {
  lastReady: number;
  times: GuestTimes[];
}

/**
 * Runs all `jobs` at once; resolves with the time from the start to the last ready line and each job's times.
 * @throws the first job's failure, once all jobs have ended.
 */
async function wave(jobs: Array<(onReady: (now: number) => void) => Promise<GuestTimes>>): Promise<Wave> {
  const t0 = performance.now();
  let last = t0;
  // Settled, not Promise.all: on a failure every other guest's job has ended (and removed its guest) before the
  // caller's cleanup runs.
  const settled = await Promise.allSettled(jobs.map((j) => j((now) => { last = Math.max(last, now); })));
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return { lastReady: last - t0, times: settled.map((r) => (r as PromiseFulfilledResult<GuestTimes>).value) };
}

/** Runs the comparison. */
export async function run(options: BenchOptions): Promise<BenchSection> {
  const count = options.quick ? 3 : 20;
  const { c, peer } = await startBenchCluster(HOSTS);
  try {
    const gate = new Gate(HOSTS * AGENT_SLOTS);
    const kvmCrm = () => wave(Array.from({ length: count }, (_, i) => (onReady) => kvmCrmCreateStart(c, undefined, `many-${i + 1}`, onReady)));
    const bare = () => wave(Array.from({ length: count }, (_, i) => (onReady) => bareCreateStart(peer, i + 1, { gate: (f) => gate.run(f), onReady })));
    // Quick: one pair. Full: two pairs in the order A B B A, so that a load drifting up or down over the run
    // favours neither side.
    const pairs: Array<{ k: Wave; b: Wave }> = [];
    const k1 = await kvmCrm();
    options.log(`kvm-crm: ${count} VMs, last ready line after ${ms(k1.lastReady)}`);
    const b1 = await bare();
    options.log(`bare: ${count} VMs, last ready line after ${ms(b1.lastReady)}`);
    pairs.push({ k: k1, b: b1 });
    if (!options.quick) {
      const b2 = await bare();
      options.log(`bare: ${count} VMs, last ready line after ${ms(b2.lastReady)}`);
      const k2 = await kvmCrm();
      options.log(`kvm-crm: ${count} VMs, last ready line after ${ms(k2.lastReady)}`);
      pairs.push({ k: k2, b: b2 });
    }
    const ratios = pairs.map((p) => p.k.lastReady / p.b.lastReady);
    const r = median(ratios);
    const lastStarted = (t: GuestTimes[]) => Math.max(...t.map((x) => x.started));
    const first = (t: GuestTimes[]) => Math.min(...t.map((x) => x.ready));
    const markdown = `${count} creates + starts over ${HOSTS} hosts at once (kvm-crm: \`send(create)\` naming no server, each
\`send(start)\` as its create succeeds; the manager's placement spreads them), against \`bench/bare-create-start.sh\`
× ${count} with at most ${HOSTS * AGENT_SLOTS} at a time (${HOSTS} hosts × ${AGENT_SLOTS} agent slots). Guests: the test template, ${MEMORY_MIB} MiB,
1 vCPU, domain type \`${peer.domainType}\`; each guest is deleted once its ready line is seen (both sides).
${pairs.length} pair(s)${pairs.length > 1 ? ', run in the order kvm-crm, bare, bare, kvm-crm' : ''}; times from the wave's first request.

| pair | side | slowest start SUCCESS / script return (each from its own request) | first ready line | last ready line | ratio (last ready) |
|---|---|---|---|---|---|
${pairs.map((p, i) => `| ${i + 1} | kvm-crm | ${ms(lastStarted(p.k.times))} | ${ms(first(p.k.times))} | ${ms(p.k.lastReady)} | ${ratio(ratios[i]!)} |\n| ${i + 1} | bare | ${ms(lastStarted(p.b.times))} | ${ms(first(p.b.times))} | ${ms(p.b.lastReady)} | |`).join('\n')}

Ratio to the last ready line, kvm-crm / bare (median of the pairs): **${ratio(r)}**.
`;
    return {
      title: `${count} VMs on three hosts: kvm-crm against the bare script (goal 5)`,
      markdown,
      goals: [{ goal: `${count} creates + starts over 3 hosts, to the last ready line, kvm-crm / bare script`, target: '≤ 1.1', measured: `${ratio(r)} (median of ${pairs.length} pair ratio(s): ${ratios.map(ratio).join(', ')})`, met: r <= 1.1 }],
    };
  } finally {
    await c.cleanup();
  }
}
