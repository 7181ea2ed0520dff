/**
 * VMs that were running come back after a host reboot; a guest that powers itself off stays off; kept disks can be
 * listed and purged (issue 10; decision records 017 and 021). Real libvirt, TCG guests from the test template, the
 * agent as a process in its own network namespace (a one-host cluster of the harness), vtctl as a process.
 *
 * 1. VM A and VM B are created and started through vtctl; both guests print their ready line. B is stopped
 *    through kvm-crm (`vm stop`), which clears its autostart mark.
 * 2. A "power loss": A's domain is destroyed (the agent still runs and forwards the Stopped event, so the manager
 *    shows A stopped and "running again" below is a real change), the agent is killed by its process group
 *    (SIGKILL), libvirtd is restarted (libvirtd does not autostart again after a restart: only once per host boot),
 *    and the agent is started again. Asserted: A's domain runs again (time measured from the agent's start), its
 *    guest prints a second ready line, the manager shows A running again (from the agent's Started event, the
 *    manager's monitoring is off), and B stays shut off.
 * 3. A's guest powers itself off (Ctrl-Alt-Del, which the template's init turns into `poweroff`): the agent clears
 *    A's autostart mark, and the manager shows A stopped.
 * 4. B is deleted with `--keep-disks`; `vtctl host kept-disks` lists its disks (table and JSON), a bad id is
 *    refused, `vtctl host purge-kept-disks` removes them, the list is empty and the folder is gone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { type ClusterHost, type MultiHostCluster, REPO_ROOT, restartLibvirtd, startCluster, virsh, waitForReadyLines } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** The agent's JSON log lines with `message` (and `domain` when given). */
async function agentLogLines(file: string, message: string, domain?: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.message === message && (domain === undefined || e.domain === domain));
}

const domstate = async (domain: string) => (await virsh('domstate', '--reason', domain)).stdout.trim();
const autostart = async (domain: string) => /^Autostart:\s+enable/m.test((await virsh('dominfo', domain)).stdout);

describe('host reboot: autostart VMs come back, stopped ones stay stopped; guest power-off clears autostart; kept disks', () => {
  let c: MultiHostCluster;
  let h: ClusterHost;
  let args: string[];

  before(async () => {
    c = await startCluster({ hosts: 1, monitoring: { intervalSeconds: 0 } });
    h = c.hosts[0]!;
    const password = randomBytes(12).toString('hex');
    const user = `ops-${c.runId}`;
    await c.admin.call('user.add', [{ name: user, password, roles: ['admin'] }]);
    const work = path.join(c.dir, 'vtctl');
    await mkdir(work, { recursive: true });
    await writeFile(path.join(work, 'pw'), `${password}\n`, { mode: 0o600 });
    const url = new URL(c.pluginUrl);
    args = ['--url', `https://${url.host}/xmlrpc/admin`, '--user', user, '--password-file', path.join(work, 'pw'), '--ca', path.join(c.certsDir, 'ca.crt')];
  });
  after(async () => {
    await c?.cleanup();
  });

  const vtctl = (more: string[]) => execa(process.execPath, [path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js'), ...args, ...more], { reject: false });
  const ok = async (more: string[]) => {
    const r = await vtctl(more);
    assert.equal(r.exitCode, 0, `vtctl ${more.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const managerState = async (name: string) => (JSON.parse(await ok(['--json', 'vm', 'list'])) as Array<{ name: string; state: string }>).find((v) => v.name === name)?.state;

  test('power loss and restart, guest power-off, kept disks', { timeout: 900_000 }, async () => {
    const names = { a: `boot-a-${c.runId}`, b: `boot-b-${c.runId}` };
    await Promise.all(Object.values(names).map((n) => ok(['vm', 'create', n, '--template', TEMPLATE, '--host', h.name, '--memory', '128M', '--wait'])));
    const rows = JSON.parse(await ok(['--json', 'vm', 'list'])) as Array<{ uuid: string; name: string }>;
    const uuid = (n: string) => rows.find((r) => r.name === n)!.uuid;
    const vmA = uuid(names.a);
    const vmB = uuid(names.b);
    const domA = `${h.domainPrefix}${vmA}`;
    const domB = `${h.domainPrefix}${vmB}`;
    const logA = path.join(h.storageRoot, 'vms', vmA, 'console.log');
    const logB = path.join(h.storageRoot, 'vms', vmB, 'console.log');

    // 1. Both start and boot; B is stopped through kvm-crm.
    await Promise.all([ok(['vm', 'start', names.a, '--wait']), ok(['vm', 'start', names.b, '--wait'])]);
    await Promise.all([waitForReadyLines(logA, 1, 300_000), waitForReadyLines(logB, 1, 300_000)]);
    assert.deepEqual([await autostart(domA), await autostart(domB)], [true, true], 'start marks both autostart');
    await ok(['vm', 'stop', names.b, '--wait']);
    assert.equal(await domstate(domB), 'shut off (shutdown)');
    assert.equal(await autostart(domB), false, 'stop through kvm-crm cleared the mark');
    assert.equal(await managerState(names.b), 'stopped');

    // 2. Power loss: A's domain is cut, the agent is killed, libvirtd restarts, the agent starts again.
    assert.equal((await virsh('destroy', domA)).exitCode, 0);
    await waitFor('the manager to show A stopped (Stopped event)', async () => (await managerState(names.a)) === 'stopped', 30_000);
    assert.equal(await autostart(domA), true, 'a destroy (power cut) keeps the mark');
    const agentPid = h.pid;
    assert.ok(agentPid);
    await h.kill();
    assert.throws(() => process.kill(agentPid, 0), 'the agent process is gone');
    await restartLibvirtd();
    assert.equal(await domstate(domA), 'shut off (unknown)', 'after a libvirtd restart the reason is unknown');
    assert.equal(await domstate(domB), 'shut off (unknown)');
    await sleep(2000);
    assert.equal(await domstate(domA), 'shut off (unknown)', 'libvirtd did not autostart A on its restart');

    const t0 = Date.now();
    const answering = h.restart().then(() => Date.now() - t0); // resolves once the agent answers ping
    const runningMs = await waitFor('A to run again', async () => ((await domstate(domA)).startsWith('running') ? Date.now() - t0 : false), 120_000);
    const listeningMs = await answering;
    await waitForReadyLines(logA, 2, 300_000);
    const readyMs = Date.now() - t0;
    await waitFor('the manager to show A running again (Started event)', async () => (await managerState(names.a)) === 'running', 30_000);
    assert.equal(await domstate(domB), 'shut off (unknown)', 'B, stopped through kvm-crm, stays stopped');
    assert.equal(await managerState(names.b), 'stopped');
    const recovered = 'started a domain marked autostart that was shut off (host reboot, power loss or libvirtd restart)';
    const [entry] = await agentLogLines(h.logFile, recovered, domA);
    assert.equal(entry?.reason, 'unknown', 'the log entry names the domain and the reason');
    assert.deepEqual(await agentLogLines(h.logFile, recovered, domB), []);

    // 3. A's guest powers itself off: the agent clears its mark; the manager shows it stopped.
    assert.equal((await virsh('send-key', domA, 'KEY_LEFTCTRL', 'KEY_LEFTALT', 'KEY_DELETE')).exitCode, 0);
    await waitFor('A to power off', async () => (await domstate(domA)) === 'shut off (shutdown)', 120_000);
    await waitFor('the agent to clear A\'s autostart mark', async () => !(await autostart(domA)), 30_000);
    await waitFor('the manager to show A stopped', async () => (await managerState(names.a)) === 'stopped', 30_000);
    assert.equal((await agentLogLines(h.logFile, 'the guest powered itself off: autostart mark cleared, the VM will not come back after a host reboot', domA)).length, 1);

    // 4. Kept disks: delete B keeping its disks, list them, purge them.
    await ok(['vm', 'delete', names.b, '--keep-disks', '--wait']);
    const kept = JSON.parse(await ok(['--json', 'host', 'kept-disks', h.name])) as Array<{ id: string; vmUuid: string; vmName: string; keptAt: string; actualSizeMiB: number; files: Array<{ name: string; virtualSizeMiB: number; actualSizeMiB: number }> }>;
    assert.equal(kept.length, 1);
    assert.deepEqual([kept[0]!.id, kept[0]!.vmUuid, kept[0]!.vmName], [vmB, vmB, names.b]);
    assert.deepEqual(kept[0]!.files.map((f) => f.name), ['disk.qcow2']);
    const keptDir = path.join(h.storageRoot, 'kept-disks', vmB);
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', '--force-share', path.join(keptDir, 'disk.qcow2')])).stdout) as { 'virtual-size': number; 'actual-size': number };
    assert.deepEqual([kept[0]!.files[0]!.virtualSizeMiB, kept[0]!.files[0]!.actualSizeMiB], [Math.ceil(info['virtual-size'] / 1048576), Math.ceil(info['actual-size'] / 1048576)], 'sizes in MiB as qemu-img reads them');
    assert.ok(Math.abs(Date.parse(kept[0]!.keptAt) - Date.now()) < 120_000, 'kept at the delete');
    const table = (await ok(['host', 'kept-disks', h.name])).trimEnd().split('\n');
    assert.match(table[0]!, /^ID +VM +NAME +KEPT AT +FILES +VIRTUAL MiB +ACTUAL MiB$/);
    assert.match(table[1]!, new RegExp(`^${vmB} +${vmB} +${names.b} +\\S+ +disk\\.qcow2 +${kept[0]!.files[0]!.virtualSizeMiB} +${kept[0]!.actualSizeMiB}$`));
    for (const bad of ['../vms', `${vmB}/disk.qcow2`, vmB.toUpperCase()]) {
      const refused = await vtctl(['host', 'purge-kept-disks', h.name, bad]);
      assert.equal(refused.exitCode, 1);
      assert.match(refused.stderr, /invalid kept-disks id/);
    }
    assert.equal(await access(keptDir).then(() => true, () => false), true, 'refused purges removed nothing');
    assert.equal(await ok(['host', 'purge-kept-disks', h.name, vmB]), `purged ${vmB} on ${h.name}: disk.qcow2`, 'execa strips the last newline');
    assert.equal(await ok(['host', 'kept-disks', h.name]), '(none)');
    assert.equal(await access(keptDir).then(() => true, () => false), false, 'the kept folder is gone');
    const again = await vtctl(['host', 'purge-kept-disks', h.name, vmB]);
    assert.equal(again.exitCode, 1);
    assert.match(again.stderr, /no kept disks/);

    process.stdout.write(`# host reboot e2e: agent process start to A running ${runningMs} ms (virsh start ${String(entry?.startMs)} ms), to agent answering ping ${listeningMs} ms, to A's second ready line ${readyMs} ms\n`);
  });
});
