/**
 * Benchmark (issue #14 goal 4): the peer users would pick instead. kvm-crm's create + start through the OCF API
 * against `virt-install --import --cloud-init … --noautoconsole` (Debian's virtinst) making the same guest from the
 * same template (a qcow2 overlay of the same backing file) with a seed of the same files, the same memory, vCPUs and
 * domain type, pair by pair in the same run (one-vm.ts, paired-runs.ts). Target: kvm-crm faster to the ready line.
 */
import { execa } from 'execa';
import type { BenchOptions, BenchSection } from './bench-section.js';
import { ratio, spread } from './bench-util.js';
import { startBenchCluster } from './bench-cluster.js';
import { kvmCrmCreateStart, MEMORY_MIB, virtInstallCreateStart } from './one-vm.js';
import { pairedTable, runPairs } from './paired-runs.js';

/** Runs the comparison: `options.pairs` pairs, default 5 (quick: 1). */
export async function run(options: BenchOptions): Promise<BenchSection> {
  const pairs = options.pairs ?? (options.quick ? 1 : 5);
  const version = (await execa('virt-install', ['--version'])).stdout.trim();
  const { c, peer } = await startBenchCluster(1);
  try {
    const host = c.hosts[0]!;
    const names: [string, string] = ['kvm-crm', 'virt-install'];
    const r = await runPairs(pairs, (n) => kvmCrmCreateStart(c, host, `peer-${n}`), (n) => virtInstallCreateStart(peer, n), options, names);
    const started = spread(r.startedRatios);
    const ready = spread(r.readyRatios);
    const markdown = `${pairs} pairs (kvm-crm then virt-install ${version} in each, after one unmeasured warm-up pair), the
ratio of each pair (kvm-crm / virt-install: below 1 means kvm-crm is faster), then min / median / max.
kvm-crm: as in the goal-3 section. virt-install: \`qemu-img create -f qcow2 -b <template> -F qcow2 disk.qcow2\`, then
\`virt-install --connect qemu:///system --name … --virt-type ${peer.domainType} --memory ${MEMORY_MIB} --vcpus 1 --machine pc
--osinfo detect=on,require=off --import --disk path=disk.qcow2,format=qcow2,bus=virtio
--cloud-init user-data=…,meta-data=…,network-config=… --network bridge=…,mac=…,model=virtio
--serial file,path=console.log --graphics none --noautoconsole --noreboot\` (the seed files are the agent's
renderer's, written before the clock starts); "started" is virt-install returning.

${pairedTable(r, names)}
`;
    return {
      title: 'create + start of one VM: kvm-crm against virt-install (goal 4)',
      markdown,
      goals: [
        { goal: 'one VM to the guest ready line, kvm-crm / virt-install', target: '< 1', measured: `${ratio(ready.median)} (median of ${pairs} pair ratios, ${ratio(ready.min)}–${ratio(ready.max)}; started ${ratio(started.median)})`, met: ready.median < 1 },
      ],
    };
  } finally {
    await c.cleanup();
  }
}
