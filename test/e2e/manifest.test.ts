/**
 * Declarative manifests on three real hosts (issue 12 "Manifests", decision 024): a 9-VM manifest in the seed-004
 * format, split over two files (3 VMs on host 1 with fixed addresses, 3 on host 2, 3 without a host: placed), run
 * through `vtctl` as a process. `capacity --manifest` reports what the build would add per host against what is
 * free; `plan build` and `build --dry-run` change nothing (state snapshots of the manager's database, every host's
 * libvirt domains and storage tree); `build` creates the 9 VMs (timed); a second `build` changes nothing and says so
 * (timed); a VM that differs is reported as needing a rebuild and left alone; one VM boots and its serial log shows
 * the manifest's hostname, then `sethostnames --reboot` with a new name reboots it and the log shows the new name; `dumpxml` writes the domain XML; `delete` refuses without a terminal unless `--yes`,
 * then removes everything.
 *
 * The VMs are created (overlay, seed, `virsh define`), not started, except the one that proves the hostname.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { assertUnchanged, domainsWithPrefix, type MultiHostCluster, REPO_ROOT, snapshot, startCluster } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';

describe('vtctl manifest on three hosts', () => {
  let c: MultiHostCluster;
  let vtctlArgs: string[];
  let files: string[];
  let names: string[];
  let bootName: string;
  let fqdn: string;

  before(async () => {
    c = await startCluster({ hosts: 3, monitoring: { intervalSeconds: 0 } });
    const password = 'ops-password-for-manifests';
    await c.admin.call('user.add', [{ name: 'ops', password, roles: ['admin'] }]);
    const passwordFile = path.join(c.dir, 'ops.pw');
    await writeFile(passwordFile, password, { mode: 0o600 });
    vtctlArgs = ['--url', `https://${c.network.gateway}:${c.manager.port}/xmlrpc/admin`, '--user', 'ops', '--password-file', passwordFile, '--ca', path.join(c.certsDir, 'ca.crt')];
    const m = parseInt(c.runId.slice(0, 2), 16);
    const [h1, h2] = c.hosts;
    const spec = (name: string, extra: Record<string, unknown> = {}) => ({ name, vcpus: 1, memoryGb: 0.125, maxMemoryGb: 0.25, numDisks: 1, diskSize: 1, description: `manifest e2e ${name}`, ...extra });
    names = ['a', 'b', 'c'].flatMap((g) => [1, 2, 3].map((i) => `m${g}${i}-${c.runId}`));
    bootName = names[0]!;
    fqdn = `${bootName}.tdh.internal`;
    const fileA = [
      { host: h1!.name, vmspecs: names.slice(0, 3).map((n, i) => spec(n, { hostname: i === 0 ? fqdn : `${n}.tdh.internal`, ipaddress: `10.254.${m}.${20 * h1!.index + 11 + i}` })) },
    ];
    const fileB = [
      { host: h2!.name, vmspecs: names.slice(3, 6).map((n, i) => spec(n, i === 0 ? { numDisks: 2 } : {})) },
      { vmspecs: names.slice(6, 9).map((n) => spec(n)) },
    ];
    files = [path.join(c.dir, 'manifest-a.json'), path.join(c.dir, 'manifest-b.json')];
    await writeFile(files[0]!, JSON.stringify(fileA, null, 2));
    await writeFile(files[1]!, JSON.stringify(fileB, null, 2));
  });
  after(async () => {
    if (c) await c.cleanup();
  });

  const vtctl = (...args: string[]) => execa('node', [path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js'), ...vtctlArgs, ...args], { reject: false, stdin: 'ignore' });
  const snapAll = () => Promise.all(c.hosts.map((h) => snapshot({ manager: c.manager, domainPrefix: h.domainPrefix, storageRoot: h.storageRoot })));
  /** Nothing changed on any host; a guest's serial log (console.log) may grow while it runs: that is the guest's, not ours. */
  const assertNothingChanged = (before: Awaited<ReturnType<typeof snapAll>>, after: Awaited<ReturnType<typeof snapAll>>, label: string) =>
    before.forEach((b, i) => assertUnchanged(b, after[i]!, `${label} (${c.hosts[i]!.name})`, { allow: (ch) => ch.kind === 'file-changed' && /^vms\/[0-9a-f-]{36}\/console\.log$/.test(ch.path) }));
  const domainsPerHost = async () => Promise.all(c.hosts.map(async (h) => (await domainsWithPrefix(h.domainPrefix)).length));

  test('capacity --manifest reports per host what the build would add against what is free', async () => {
    const r = await vtctl('--json', 'capacity', '--manifest', files[0]!, '--manifest', files[1]!, '--template', TEMPLATE);
    assert.equal(r.exitCode, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<{ host: string; newVms: number; vcpus: { asked: number; available: number }; memoryMiB: { asked: number; available: number }; diskMiB: { asked: number; available: number }; fits: string }>;
    const free = JSON.parse((await vtctl('--json', 'host', 'capacity')).stdout) as Array<{ host: string; memoryMiB: { available: number }; cpus: { available: number } }>;
    const [h1, h2, h3] = c.hosts;
    const row = (h: string) => rows.find((x) => x.host === h)!;
    assert.deepEqual([row(h1!.name).newVms, row(h2!.name).newVms, row(h3!.name).newVms, row('(placed)').newVms], [3, 3, 0, 3]);
    assert.deepEqual(row(h1!.name).memoryMiB, { asked: 384, available: free.find((f) => f.host === h1!.name)!.memoryMiB.available });
    assert.equal(row(h2!.name).diskMiB.asked, 4 * 1024, 'host 2: three 1 GiB system disks and one 1 GiB data disk');
    assert.equal(row('(placed)').memoryMiB.available, free.reduce((s, f) => s + f.memoryMiB.available, 0), 'placed VMs against every up host');
    for (const x of rows) assert.equal(x.fits, 'yes', `${x.host} fits`);
    const table = (await vtctl('capacity', '--manifest', files[0]!, '--manifest', files[1]!, '--template', TEMPLATE)).stdout;
    assert.match(table, new RegExp(`^${h1!.name}\\s+3\\s+3\\s+\\d+\\s+384\\s`, 'm'));
  });

  test('plan build and build --dry-run print 9 creates per host and change nothing', async () => {
    const before = await snapAll();
    const plan = await vtctl('manifest', 'plan', 'build', ...files, '--template', TEMPLATE);
    assert.equal(plan.exitCode, 0, plan.stderr);
    assert.match(plan.stdout, new RegExp(`^host ${c.hosts[0]!.name}\\n  create  ${names[0]}  1 vCPU, 128M \\(max 256M\\), disk 1G, ip 10\\.254\\.\\d+\\.\\d+, hostname ${fqdn.replace(/\./g, '\\.')}, template`, 'm'));
    assert.match(plan.stdout, /^host \(placed\)$/m);
    assert.match(plan.stdout, /^would run 9 step\(s\): 9 create \(dry run: nothing changed\)$/m);
    const dry = await vtctl('--json', 'manifest', 'build', ...files, '--template', TEMPLATE, '--dry-run');
    assert.equal(dry.exitCode, 0, dry.stderr);
    const steps = (JSON.parse(dry.stdout) as { dryRun: boolean; steps: Array<{ kind: string; vm: string }> }).steps;
    assert.deepEqual(steps.map((s) => s.kind), Array(9).fill('create'));
    assertNothingChanged(before, await snapAll(), 'plan and --dry-run');
  });

  test('build creates the 9 VMs; a second build changes nothing and says so', { timeout: 600_000 }, async (t) => {
    const t0 = Date.now();
    const r = await vtctl('manifest', 'build', ...files, '--template', TEMPLATE);
    const buildSeconds = (Date.now() - t0) / 1000;
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal((r.stderr.match(/: SUCCESS after /g) ?? []).length, 9, r.stderr);
    const counts = await domainsPerHost();
    assert.equal(counts[0], 3);
    assert.ok(counts[1]! >= 3, `host 2 has its 3 VMs and maybe placed ones: ${counts}`);
    assert.equal(counts.reduce((a, b) => a + b, 0), 9);
    const vms = JSON.parse((await vtctl('--json', 'vm', 'list')).stdout) as Array<{ name: string; server: string; ip: string; memoryMb: number; maxMemoryMiB: number; diskMiB: number; dataDisksMiB: number[] }>;
    assert.deepEqual(vms.map((v) => v.name).sort(), [...names].sort());
    const first = vms.find((v) => v.name === names[0])!;
    assert.equal(first.server, c.hosts[0]!.name);
    assert.match(first.ip, new RegExp(`\\.${20 * c.hosts[0]!.index + 11}$`), 'the manifest address was reserved');
    assert.deepEqual([first.memoryMb, first.maxMemoryMiB, first.diskMiB], [128, 256, 1024]);
    assert.deepEqual(vms.find((v) => v.name === names[3])!.dataDisksMiB, [1024], 'numDisks 2: one data disk of diskSize');

    const before = await snapAll();
    const t1 = Date.now();
    const again = await vtctl('manifest', 'build', ...files, '--template', TEMPLATE);
    const noopSeconds = (Date.now() - t1) / 1000;
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /^nothing to do: 9 unchanged$/m);
    assertNothingChanged(before, await snapAll(), 'second build');
    const figures = `build of the 9-VM manifest on 3 hosts ${buildSeconds.toFixed(1)} s (wall, vtctl process), second build (no-op) ${noopSeconds.toFixed(1)} s`;
    t.diagnostic(figures);
    process.stdout.write(`# manifest e2e: ${figures}\n`);
  });

  test('a VM that differs from the manifest is reported as needing a rebuild and left alone', async () => {
    const changed = JSON.parse(await readFile(files[0]!, 'utf8')) as Array<{ vmspecs: Array<Record<string, unknown>> }>;
    changed[0]!.vmspecs[1]!.vcpus = 2;
    const file = path.join(c.dir, 'manifest-a-changed.json');
    await writeFile(file, JSON.stringify(changed));
    const before = await snapAll();
    const r = await vtctl('manifest', 'build', file, files[1]!, '--template', TEMPLATE);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`rebuild-needed  ${names[1]}  vcpus: 1 → 2`));
    assert.match(r.stdout, /1 VM\(s\) differ from the manifest and need a rebuild: left alone/);
    assertNothingChanged(before, await snapAll(), 'build with a differing VM');
  });

  test('the manifest hostname reaches cloud-init: the booted guest prints it; sethostnames --reboot renames it', { timeout: 600_000 }, async () => {
    try {
      const started = await vtctl('vm', 'start', bootName, '--wait');
      assert.equal(started.exitCode, 0, started.stderr);
      let log = '';
      const deadline = Date.now() + 240_000;
      while (!/kvm-crm-guest (ready|error)/.test(log) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        log = (await vtctl('vm', 'console-log', bootName)).stdout;
      }
      assert.match(log, new RegExp(`kvm-crm-guest ready hostname=${fqdn.replace(/\./g, '\\.')} ip=10\\.254\\.`), log.slice(-1500));

      // sethostnames --reboot (decision 024 §8): the agent rewrites the running VM's seed (same instance id) and
      // swaps its CD-ROM medium, the VM reboots through a durable reboot action, and the guest comes up with the new name.
      const renamed = `${bootName}-renamed.tdh.internal`;
      const fileA = JSON.parse(await readFile(files[0]!, 'utf8')) as Array<{ vmspecs: Array<{ name: string; hostname?: string }> }>;
      fileA[0]!.vmspecs[0]!.hostname = renamed;
      const renamedFile = path.join(c.dir, 'manifest-a-renamed.json');
      await writeFile(renamedFile, JSON.stringify(fileA, null, 2));
      const dry = await vtctl('manifest', 'sethostnames', renamedFile, files[1]!, '--template', TEMPLATE, '--reboot', '--dry-run');
      assert.equal(dry.exitCode, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`set-hostname  ${bootName}  ${fqdn.replace(/\./g, '\\.')} → ${renamed.replace(/\./g, '\\.')}: seed rewritten, running: reboot to apply`), dry.stdout);
      const readyLines = (log.match(/kvm-crm-guest ready /g) ?? []).length;
      const set = await vtctl('manifest', 'sethostnames', renamedFile, files[1]!, '--template', TEMPLATE, '--reboot');
      assert.equal(set.exitCode, 0, `${set.stdout}\n${set.stderr}`);
      assert.match(set.stdout, new RegExp(`set-hostname  ${bootName}  .* → ${renamed.replace(/\./g, '\\.')}: applied \\(rebooted\\) -> SUCCESS`), set.stdout);
      const deadline2 = Date.now() + 240_000;
      while ((log.match(/kvm-crm-guest ready /g) ?? []).length <= readyLines && Date.now() < deadline2) {
        await new Promise((r) => setTimeout(r, 1000));
        log = (await vtctl('vm', 'console-log', bootName)).stdout;
      }
      assert.match(log.slice(log.lastIndexOf('kvm-crm-guest ready ')), new RegExp(`^kvm-crm-guest ready hostname=${renamed.replace(/\./g, '\\.')} ip=10\\.254\\.`), log.slice(-1500));
    } finally {
      const stopped = await vtctl('vm', 'hard-stop', bootName, '--wait');
      assert.equal(stopped.exitCode, 0, stopped.stderr);
    }
  });

  test('dumpxml writes each VM\'s domain XML to the folder', async () => {
    const dir = path.join(c.dir, 'xml');
    const r = await vtctl('--json', 'manifest', 'dumpxml', ...files, '--template', TEMPLATE, '--dir', dir);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual((await readdir(dir)).sort(), names.map((n) => `${n}.xml`).sort());
    const xml = await readFile(path.join(dir, `${bootName}.xml`), 'utf8');
    assert.match(xml, /^<domain type=/);
    assert.match(xml, new RegExp(`<domain type='(kvm|qemu)'[^>]*>[\\s\\S]*<name>${c.hosts[0]!.domainPrefix}`));
  });

  test('delete refuses without a terminal unless --yes, then removes every VM and its disks', { timeout: 600_000 }, async () => {
    const before = await snapAll();
    const refused = await vtctl('manifest', 'delete', ...files, '--template', TEMPLATE);
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /no terminal to confirm on; give --yes/);
    assertNothingChanged(before, await snapAll(), 'delete without --yes');
    const r = await vtctl('manifest', 'delete', ...files, '--template', TEMPLATE, '--yes');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal((r.stderr.match(/: SUCCESS after /g) ?? []).length, 9, r.stderr);
    assert.deepEqual(await domainsPerHost(), [0, 0, 0]);
    for (const h of c.hosts) assert.deepEqual(await readdir(path.join(h.storageRoot, 'vms')).catch(() => []), [], `${h.name}: no VM folder left`);
    const vms = JSON.parse((await vtctl('--json', 'vm', 'list')).stdout) as unknown[];
    assert.deepEqual(vms, []);
  });
});
