/**
 * The VM lifecycle from vtctl, end to end (issue 10 "VM lifecycle from vtctl", "Disks, keys and boot"; decision
 * 020): `vtctl vm create --disk 1G --data-disk 1G --ssh-key --wait` on real libvirt, `vm start --wait`, the guest's
 * serial log read through the agent with `vtctl vm console-log` shows the grown system disk, the data disk and the
 * key's fingerprint, then the ready line with the reserved address; `vm list` as a table and as JSON; `vm stop`,
 * `vm delete --wait` leave no domain and no VM folder. vtctl runs as a process, as an operator types it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { type Cluster, domainsWithPrefix, REPO_ROOT, startCluster, virsh } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
/** Used when ssh-keygen is missing: a valid Ed25519 public key (fingerprint computed by the guest). */
const FIXED_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcZ3Bv9v2sCtq2mBEX8d6x4l0bqNcQm3Fmb8z9iT8Y1 vtctl-e2e';

describe('vtctl vm: create --wait with disk, data disk and key, start, console-log, list, stop, delete', () => {
  let c: Cluster;
  let args: string[];
  let keyFile: string;
  /** The key's SHA256 fingerprint as ssh-keygen prints it, when ssh-keygen is there. */
  let fingerprint: string | undefined;

  before(async () => {
    c = await startCluster({ monitoring: { intervalSeconds: 0 } });
    const password = randomBytes(12).toString('hex');
    const user = `ops-${c.runId}`;
    await c.admin.call('user.add', [{ name: user, password, roles: ['admin'] }]);
    const work = path.join(c.dir, 'vtctl');
    await mkdir(work, { recursive: true });
    await writeFile(path.join(work, 'pw'), `${password}\n`, { mode: 0o600 });
    args = ['--url', `https://127.0.0.1:${c.manager.port}/xmlrpc/admin`, '--user', user, '--password-file', path.join(work, 'pw'), '--ca', path.join(c.certsDir, 'ca.crt')];
    keyFile = path.join(work, 'id_ed25519.pub');
    const keygen = await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vtctl-e2e', '-f', path.join(work, 'id_ed25519')], { reject: false });
    if (keygen.exitCode === 0) {
      fingerprint = (await execa('ssh-keygen', ['-lf', keyFile])).stdout.split(' ')[1];
    } else {
      await writeFile(keyFile, `${FIXED_KEY}\n`);
    }
  });
  after(async () => {
    await c?.cleanup();
  });

  const vtctl = (more: string[]) => execa(process.execPath, [path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js'), ...args, ...more], { reject: false });

  test('the whole lifecycle through vtctl', { timeout: 600_000 }, async () => {
    const name = `cli-${c.runId}`;
    const t0 = Date.now();
    const created = await vtctl(['vm', 'create', name, '--template', TEMPLATE, '--host', c.serverName, '--memory', '128M', '--disk', '1G', '--data-disk', '1G', '--ssh-key', keyFile, '--wait']);
    assert.equal(created.exitCode, 0, created.stderr);
    assert.match(created.stderr, /create cli-\S+: SUCCESS after \d+s$/m, 'progress lines (not a terminal)');
    const createSeconds = (Date.now() - t0) / 1000;
    const [row] = (JSON.parse((await vtctl(['--json', 'vm', 'list'])).stdout) as Array<{ uuid: string; name: string; state: string; ip: string; server: string; projectId: string }>).filter((v) => v.name === name);
    assert.ok(row, 'the VM is listed');
    assert.deepEqual([row.state, row.server], ['created (stopped)', c.serverName]);
    const domain = `${c.domainPrefix}${row.uuid}`;
    assert.equal((await virsh('domstate', domain)).stdout.trim(), 'shut off');
    const xml = (await virsh('dumpxml', domain)).stdout;
    assert.match(xml, /<target dev=['"]vdb['"]/, 'the data disk is attached on virtio');

    const t1 = Date.now();
    const started = await vtctl(['vm', 'start', name, '--wait']);
    assert.equal(started.exitCode, 0, started.stderr);
    assert.equal((await virsh('domstate', domain)).stdout.trim(), 'running');

    // The serial log, through the manager and the agent (get_console_log), until the guest's ready line.
    let log = '';
    const deadline = Date.now() + 240_000;
    while (!/kvm-crm-guest (ready|error)/.test(log) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      const r = await vtctl(['vm', 'console-log', name]);
      assert.equal(r.exitCode, 0, r.stderr);
      log = r.stdout;
    }
    const bootSeconds = (Date.now() - t1) / 1000;
    assert.match(log, new RegExp(`kvm-crm-guest ready hostname=${name} ip=${row.ip.replace(/\./g, '\\.')}/`), log.slice(-1500));
    assert.match(log, /kvm-crm-guest disks vda=1024 vdb=1024\b/, 'the system disk grown to 1 GiB and a 1 GiB data disk');
    if (fingerprint) assert.match(log, new RegExp(`kvm-crm-guest key ${fingerprint.replace(/[+/]/g, '\\$&')} ssh-ed25519 vtctl-e2e`));
    else assert.match(log, /kvm-crm-guest key SHA256:\S+ ssh-ed25519 vtctl-e2e/);
    const onDisk = await readFile(path.join(c.storageRoot, 'vms', row.uuid, 'console.log'), 'utf8');
    assert.ok(onDisk.startsWith(log.slice(0, 200)), 'console-log shows the file the agent keeps');

    const table = (await vtctl(['vm', 'list'])).stdout.trimEnd().split('\n');
    assert.match(table[0]!, /^NAME +UUID +STATE +SERVER +IP +MEMORY\(MIB\) +VCPUS +PROJECTID$/);
    assert.match(table[1]!, new RegExp(`^${name} +${row.uuid} +running +${c.serverName} +${row.ip.replace(/\./g, '\\.')} +128 +1 +${row.projectId}$`));

    const stopped = await vtctl(['vm', 'stop', name, '--wait']);
    assert.equal(stopped.exitCode, 0, stopped.stderr);
    assert.equal((await virsh('domstate', domain)).stdout.trim(), 'shut off');
    const startedAgain = await vtctl(['vm', 'start', row.uuid, '--wait']);
    assert.equal(startedAgain.exitCode, 0, startedAgain.stderr);

    const deleted = await vtctl(['vm', 'delete', name, '--wait']);
    assert.equal(deleted.exitCode, 0, deleted.stderr);
    assert.equal(deleted.stdout, `${name} deleted`);
    assert.deepEqual(await domainsWithPrefix(c.domainPrefix), []);
    assert.equal(await access(path.join(c.storageRoot, 'vms', row.uuid)).then(() => true, () => false), false, 'the VM folder is gone');
    assert.equal((await vtctl(['vm', 'list'])).stdout, '(none)');
    const failed = await vtctl(['vm', 'start', name, '--wait']);
    assert.equal(failed.exitCode, 1);
    assert.match(failed.stderr, /NotFoundError: no VM named/);
    process.stdout.write(`# vtctl e2e: create --wait ${createSeconds.toFixed(1)} s, start to ready line ${bootSeconds.toFixed(1)} s\n`);
  });
});
