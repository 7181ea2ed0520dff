/**
 * `vtctl vm snapshot …`, `vtctl vm backup`, `vtctl backup list`, `vtctl vm restore`, `vtctl backup target …` (decision record 026), run as a
 * process (the built vtctl.js) against a manager started here on SQLite whose agent gateway is an in-memory fake:
 * it reports every action SUCCESS and keeps snapshots and backups in maps (what the real agent does on disk is
 * tested in the agent's snapshots-and-backups test and the e2e test). Checks what reaches the agent, the record a
 * backup carries (addresses, no callback URL), tables and --json, refusals with their reasons and exit status 1,
 * and that a restore brings the VM back with its uuid, MAC and IP, or leaves no row when the agent refuses.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CertificateStore, ConflictError, createLogger, hashPassword, parseRspec, provisioningStatusResponse, serialiseRspec } from '@kvm-crm/shared';
import { FakeAgentGateway, silentLogger } from '../../dist/testing/index.js';
import { startManager, type RunningManager } from '../../dist/manager-app.js';
import { managerOptionsSchema } from '../../dist/manager-options.js';
import type { Server } from '../../dist/db/entities/server.js';

const VTCTL = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist/vtctl.js');
const run = promisify(execFile);

/** A fake agent: SUCCESS for every action; snapshots and backups in memory, as the agent methods answer them. */
class BackupAgent extends FakeAgentGateway {
  manager: RunningManager | undefined;
  readonly snapshots = new Map<string, Array<{ name: string; createdAt: string; disks: string[]; complete: boolean }>>();
  readonly backupsByPath = new Map<string, { vmUuid: string; vmName: string; record: Record<string, unknown> }>();
  readonly calls: Array<{ method: string; params: unknown[] }> = [];
  refuseRestore = false;

  override async send(server: Server, callbackUrl: string, rspecXml: string): Promise<void> {
    await super.send(server, callbackUrl, rspecXml);
    const id = parseRspec(rspecXml).query?.provisioning?.actions[0]?.id ?? '';
    setTimeout(() => void this.manager?.provisioning.handleAgentStatus(serialiseRspec(provisioningStatusResponse({ actionId: id, status: 'SUCCESS', description: '' }), { dialect: 'agent' })), 200);
  }

  async snapshot(_server: Server, op: string, vmUuid: string, name?: string): Promise<unknown> {
    this.calls.push({ method: `snapshot_${op}`, params: [vmUuid, name] });
    const list = this.snapshots.get(vmUuid) ?? [];
    this.snapshots.set(vmUuid, list);
    if (op === 'list') return list;
    if (op === 'create') {
      if (list.some((s) => s.name === name)) throw new ConflictError(`VM ${vmUuid} already has a snapshot named ${name}`);
      const s = { name: name!, createdAt: '2026-12-05T01:00:00.000Z', disks: ['disk.qcow2'], complete: true };
      list.push(s);
      return s;
    }
    const s = list.find((x) => x.name === name);
    if (!s) throw new ConflictError(`VM ${vmUuid} has no snapshot named ${name}`);
    if (op === 'delete') list.splice(list.indexOf(s), 1);
    return op === 'delete' ? { name, disks: s.disks } : s;
  }

  async backups(server: Server, method: string, params: unknown[]): Promise<unknown> {
    this.calls.push({ method, params });
    if (method === 'backup_vm') {
      const [vmUuid, req] = params as [string, { dir: string; record: Record<string, unknown> }];
      const p = `${req.dir}/${vmUuid}/20261205T010000Z-${this.backupsByPath.size + 1}`;
      this.backupsByPath.set(p, { vmUuid, vmName: String(req.record.name), record: req.record });
      return { path: p, vmUuid, vmName: req.record.name, backedUpAt: '2026-12-05T01:00:00.000Z', disks: ['disk.qcow2'], sizeBytes: 3 * 1024 * 1024, removed: [], elapsedMs: 1234 };
    }
    if (method === 'list_backups') {
      return [...this.backupsByPath.entries()].map(([p, b]) => ({ path: p, vmUuid: b.vmUuid, vmName: b.vmName, backedUpAt: '2026-12-05T01:00:00.000Z', disks: ['disk.qcow2'], sizeBytes: 3 * 1024 * 1024 }));
    }
    const b = this.backupsByPath.get(params[0] as string);
    if (!b) throw new ConflictError(`no backup ${String(params[0])}`);
    if (method === 'inspect_backup') return { vmUuid: b.vmUuid, vmName: b.vmName, record: b.record };
    if (this.refuseRestore) throw new ConflictError(`backup ${String(params[0])} is corrupted: the SHA-256 of disk.qcow2 is 00, SHA256SUMS says 11`);
    return { vmUuid: b.vmUuid, vmName: b.vmName, domain: `kvmcrm-${b.vmUuid}`, bytes: 3 * 1024 * 1024, elapsedMs: 321, notes: [], record: b.record, on: server.name };
  }
}

describe('vtctl snapshot and backup commands, as a process', () => {
  let dir: string;
  let manager: RunningManager;
  const agent = new BackupAgent();
  let base: string[];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-vtctl-backup-'));
    const certs = new CertificateStore(path.join(dir, 'certs'));
    certs.initCa();
    certs.issue('manager', { role: 'manager', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const password = randomBytes(12).toString('hex');
    writeFileSync(path.join(dir, 'pw'), password + '\n');
    writeFileSync(path.join(dir, 'agent-pw'), 'new-agent-password\n');
    manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 }, publicUrl: 'https://127.0.0.1:1',
        tls: { caFile: certs.caFile, certFile: path.join(dir, 'certs/manager.crt'), keyFile: path.join(dir, 'certs/manager.key'), crlFile: certs.crlFile },
        database: { type: 'sqlite', path: path.join(dir, 'manager.sqlite') }, secretsKeyFile: path.join(dir, 'secrets.key'),
        users: [{ name: 'ops', passwordScrypt: hashPassword(password), roles: ['admin'] }],
        agentCallback: { user: 'oxad', password: randomBytes(12).toString('hex') }, monitoringIntervalSeconds: 0,
      }),
      process.env.VTCTL_TEST_LOG ? createLogger({ component: 'test' }) : silentLogger(), { agents: agent }, { publicPortFromListen: true },
    );
    agent.manager = manager;
    base = ['--url', `https://127.0.0.1:${manager.port}/xmlrpc/admin`, '--user', 'ops', '--password-file', path.join(dir, 'pw'), '--ca', certs.caFile];
    for (const host of ['kvm1', 'kvm2']) {
      await vtctlOk(['server', 'add', host, '--agent-url', `https://${host}.example:9229/`, '--agent-password-file', path.join(dir, 'agent-pw'), '--bridge', 'br-mgmt']);
    }
    await vtctlOk(['range', 'add-ipv4', 'mgmt', '--start', '10.9.0.10', '--end', '10.9.0.20', '--netmask', '255.255.255.0', '--gateway', '10.9.0.1']);
    await vtctlOk(['range', 'add-mac', 'macs', '--start', '02:00:0a:09:00:00', '--end', '02:00:0a:09:00:ff']);
    for (const host of ['kvm1', 'kvm2']) await vtctlOk(['range', 'subscribe', host, '--ipv4', 'mgmt', '--mac', 'macs']);
    await vtctlOk(['vm', 'create', 'web1', '--template', 'kvm-crm-test', '--host', 'kvm1', '--memory', '256M', '--ip', '10.9.0.15', '--wait']);
  });

  after(async () => {
    await manager?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function vtctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(process.execPath, [VTCTL, ...base, ...args], { timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }
  async function vtctlOk(args: string[]): Promise<string> {
    const r = await vtctl(args);
    assert.equal(r.code, 0, `vtctl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }
  const showJson = async (ref: string) => ({ vm: JSON.parse(await vtctlOk(['--json', 'vm', 'show', ref])) as { uuid: string; ip: string; server: string; state: string; interfaces: Array<{ mac: string; ip: string }> } });

  test('snapshot create|list|revert|delete reach the VM\'s agent; bad names and taken names fail with the reason', async () => {
    const { vm } = await showJson('web1');
    const created = JSON.parse(await vtctlOk(['--json', 'vm', 'snapshot', 'create', 'web1', 'before-upgrade']));
    assert.equal(created.vm, vm.uuid);
    assert.equal(created.host, 'kvm1');
    assert.deepEqual(agent.calls.at(-1), { method: 'snapshot_create', params: [vm.uuid, 'before-upgrade'] });
    assert.match(await vtctlOk(['vm', 'snapshot', 'create', 'web1', 'second']), /^snapshot second of web1 \([0-9a-f-]{36}\) on kvm1 created: disk.qcow2\n$/);
    const table = await vtctlOk(['vm', 'snapshot', 'list', 'web1']);
    assert.match(table, /^NAME +CREATED +DISKS +COMPLETE\nbefore-upgrade +2026-12-05T01:00:00.000Z +disk.qcow2 +yes\nsecond +/);
    const bad = await vtctl(['vm', 'snapshot', 'create', 'web1', '1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid snapshot name "1"/);
    const taken = await vtctl(['vm', 'snapshot', 'create', 'web1', 'second']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /already has a snapshot named second/);
    assert.match(await vtctlOk(['vm', 'snapshot', 'revert', 'web1', 'before-upgrade']), /reverted to snapshot before-upgrade/);
    assert.match(await vtctlOk(['vm', 'snapshot', 'delete', 'web1', 'second']), /snapshot second of web1 deleted from disk.qcow2/);
    assert.deepEqual(JSON.parse(await vtctlOk(['--json', 'vm', 'snapshot', 'list', 'web1'])).snapshots.map((s: { name: string }) => s.name), ['before-upgrade']);
    const unknown = await vtctl(['vm', 'snapshot', 'list', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no VM "nope"/);
  });

  test('backup carries the manager record (addresses, no callback URL); backup list; restore refuses while the VM exists, then brings it back with its identity on another host', async () => {
    const { vm } = await showJson('web1');
    const r = await vtctl(['vm', 'backup', 'web1', '--to', '/srv/backups', '--keep', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^web1 backed up on kvm1 to \/srv\/backups\/[0-9a-f-]{36}\/\S+ \(3 MiB in 1\.2s\)\n$/);
    assert.match(r.stderr, /^backup web1: started\nbackup web1: done after \d+\.\ds\n$/, 'plain progress lines when not on a terminal');
    const call = agent.calls.at(-1)!;
    assert.equal(call.method, 'backup_vm');
    const [uuid, req] = call.params as [string, { dir: string; keep: number; record: Record<string, unknown> }];
    assert.equal(uuid, vm.uuid);
    assert.equal(req.keep, 3);
    assert.equal(req.record.uuid, vm.uuid);
    assert.equal(req.record.server, 'kvm1');
    assert.equal(req.record.callbackUrl, undefined, 'the callback URL (credentials) is never written into a backup');
    assert.deepEqual((req.record.interfaces as Array<{ mac: string; ip: string }>).map((i) => [i.mac, i.ip]), [[vm.interfaces[0]!.mac, '10.9.0.15']]);
    const relative = await vtctl(['vm', 'backup', 'web1', '--to', 'backups']);
    assert.equal(relative.code, 1);
    assert.match(relative.stderr, /must be an absolute path/);
    const badKeep = await vtctl(['vm', 'backup', 'web1', '--to', '/srv/backups', '--keep', '0']);
    assert.equal(badKeep.code, 1);
    assert.match(badKeep.stderr, /--keep needs a whole number/);

    const listed = await vtctlOk(['backup', 'list']);
    assert.match(listed, /^HOST +VM +NAME +TAKEN +SIZE MiB +PATH\nkvm1 +[0-9a-f-]{36} +web1 +\S+ +3 +\/srv\/backups\//);
    const listJson = JSON.parse(await vtctlOk(['--json', 'backup', 'list', vm.uuid, '--host', 'kvm2']));
    assert.equal(listJson.backups.length, 1);
    const backupPath = listJson.backups[0].path as string;

    const exists = await vtctl(['vm', 'restore', backupPath, '--host', 'kvm2']);
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /still exists on host kvm1: delete it before restoring/);

    await vtctlOk(['vm', 'delete', 'web1', '--wait']);
    assert.equal((await vtctl(['vm', 'show', 'web1'])).code, 1);
    agent.refuseRestore = true;
    const corrupt = await vtctl(['vm', 'restore', backupPath, '--host', 'kvm2']);
    assert.equal(corrupt.code, 1);
    assert.match(corrupt.stderr, /is corrupted: the SHA-256 of disk.qcow2/);
    assert.equal((await vtctl(['vm', 'show', 'web1'])).code, 1, 'a refused restore leaves no VM row');
    agent.refuseRestore = false;
    const restored = await vtctl(['--json', 'vm', 'restore', backupPath, '--host', 'kvm2']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(JSON.parse(restored.stdout).vmUuid, vm.uuid);
    const after = (await showJson('web1')).vm;
    assert.equal(after.uuid, vm.uuid);
    assert.equal(after.server, 'kvm2');
    assert.equal(after.ip, '10.9.0.15');
    assert.equal(after.state, 'created (stopped)');
    assert.deepEqual(after.interfaces.map((i) => i.mac), vm.interfaces.map((i) => i.mac));
    const taken = await vtctl(['vm', 'create', 'web9', '--template', 'kvm-crm-test', '--host', 'kvm1', '--ip', '10.9.0.15']);
    assert.equal(taken.code, 1, 'the restored VM holds its address again');
    assert.match(taken.stderr, /already allocated/);
  });

  test('backup target add|list|remove; vm backup --target and backup list --target resolve to the folder (pinned targets on their host only)', async () => {
    const { vm } = await showJson('web1');
    const other = vm.server === 'kvm1' ? 'kvm2' : 'kvm1';
    const help = await vtctlOk(['backup', 'target', 'add', '--help']);
    assert.match(help.replace(/\s+/g, ' '), /cannot check the agents' backup roots/);
    const bad = await vtctl(['backup', 'target', 'add', '../x', '/srv/x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid backup target name "\.\.\/x"/);
    const dots = await vtctl(['backup', 'target', 'add', 'x', '/srv/../etc']);
    assert.equal(dots.code, 1);
    assert.match(dots.stderr, /must not contain '\.' or '\.\.' segments/);
    assert.equal(await vtctlOk(['backup', 'target', 'add', 'nfs', '/srv//nfs/']), 'backup target nfs added: /srv/nfs on every host\n');
    const pinned = JSON.parse(await vtctlOk(['--json', 'backup', 'target', 'add', 'elsewhere', '/srv/local', '--host', other]));
    assert.deepEqual([pinned.name, pinned.path, pinned.host], ['elsewhere', '/srv/local', other]);
    const dup = await vtctl(['backup', 'target', 'add', 'nfs', '/srv/b']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /backup target nfs exists already/);
    assert.match(await vtctlOk(['backup', 'target', 'list']), new RegExp(`^NAME +PATH +HOST +CREATED\nelsewhere +/srv/local +${other} +\\S+\nnfs +/srv/nfs +\\(every host\\) +\\S+\n$`));

    const r = await vtctl(['--json', 'vm', 'backup', 'web1', '--target', 'nfs', '--keep', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).target, 'nfs');
    const call = agent.calls.at(-1)!;
    assert.equal(call.method, 'backup_vm');
    assert.deepEqual([(call.params[1] as { dir: string }).dir, (call.params[1] as { keep: number }).keep], ['/srv/nfs', 2]);
    const wrongHost = await vtctl(['vm', 'backup', 'web1', '--target', 'elsewhere']);
    assert.equal(wrongHost.code, 1);
    assert.match(wrongHost.stderr, new RegExp(`backup target elsewhere is on host ${other} only, not on ${vm.server}`));
    const unknown = await vtctl(['vm', 'backup', 'web1', '--target', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no backup target "nope"/);
    const both = await vtctl(['vm', 'backup', 'web1', '--target', 'nfs', '--to', '/srv/x']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give exactly one of --to DIR and --target NAME/);
    assert.equal((await vtctl(['vm', 'backup', 'web1'])).code, 2);

    const n = agent.calls.length;
    await vtctlOk(['backup', 'list', '--target', 'elsewhere']);
    assert.deepEqual(agent.calls.slice(n).map((c) => [c.method, (c.params[0] as { dir?: string }).dir]), [['list_backups', '/srv/local']], 'a pinned target: only its host is asked, for its folder');

    assert.equal(await vtctlOk(['backup', 'target', 'remove', 'nfs']), 'backup target nfs removed (the backups in /srv/nfs stay on disk)\n');
    assert.deepEqual(JSON.parse(await vtctlOk(['--json', 'backup', 'target', 'list'])).map((t: { name: string; host: string }) => [t.name, t.host]), [['elsewhere', other]]);
    const again = await vtctl(['backup', 'target', 'remove', 'nfs']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no backup target "nfs"/);
  });
});
