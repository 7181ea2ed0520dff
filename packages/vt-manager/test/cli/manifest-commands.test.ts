/**
 * `vtctl manifest …` and `vtctl capacity --manifest`, run as a process (the built vtctl.js) against a manager
 * started here on SQLite, whose agent gateway is an in-memory fake that reports every action SUCCESS and serves
 * domain XML. Every verb with `--json` and as text: file errors name the file and key, plan and --dry-run change
 * nothing, build creates what is missing (hostname, address, sizes reach the agent), a second build is a no-op,
 * start/stop/sethostnames/dumpxml, delete asks for --yes without a terminal and carries --keep-disks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CertificateStore, hashPassword, parseRspec, provisioningStatusResponse, serialiseRspec } from '@kvm-crm/shared';
import { FakeAgentGateway, silentLogger } from '../../dist/testing/index.js';
import { startManager, type RunningManager } from '../../dist/manager-app.js';
import { managerOptionsSchema } from '../../dist/manager-options.js';
import type { Server } from '../../dist/db/entities/server.js';

const VTCTL = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist/vtctl.js');
const run = promisify(execFile);

/** A fake agent: SUCCESS for every provisioning action, a small domain XML per VM. */
class ReportingAgent extends FakeAgentGateway {
  manager: RunningManager | undefined;
  override async send(server: Server, callbackUrl: string, rspecXml: string): Promise<void> {
    await super.send(server, callbackUrl, rspecXml);
    const id = parseRspec(rspecXml).query?.provisioning?.actions[0]?.id ?? '';
    setTimeout(() => {
      const xml = serialiseRspec(provisioningStatusResponse({ actionId: id, status: 'SUCCESS', description: '' }), { dialect: 'agent' });
      void this.manager?.provisioning.handleAgentStatus(xml);
    }, 100);
  }
  async domainXml(_server: Server, vmUuid: string): Promise<string> {
    return `<domain type='kvm'><name>t-${vmUuid}</name></domain>\n`;
  }
  /** set_guest_hostname calls, in order; `medium` is what the fake answers (the real agent: `swapped` when running). */
  readonly hostnames: Array<{ server: string; vm: string; hostname: string }> = [];
  medium = 'not running';
  async setGuestHostname(server: Server, vmUuid: string, hostname: string): Promise<{ previous: string; medium: string }> {
    this.hostnames.push({ server: server.name, vm: vmUuid, hostname });
    return { previous: '', medium: this.medium };
  }
}

describe('vtctl manifest, as a process', () => {
  let dir: string;
  let manager: RunningManager;
  const agent = new ReportingAgent();
  let base: string[];
  let file: string;

  async function vtctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(process.execPath, [VTCTL, ...base, ...args], { timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }
  async function ok(args: string[]): Promise<string> {
    const r = await vtctl(args);
    assert.equal(r.code, 0, `vtctl ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }
  const write = (name: string, value: unknown) => {
    const f = path.join(dir, name);
    writeFileSync(f, typeof value === 'string' ? value : JSON.stringify(value));
    return f;
  };
  const state = async () => JSON.stringify([await manager.dataSource.query('SELECT * FROM virtual_machine ORDER BY id'), await manager.dataSource.query('SELECT id, status FROM action ORDER BY id'), await manager.dataSource.query('SELECT * FROM ipv4_slot ORDER BY id').catch(() => [])]);
  const manifest = (hostname = 'web1.tdh.internal') => [
    { host: 'kvm1', vmspecs: [{ name: 'web1', hostname, ipaddress: '10.9.0.15', vcpus: 2, memoryGb: 0.5, maxMemoryGb: 1, numDisks: 2, diskSize: 2, description: 'web' }] },
    { vmspecs: [{ name: 'db1', vcpus: 1, memoryGb: 0.25, numDisks: 1, diskSize: 1, description: 'placed', template: 'other-template' }] },
  ];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-vtctl-manifest-'));
    const certs = new CertificateStore(path.join(dir, 'certs'));
    certs.initCa();
    certs.issue('manager', { role: 'manager', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const password = randomBytes(12).toString('hex');
    writeFileSync(path.join(dir, 'pw'), password + '\n');
    writeFileSync(path.join(dir, 'agent-pw'), 'agent-password\n');
    manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 }, publicUrl: 'https://127.0.0.1:1',
        tls: { caFile: certs.caFile, certFile: path.join(dir, 'certs/manager.crt'), keyFile: path.join(dir, 'certs/manager.key'), crlFile: certs.crlFile },
        database: { type: 'sqlite', path: path.join(dir, 'manager.sqlite') }, secretsKeyFile: path.join(dir, 'secrets.key'),
        users: [{ name: 'ops', passwordScrypt: hashPassword(password), roles: ['admin'] }],
        agentCallback: { user: 'oxad', password: randomBytes(12).toString('hex') }, monitoringIntervalSeconds: 0,
      }),
      silentLogger(), { agents: agent }, { publicPortFromListen: true },
    );
    agent.manager = manager;
    // kvm1 reports its size at registration, so placement can choose it: 8 CPUs, 16 GiB, 100 GiB
    agent.hostInfo.set('kvm1', {
      hypervisor: 'kvm', cpuModel: 'x', cpus: 8, cpuSockets: 1, cpuCoresPerSocket: 8, cpuThreadsPerCore: 1, cpuFrequencyMHz: 2000, memoryTotalMiB: 16384,
      memoryFreeMiB: 16000, storageTotalGiB: 100, storageFreeGiB: 90, libvirtVersion: '9.0.0', qemuVersion: '7.2.0', bridges: ['br-mgmt'],
    });
    base = ['--url', `https://127.0.0.1:${manager.port}/xmlrpc/admin`, '--user', 'ops', '--password-file', path.join(dir, 'pw'), '--ca', certs.caFile];
    await ok(['server', 'add', 'kvm1', '--agent-url', 'https://kvm1.example:9229/', '--agent-password-file', path.join(dir, 'agent-pw'), '--bridge', 'br-mgmt']);
    await ok(['range', 'add-ipv4', 'mgmt', '--start', '10.9.0.10', '--end', '10.9.0.20', '--netmask', '255.255.255.0', '--gateway', '10.9.0.1']);
    await ok(['range', 'add-mac', 'macs', '--start', '02:00:0a:09:00:00', '--end', '02:00:0a:09:00:ff']);
    await ok(['range', 'subscribe', 'kvm1', '--ipv4', 'mgmt', '--mac', 'macs']);
    file = write('m.json', manifest());
  });
  after(async () => {
    await manager?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a file error names the file and the key, and nothing is asked of the manager', async () => {
    const bad = write('bad.json', [{ host: 'kvm1', vmspecs: [{ name: 'x', vcpus: 1, memoryGb: 1, diskSize: 1, cpu: 4 }] }]);
    const r = await vtctl(['manifest', 'plan', 'build', bad, '--template', 't']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[/.]/g, '\\$&')}: unknown key "cpu" at \\[0\\]\\.vmspecs\\[0\\]`));
    const dup = await vtctl(['manifest', 'build', file, write('dup.json', [{ vmspecs: [{ name: 'web1', vcpus: 1, memoryGb: 1, diskSize: 1 }] }]), '--template', 't']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /VM web1 is in the manifest twice \(.*m\.json and .*dup\.json\)/);
    const none = await vtctl(['manifest', 'plan', 'build', file]);
    assert.match(none.stderr, /VM web1 \(.*m\.json\) has no template: give "template" in its vmspec or --template/);
  });

  test('plan and --dry-run print the steps per host and change nothing', async () => {
    const before = await state();
    const text = await ok(['manifest', 'plan', 'build', file, '--template', 'tpl']);
    assert.equal(text, [
      'host kvm1',
      '  create  web1  2 vCPU, 512M (max 1G), disk 2G + 2G, ip 10.9.0.15, hostname web1.tdh.internal, template tpl',
      'host (placed)',
      '  create  db1  1 vCPU, 256M, disk 1G, template other-template',
      'would run 2 step(s): 2 create (dry run: nothing changed)',
      '',
    ].join('\n'));
    const dry = JSON.parse(await ok(['--json', 'manifest', 'build', file, '--template', 'tpl', '--dry-run'])) as { dryRun: boolean; steps: Array<{ kind: string; vm: string; host: string }> };
    assert.equal(dry.dryRun, true);
    assert.equal(await ok(['manifest', 'plan', file, '--template', 'tpl']), text, 'plan FILE plans a build');
    assert.deepEqual(dry.steps.map((s) => [s.kind, s.vm, s.host]), [['create', 'web1', 'kvm1'], ['create', 'db1', '(placed)']]);
    for (const verb of ['start', 'stop', 'delete', 'sethostnames']) assert.match(await ok(['manifest', verb, file, '--template', 'tpl', '--dry-run']), /^host kvm1\n {2}missing {2}web1 {2}not built$|^host kvm1\n {2}unchanged {2}web1 {2}not there$/m);
    assert.equal(await state(), before, 'no VM, action or address slot changed');
    assert.equal(agent.sent.length, 0, 'nothing reached an agent');
  });

  test('an address outside the host ranges is refused in the plan, naming the ranges', async () => {
    const m = manifest();
    (m[0]!.vmspecs[0] as { ipaddress: string }).ipaddress = '10.9.1.5';
    const r = await vtctl(['manifest', 'plan', 'build', write('far.json', m), '--template', 'tpl']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /refused {2}web1 {2}address 10\.9\.1\.5 lies in no IPv4 range of server kvm1 \(mgmt 10\.9\.0\.10-10\.9\.0\.20\)/);
  });

  test('creates that do not fit the named host, summed in manifest order, are refused in the plan', async () => {
    const big = (name: string) => ({ name, vcpus: 1, memoryGb: 10, diskSize: 1 });
    const r = await vtctl(['manifest', 'plan', write('big.json', [{ host: 'kvm1', vmspecs: [big('big1'), big('big2')] }]), '--template', 'tpl']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ {2}create {3}big1 {2}1 vCPU, 10G, disk 1G, template tpl$/m);
    assert.match(r.stdout, /^ {2}refused {2}big2 {2}host kvm1 has 6144 MiB free for VMs, 10240 MiB asked$/m);
    await ok(['server', 'disable', 'kvm1']);
    try {
      assert.match((await vtctl(['manifest', 'plan', file, '--template', 'tpl'])).stdout, /refused {2}web1 {2}server kvm1 is disabled/);
    } finally {
      await ok(['server', 'enable', 'kvm1']);
    }
  });

  test('capacity --manifest: what the build adds per host, against what is free', async () => {
    const rows = JSON.parse(await ok(['--json', 'capacity', '--manifest', file, '--template', 'tpl'])) as Array<{ host: string; newVms: number; memoryMiB: { asked: number }; diskMiB: { asked: number }; fits: string }>;
    assert.deepEqual(rows.map((r) => [r.host, r.newVms, r.memoryMiB.asked, r.diskMiB.asked, r.fits]), [['kvm1', 1, 512, 4096, 'yes'], ['(placed)', 1, 256, 1024, 'yes']]);
    assert.match(await ok(['capacity', '--manifest', file, '--template', 'tpl']), /^HOST\s+NEW VMS/);
  });

  test('build creates what is missing through the create action; a second build changes nothing and says so', async () => {
    const out = JSON.parse(await ok(['--json', 'manifest', 'build', file, '--template', 'tpl'])) as { steps: Array<{ kind: string; vm: string; host: string; status: string; actionId: string }> };
    assert.deepEqual(out.steps.map((s) => [s.kind, s.vm, s.host, s.status]), [['create', 'web1', 'kvm1', 'SUCCESS'], ['create', 'db1', 'kvm1', 'SUCCESS']]);
    const cfg = agent.action(0).server?.virtualMachines[0]?.xenConfiguration;
    assert.equal(cfg?.hostname, 'web1.tdh.internal', 'the hostname reaches the agent');
    assert.deepEqual([cfg?.memoryMb, cfg?.maxMemoryMb, cfg?.vcpus, cfg?.hdSizeMb, cfg?.dataDisks], [512, 1024, 2, 2048, [{ sizeMb: 2048 }]]);
    assert.equal(cfg?.interfaces?.find((i) => i.ismgmt)?.ip, '10.9.0.15');
    assert.equal(agent.action(1).server?.virtualMachines[0]?.xenConfiguration?.hostname, undefined, 'no hostname: the VM name');
    const before = await state();
    const again = await ok(['manifest', 'build', file, '--template', 'tpl']);
    assert.match(again, /^host kvm1\n {2}unchanged {2}web1 {2}matches \(created \(stopped\)\)\n {2}unchanged {2}db1 {3}matches/);
    assert.match(again, /^nothing to do: 2 unchanged$/m);
    assert.equal(await state(), before);
    assert.equal(agent.sent.length, 2);
  });

  test('a VM that differs is reported as needing a rebuild and left alone', async () => {
    const m = manifest();
    m[0]!.vmspecs[0]!.vcpus = 4;
    const before = await state();
    const out = await ok(['manifest', 'build', write('bigger.json', m), '--template', 'tpl']);
    assert.match(out, /rebuild-needed {2}web1 {2}vcpus: 2 → 4/);
    assert.match(out, /1 VM\(s\) differ from the manifest and need a rebuild: left alone/);
    assert.equal(await state(), before);
  });

  test('start and stop act on the manifest VMs; sethostnames stores a changed hostname', async () => {
    const started = JSON.parse(await ok(['--json', 'manifest', 'start', file, '--template', 'tpl'])) as { steps: Array<{ kind: string; status: string }> };
    assert.deepEqual(started.steps.map((s) => [s.kind, s.status]), [['start', 'SUCCESS'], ['start', 'SUCCESS']]);
    assert.match(await ok(['manifest', 'start', file, '--template', 'tpl']), /nothing to do: 2 unchanged/);
    const stopped = JSON.parse(await ok(['--json', 'manifest', 'stop', file, '--template', 'tpl'])) as { steps: Array<{ kind: string; status: string }> };
    assert.deepEqual(stopped.steps.map((s) => s.kind), ['stop', 'stop']);
    const renamed = write('renamed.json', manifest('web1.new.internal'));
    const set = await ok(['manifest', 'sethostnames', renamed, '--template', 'tpl']);
    assert.match(set, /set-hostname {2}web1 {2}web1\.tdh\.internal → web1\.new\.internal: seed rewritten, applied at next boot$/m);
    assert.match(await ok(['manifest', 'plan', 'sethostnames', renamed, '--template', 'tpl']), /unchanged {2}web1 {2}web1\.new\.internal/);
    const rows = (await manager.dataSource.query("SELECT uuid, guestHostname FROM virtual_machine WHERE name = 'web1'")) as Array<{ uuid: string; guestHostname: string }>;
    assert.equal(rows[0]?.guestHostname, 'web1.new.internal');
    assert.deepEqual(agent.hostnames, [{ server: 'kvm1', vm: rows[0]?.uuid, hostname: 'web1.new.internal' }], 'the seed rewrite went to the VM\'s agent');
  });

  test('sethostnames on a running VM: needs a reboot, or --reboot reboots it (a durable action) and it is applied', async () => {
    await ok(['manifest', 'start', file, '--template', 'tpl']);
    agent.hostnames.length = 0;
    agent.medium = 'swapped';
    const third = write('third.json', manifest('web1.third.internal'));
    const before = await state();
    const dry = await ok(['manifest', 'sethostnames', third, '--template', 'tpl', '--reboot', '--dry-run']);
    assert.match(dry, /set-hostname {2}web1 {2}web1\.new\.internal → web1\.third\.internal: seed rewritten, running: reboot to apply$/m);
    assert.equal(await state(), before, 'a dry run changes nothing');
    assert.deepEqual(agent.hostnames, [], 'a dry run sends nothing');
    const plain = await ok(['manifest', 'sethostnames', third, '--template', 'tpl']);
    assert.match(plain, /web1\.new\.internal → web1\.third\.internal: seed rewritten, applied at next boot; running: needs a reboot$/m);
    const actionsBefore = (await manager.dataSource.query('SELECT id FROM action')) as unknown[];
    const fourth = write('fourth.json', manifest('web1.fourth.internal'));
    const rebooted = JSON.parse(await ok(['--json', 'manifest', 'sethostnames', fourth, '--template', 'tpl', '--reboot'])) as { steps: Array<{ kind: string; vm: string; detail: string; status?: string; actionId: string }> };
    const step = rebooted.steps.find((s) => s.vm === 'web1')!;
    assert.equal(step.kind, 'set-hostname');
    assert.equal(step.status, 'SUCCESS');
    assert.equal(step.detail, 'web1.third.internal → web1.fourth.internal: applied (rebooted)');
    const actions = (await manager.dataSource.query('SELECT id, type FROM action ORDER BY id')) as Array<{ id: number; type: string }>;
    assert.equal(actions.length, actionsBefore.length + 1);
    assert.equal(actions.at(-1)?.type, 'reboot');
    assert.deepEqual((agent.hostnames as Array<{ hostname: string }>).map((h) => h.hostname), ['web1.third.internal', 'web1.fourth.internal']);
    // A medium the agent could not swap: a reboot would not apply the name, so --reboot fails the step and sends none.
    agent.medium = 'not swapped: tray stuck';
    const fifth = await vtctl(['manifest', 'sethostnames', write('fifth.json', manifest('web1.fifth.internal')), '--template', 'tpl', '--reboot']);
    assert.equal(fifth.code, 1);
    assert.match(fifth.stdout, /FAILED: seed rewritten and name stored, reboot not sent: the running guest still has the old seed medium \(not swapped: tray stuck\): stop and start the VM/);
    assert.equal(((await manager.dataSource.query('SELECT id FROM action')) as unknown[]).length, actions.length);
    await ok(['manifest', 'stop', file, '--template', 'tpl']);
  });

  test('dumpxml writes <dir>/<vm>.xml from the agents', async () => {
    const out = path.join(dir, 'xml');
    const rows = JSON.parse(await ok(['--json', 'manifest', 'dumpxml', file, '--template', 'tpl', '--dir', out])) as Array<{ vm: string; file: string }>;
    assert.deepEqual(rows.map((r) => r.vm), ['web1', 'db1']);
    assert.match(readFileSync(path.join(out, 'web1.xml'), 'utf8'), /^<domain type='kvm'><name>t-[0-9a-f-]{36}<\/name>/);
  });

  test('delete refuses without a terminal unless --yes; --keep-disks reaches the agent', async () => {
    const before = await state();
    const r = await vtctl(['manifest', 'delete', file, '--template', 'tpl']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Delete 2 VM\(s\) \(web1 on kvm1, db1 on kvm1\), removing their disks\?: no terminal to confirm on; give --yes/);
    assert.equal(await state(), before);
    const out = JSON.parse(await ok(['--json', 'manifest', 'delete', file, '--template', 'tpl', '--yes', '--keep-disks'])) as { steps: Array<{ kind: string; status: string }> };
    assert.deepEqual(out.steps.map((s) => [s.kind, s.status]), [['delete', 'SUCCESS'], ['delete', 'SUCCESS']]);
    const last = agent.action(agent.sent.length - 1);
    assert.equal(last.type, 'delete');
    assert.equal(last.server?.virtualMachines[0]?.xenConfiguration?.keepDisks, true);
    assert.deepEqual(JSON.parse(await ok(['--json', 'vm', 'list'])), []);
    assert.match(await ok(['manifest', 'delete', file, '--template', 'tpl', '--yes']), /nothing to do: 2 unchanged/);
  });
});
