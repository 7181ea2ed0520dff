/**
 * Snapshots and backups end to end on the three-host cluster (issue 12 "Snapshots and backups"; decision record
 * 026), vtctl run as a process as an operator types it: a VM with a data disk is created on host 1 and booted
 * (TCG), a snapshot of the running VM is refused, the VM is stopped, snapshotted (list, delete), backed up into
 * the run's backup folder (every agent's backup root, shared like an NFS mount) through a named backup target
 * (`vtctl backup target add`, on every host; a target outside the roots is refused by the agent), deleted, restored on host 2 and
 * started there: the guest prints the same hostname, IP and MAC, and the manager shows the same uuid on host 2.
 * Prints the backup and restore times and sizes. The cluster's clean-up removes the run's domains and folders.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { type ClusterHost, domainsWithPrefix, type MultiHostCluster, REPO_ROOT, startCluster, waitForReadyLine } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';

describe('vtctl vm snapshot / backup / restore on the three-host cluster', () => {
  let c: MultiHostCluster;
  let args: string[];

  before(async () => {
    c = await startCluster({ hosts: 3, monitoring: { intervalSeconds: 0 } });
    const password = randomBytes(12).toString('hex');
    const user = `ops-${c.runId}`;
    await c.admin.call('user.add', [{ name: user, password, roles: ['admin'] }]);
    const work = path.join(c.dir, 'vtctl');
    await mkdir(work, { recursive: true });
    await writeFile(path.join(work, 'pw'), `${password}\n`, { mode: 0o600 });
    args = ['--url', `https://${c.network.gateway}:${c.manager.port}/xmlrpc/admin`, '--user', user, '--password-file', path.join(work, 'pw'), '--ca', path.join(c.certsDir, 'ca.crt')];
  });
  after(async () => {
    await c?.cleanup();
  });

  const vtctl = (more: string[]) => execa(process.execPath, [path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js'), ...args, ...more], { reject: false, timeout: 600_000 });
  const ok = async (more: string[]) => {
    const r = await vtctl(more);
    assert.equal(r.exitCode, 0, `vtctl ${more.join(' ')}: ${r.stderr}`);
    return r;
  };

  test('back up a stopped VM, delete it, restore it on another host: it boots with the same identity', { timeout: 900_000 }, async (t) => {
    const [h1, h2] = c.hosts as [ClusterHost, ClusterHost];
    // Host 2 shares host 1's management network: it subscribes to host 1's address ranges too.
    await c.admin.call('range.subscribe', [{ server: h2.name, kind: 'ipv4', range: `net-${c.runId}-h1` }]);
    await c.admin.call('range.subscribe', [{ server: h2.name, kind: 'mac', range: `mac-${c.runId}-h1` }]);
    const name = `bk-${c.runId}`;
    await ok(['vm', 'create', name, '--template', TEMPLATE, '--host', h1.name, '--memory', '128M', '--data-disk', '256M', '--wait']);
    const before = JSON.parse((await ok(['--json', 'vm', 'show', name])).stdout) as { uuid: string; ip: string; server: string; interfaces: Array<{ mac: string }> };
    assert.equal(before.server, h1.name);
    await ok(['vm', 'start', name, '--wait']);
    const firstBoot = await waitForReadyLine(path.join(h1.storageRoot, 'vms', before.uuid, 'console.log'));
    assert.equal(firstBoot.hostname, name);
    assert.equal(firstBoot.ip, `${before.ip}/24`);

    const live = await vtctl(['vm', 'snapshot', 'create', name, 'live']);
    assert.equal(live.exitCode, 1);
    assert.match(live.stderr, /is running: snapshots are taken, reverted and deleted only on a stopped VM/);
    await ok(['vm', 'stop', name, '--wait']);

    // Snapshots on the real overlay and data disk of the stopped VM.
    assert.match((await ok(['vm', 'snapshot', 'create', name, 'before-backup'])).stdout, /created: disk.qcow2, data-vdb.qcow2$/);
    assert.match((await ok(['vm', 'snapshot', 'list', name])).stdout, /^NAME +CREATED +DISKS +COMPLETE\nbefore-backup +\S+ +disk.qcow2,data-vdb.qcow2 +yes$/);
    await ok(['vm', 'snapshot', 'revert', name, 'before-backup']);
    await ok(['vm', 'snapshot', 'delete', name, 'before-backup']);
    assert.equal(JSON.parse((await ok(['--json', 'vm', 'snapshot', 'list', name])).stdout).snapshots.length, 0);

    // A backup outside the agent's backup roots is refused with the reason, given as a folder or as a named target.
    const outside = await vtctl(['vm', 'backup', name, '--to', path.join(c.dir, 'elsewhere')]);
    assert.equal(outside.exitCode, 1);
    assert.match(outside.stderr, /is not under a backup root/);
    await ok(['backup', 'target', 'add', `outside-${c.runId}`, path.join(c.dir, 'elsewhere')]);
    const outsideTarget = await vtctl(['vm', 'backup', name, '--target', `outside-${c.runId}`]);
    assert.equal(outsideTarget.exitCode, 1);
    assert.match(outsideTarget.stderr, /is not under a backup root/);

    // The backup goes to a named target: the shared folder, the same path on every host.
    const target = path.join(h1.backupRoot, 'nightly');
    const targetName = `nightly-${c.runId}`;
    await ok(['backup', 'target', 'add', targetName, target]);
    const sourceDisk = await stat(path.join(h1.storageRoot, 'vms', before.uuid, 'disk.qcow2'));
    const t0 = Date.now();
    const b = JSON.parse((await ok(['--json', 'vm', 'backup', name, '--target', targetName, '--keep', '2'])).stdout) as { path: string; sizeBytes: number; elapsedMs: number; target: string };
    const backupSeconds = (Date.now() - t0) / 1000;
    assert.ok(b.path.startsWith(`${target}/${before.uuid}/`), b.path);
    for (const f of ['SHA256SUMS', 'disk.qcow2', 'data-vdb.qcow2', 'seed.iso', 'domain.xml', 'vm.json']) await access(path.join(b.path, f));

    await ok(['vm', 'delete', name, '--wait']);
    assert.deepEqual(await domainsWithPrefix(h1.domainPrefix), []);
    const listed = JSON.parse((await ok(['--json', 'backup', 'list', before.uuid, '--host', h2.name, '--target', targetName])).stdout) as { backups: Array<{ path: string; host: string }> };
    assert.deepEqual(listed.backups.map((x) => [x.host, x.path]), [[h2.name, b.path]], 'host 2 sees the backup in the shared folder');

    const t1 = Date.now();
    const r = JSON.parse((await ok(['--json', 'vm', 'restore', b.path, '--host', h2.name])).stdout) as { vmUuid: string; bytes: number; elapsedMs: number; domain: string };
    const restoreSeconds = (Date.now() - t1) / 1000;
    assert.equal(r.vmUuid, before.uuid);
    assert.equal(r.domain, `${h2.domainPrefix}${before.uuid}`);
    const again = await vtctl(['vm', 'restore', b.path, '--host', h2.name]);
    assert.equal(again.exitCode, 1, 'a second restore of a VM that exists is refused');
    assert.match(again.stderr, /still exists on host/);

    const after = JSON.parse((await ok(['--json', 'vm', 'show', name])).stdout) as { uuid: string; ip: string; server: string; state: string; interfaces: Array<{ mac: string }> };
    assert.deepEqual([after.uuid, after.ip, after.server, after.state], [before.uuid, before.ip, h2.name, 'created (stopped)']);
    assert.deepEqual(after.interfaces.map((i) => i.mac), before.interfaces.map((i) => i.mac));
    await ok(['vm', 'start', name, '--wait']);
    const boot = await waitForReadyLine(path.join(h2.storageRoot, 'vms', before.uuid, 'console.log'));
    assert.equal(boot.hostname, name, 'same hostname');
    assert.equal(boot.ip, `${before.ip}/24`, 'same address');
    assert.equal(boot.mac, before.interfaces[0]!.mac, 'same MAC');
    assert.deepEqual(await domainsWithPrefix(h2.domainPrefix), [`${h2.domainPrefix}${before.uuid}`]);
    const figures = `backup ${backupSeconds.toFixed(1)} s wall (agent ${(b.elapsedMs / 1000).toFixed(1)} s, ${(b.sizeBytes / 1048576).toFixed(1)} MiB written; source overlay ${(sourceDisk.size / 1048576).toFixed(1)} MiB + 256 MiB data disk virtual), restore ${restoreSeconds.toFixed(1)} s wall (agent ${(r.elapsedMs / 1000).toFixed(1)} s, ${(r.bytes / 1048576).toFixed(1)} MiB copied)`;
    t.diagnostic(figures);
    process.stdout.write(`# vm backup/restore e2e: ${figures}\n`);
    await ok(['vm', 'delete', name, '--wait']);
    // Removing the target forgets the name only: the backup stays on disk.
    await ok(['backup', 'target', 'remove', targetName]);
    await access(path.join(b.path, 'SHA256SUMS'));
  });
});
