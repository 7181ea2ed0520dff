/**
 * Benchmark: create + start of one VM, end to end through the OCF API (clearinghouse → manager → agent →
 * libvirt), against `bare-create-start.sh` doing the same work by hand (same template, same seed files, same
 * domain XML). Runs alternate, `--runs N` each (default 5). Two times per run, from the first request:
 *   started = start SUCCESS received by the clearinghouse (bare: `virsh start` returned)
 *   ready   = the guest's ready line in its serial log
 * Writes the medians and ratios to bench/RESULTS.md (and prints them).
 *
 * The manager and agent run in this process (one Node event loop with the clearinghouse), on SQLite.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { renderDomainXml, renderSeedFiles } from '@kvm-crm/oxad-agent';
import { createQuery, lifecycleQuery, REPO_ROOT, startCluster, virsh, waitForReadyLine } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const MEMORY_MIB = 128;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function machine(): Promise<string> {
  const cpu = (await readFile('/proc/cpuinfo', 'utf8')).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
  const libvirt = (await execa('virsh', ['-c', 'qemu:///system', 'version'], { reject: false })).stdout.match(/Using library: libvirt (\S+)/)?.[1] ?? '?';
  const qemu = (await execa('qemu-system-x86_64', ['--version'], { reject: false })).stdout.split('\n')[0];
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}, libvirt ${libvirt}, ${qemu}`;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Number(process.argv[i + 1]) : 5;
  const c = await startCluster();
  const ocf = { started: [] as number[], ready: [] as number[] };
  const bare = { started: [] as number[], ready: [] as number[] };
  const bareRoot = path.join(c.dir, 'bare');
  try {
    for (let run = 1; run <= runs; run++) {
      // --- through the OCF API ---
      const name = `bench-${run}`;
      const create = createQuery({ serverUuid: c.serverUuid, name, template: TEMPLATE, memoryMb: MEMORY_MIB });
      const t0 = performance.now();
      const d0 = Date.now();
      await c.plugin.call('send', [c.clearinghouse.callbackUrl, create.xml]);
      const created = await c.clearinghouse.waitForTerminal(create.actionId, 120_000, 0);
      if (created.at(-1)!.status !== 'SUCCESS') throw new Error(`create failed: ${JSON.stringify(created)}`);
      const start = lifecycleQuery('start', { serverUuid: c.serverUuid, vmUuid: create.vmUuid, name });
      await c.plugin.call('send', [c.clearinghouse.callbackUrl, start.xml]);
      const started = await c.clearinghouse.waitForTerminal(start.actionId, 120_000, 0);
      const tStarted = started.at(-1)!.at - d0; // when the clearinghouse received start SUCCESS
      if (started.at(-1)!.status !== 'SUCCESS') throw new Error(`start failed: ${JSON.stringify(started)}`);
      await waitForReadyLine(path.join(c.storageRoot, 'vms', create.vmUuid, 'console.log'), 120_000);
      const tReady = performance.now() - t0;
      ocf.started.push(tStarted);
      ocf.ready.push(tReady);
      const del = lifecycleQuery('delete', { serverUuid: c.serverUuid, vmUuid: create.vmUuid, name });
      await c.plugin.call('send', [c.clearinghouse.callbackUrl, del.xml]);
      await c.clearinghouse.waitForTerminal(del.actionId, 120_000);

      // --- bare script: same template, same seed content, same domain XML ---
      const uuid = randomUUID();
      const dir = path.join(bareRoot, uuid);
      await mkdir(path.join(dir, 'seed'), { recursive: true, mode: 0o755 });
      const mac = `02:fd:00:00:00:${run.toString(16).padStart(2, '0')}`;
      const seed = renderSeedFiles({ instanceId: uuid, hostname: `bare-${run}`, nics: [{ name: 'eth0', mac, addresses: [`10.252.0.${10 + run}/24`], gateway: '10.252.0.1', dns: ['10.252.0.2'] }] });
      for (const [f, text] of Object.entries(seed)) await writeFile(path.join(dir, 'seed', f), text);
      const domain = `${c.domainPrefix}${uuid}`;
      await writeFile(
        path.join(dir, 'domain.xml'),
        renderDomainXml({
          name: domain, uuid, title: `bare-${run}`, domainType: c.agent.hypervisor.domainType, memoryMiB: MEMORY_MIB, vcpus: 1,
          diskPath: path.join(dir, 'disk.qcow2'), backing: { path: path.join(c.storageRoot, 'templates', TEMPLATE), format: 'qcow2' }, seedIsoPath: path.join(dir, 'seed.iso'), serialLogPath: path.join(dir, 'console.log'),
          nics: [{ mac, bridge: c.bridge }],
          metadata: { vmUuid: uuid, vmName: `bare-${run}`, projectId: 'bench', sliceId: 'bench', actionId: 'bench', template: 'kvm-crm-test' },
        }),
      );
      const b0 = performance.now();
      await execa('bash', [path.join(REPO_ROOT, 'bench/bare-create-start.sh'), path.join(c.storageRoot, 'templates', TEMPLATE), dir]);
      const bStarted = performance.now() - b0;
      await waitForReadyLine(path.join(dir, 'console.log'), 120_000);
      bare.ready.push(performance.now() - b0);
      bare.started.push(bStarted);
      await virsh('destroy', domain);
      await virsh('undefine', domain);
      await rm(dir, { recursive: true, force: true });
      process.stdout.write(`run ${run}: ocf started ${tStarted.toFixed(0)} ms ready ${tReady.toFixed(0)} ms | bare started ${bStarted.toFixed(0)} ms ready ${bare.ready.at(-1)!.toFixed(0)} ms\n`);
    }
    const rows = [
      ['started (start SUCCESS / virsh start returned)', median(ocf.started), median(bare.started)],
      ['guest ready line', median(ocf.ready), median(bare.ready)],
    ] as const;
    const table = rows.map(([what, o, b]) => `| ${what} | ${o.toFixed(0)} ms | ${b.toFixed(0)} ms | ${(o / b).toFixed(3)} (${((o / b - 1) * 100).toFixed(1)} %) |`).join('\n');
    const md = `# Benchmark results

## create + start, OCF API versus a bare script

\`npm run bench\` (\`node bench/dist/create-start.js --runs ${runs}\`), ${runs} alternating runs each, medians.
OCF: clearinghouse \`send(create)\` → manager → agent (overlay, seed ISO, \`virsh define\`) → SUCCESS, then
\`send(start)\` → SUCCESS, then the guest's ready line. Bare: \`bench/bare-create-start.sh\` (\`qemu-img create\`,
\`genisoimage\` of the same seed files, \`virsh define\` of the same domain XML, \`virsh start\`), then the ready line.
Guest: the test template, ${MEMORY_MIB} MiB, 1 vCPU, domain type \`${c.agent.hypervisor.domainType}\`.

Machine: ${await machine()}. Measured ${new Date().toISOString().slice(0, 10)}.

| from the first request to | OCF (median) | bare (median) | ratio (overhead) |
|---|---|---|---|
${table}

All runs (ms): OCF started ${ocf.started.map((x) => x.toFixed(0)).join(', ')}; ready ${ocf.ready.map((x) => x.toFixed(0)).join(', ')}.
Bare started ${bare.started.map((x) => x.toFixed(0)).join(', ')}; ready ${bare.ready.map((x) => x.toFixed(0)).join(', ')}.

Goal: an overhead of at most 10 % over the bare script.
`;
    await writeFile(path.join(REPO_ROOT, 'bench/RESULTS.md'), md);
    process.stdout.write('\n' + md);
  } finally {
    await c.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
