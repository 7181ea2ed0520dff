/**
 * Benchmark (issue #14 goal 3): the control plane's own cost for one VM. kvm-crm's create + start through the OCF
 * API (clearinghouse → manager → agent process → libvirt) against `bench/bare-create-start.sh` doing the same work by
 * hand (same template, same seed files, the agent's own domain XML), pair by pair (one-vm.ts, paired-runs.ts).
 * Targets: started ≤ 1.2× the bare script, ready line ≤ 1.05×, on the median pair ratio.
 */
import type { BenchOptions, BenchSection } from './bench-section.js';
import { median, ms, ratio, spread } from './bench-util.js';
import { startBenchCluster } from './bench-cluster.js';
import { bareCreateStart, kvmCrmCreateStart, MEMORY_MIB, type ActionPhases, type Phases } from './one-vm.js';
import { pairedTable, runPairs } from './paired-runs.js';

/** Markdown table of the median phases of kvm-crm's runs. */
function phaseTable(ps: Phases[]): string {
  const m = (f: (p: Phases) => number) => ms(median(ps.map(f)));
  const row = (what: string, a: (p: Phases) => ActionPhases) =>
    `| ${what} | ${m((p) => a(p).answered)} | ${m((p) => a(p).ongoing)} | ${m((p) => a(p).success)} | ${m((p) => a(p).agentMs)} | ${m((p) => a(p).success - a(p).agentMs)} |`;
  return [
    '| action | `send` answered | ONGOING received | SUCCESS received | agent work | protocol (SUCCESS − agent work) |',
    '|---|---|---|---|---|---|',
    row('create', (p) => p.create),
    row('start', (p) => p.start),
    `| clearinghouse: create SUCCESS → start sent | | | ${m((p) => p.gap)} | | |`,
    '',
    `CPU used while the guest boots (start SUCCESS received → ready line, medians): the agent process ${m((p) => p.bootCpu.agentMs)}, the benchmark's own process (manager, clearinghouse, the ready-line poll every 20 ms, which the bare runs have too) ${m((p) => p.bootCpu.benchProcessMs)}.`,
  ].join('\n');
}

/** Runs the comparison: `options.pairs` pairs, default 5 (quick: 1). */
export async function run(options: BenchOptions): Promise<BenchSection> {
  const pairs = options.pairs ?? (options.quick ? 1 : 5);
  const { c, peer } = await startBenchCluster(1);
  try {
    const host = c.hosts[0]!;
    const names: [string, string] = ['kvm-crm', 'bare'];
    const r = await runPairs(pairs, (n) => kvmCrmCreateStart(c, host, `bench-${n}`), (n) => bareCreateStart(peer, n), options, names);
    const started = spread(r.startedRatios);
    const ready = spread(r.readyRatios);
    const markdown = `${pairs} pairs (kvm-crm then bare in each, after one unmeasured warm-up pair), the ratio of each pair, then min / median / max.
kvm-crm: the clearinghouse's \`send(create)\` → manager (SQLite) → agent (its own process, in a network namespace) →
overlay, seed ISO, \`virsh define\` → SUCCESS back to the clearinghouse, then \`send(start)\` → SUCCESS; then the
guest's ready line in its serial log (polled every 20 ms). Bare: \`bench/bare-create-start.sh\` (\`qemu-img create\`,
\`genisoimage\` of the same seed files, \`virsh define\` of the agent's domain XML, \`virsh start\`), then the ready line.
Guest: the test template, ${MEMORY_MIB} MiB, 1 vCPU, domain type \`${peer.domainType}\`.

${pairedTable(r, names)}

Where kvm-crm's time to start SUCCESS goes (medians over the pairs, ms from each action's own \`send\`; "agent work"
is the agent's own time for the action from its log: template check, overlay + seed ISO and the domain's
state check and define, or its start and autostart (libvirt calls on the agent's held-open connection, decision
041); the rest of "SUCCESS received" is protocol: manager
intake, hand-over to the agent over mutual TLS, the agent's durable journal and outbox, the status hops
agent → manager → clearinghouse):

${phaseTable(r.a.map((t) => t.phases!).filter(Boolean))}
`;
    return {
      title: 'create + start of one VM: kvm-crm against the bare script (goal 3)',
      markdown,
      goals: [
        { goal: 'one VM, create + start to start SUCCESS, kvm-crm / bare script', target: '≤ 1.2', measured: `${ratio(started.median)} (median of ${pairs} pair ratios, ${ratio(started.min)}–${ratio(started.max)})`, met: started.median <= 1.2 },
        { goal: 'one VM, create + start to the guest ready line, kvm-crm / bare script', target: '≤ 1.05', measured: `${ratio(ready.median)} (median of ${pairs} pair ratios, ${ratio(ready.min)}–${ratio(ready.max)})`, met: ready.median <= 1.05 },
      ],
    };
  } finally {
    await c.cleanup();
  }
}
