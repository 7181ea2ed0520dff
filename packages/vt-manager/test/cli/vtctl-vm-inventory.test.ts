/**
 * `vtctl vm …` and the inventory verbs, run as a process (the built vtctl.js with --url/--user/--password-file/--ca)
 * against a manager started here on SQLite, whose agent gateway is an in-memory fake that reports every action
 * SUCCESS (and serves a console log). Checks what reaches the agent (disk, data disks, keys, users, reserved
 * address, chosen bridges, keep-disks), the admin project, --wait, tables and --json, exit status and reasons.
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
import { CertificateStore, createLogger, hashPassword, parseRspec, provisioningStatusResponse, serialiseRspec, type Action } from '@kvm-crm/shared';
import { FakeAgentGateway, silentLogger } from '../../dist/testing/index.js';
import { startManager, type RunningManager } from '../../dist/manager-app.js';
import { managerOptionsSchema } from '../../dist/manager-options.js';
import type { Server } from '../../dist/db/entities/server.js';
import type { ConsoleLogChunk } from '../../dist/services/ports.js';
import { adminProjectId } from '../../dist/services/vm-lifecycle-service.js';

const VTCTL = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist/vtctl.js');
const run = promisify(execFile);
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcZ3Bv9v2sCtq2mBEX8d6x4l0bqNcQm3Fmb8z9iT8Y1 ops@example';

/** A fake agent that reports SUCCESS for every provisioning action it gets, and serves a fixed console log. */
class ReportingAgent extends FakeAgentGateway {
  manager: RunningManager | undefined;
  readonly log = Buffer.from('boot\nkvm-crm-guest ready\n');

  override async send(server: Server, callbackUrl: string, rspecXml: string): Promise<void> {
    await super.send(server, callbackUrl, rspecXml);
    const id = parseRspec(rspecXml).query?.provisioning?.actions[0]?.id ?? '';
    setTimeout(() => {
      const xml = serialiseRspec(provisioningStatusResponse({ actionId: id, status: 'SUCCESS', description: '' }), { dialect: 'agent' });
      void this.manager?.provisioning.handleAgentStatus(xml);
    }, 300);
  }

  async consoleLog(_server: Server, _vmUuid: string, offset: number): Promise<ConsoleLogChunk> {
    const data = this.log.subarray(offset, offset + 10);
    return { data, offset, nextOffset: offset + data.length, size: this.log.length };
  }
}

describe('vtctl vm and inventory commands, as a process', () => {
  let dir: string;
  let manager: RunningManager;
  const agent = new ReportingAgent();
  let base: string[];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-vtctl-vm-'));
    const certs = new CertificateStore(path.join(dir, 'certs'));
    certs.initCa();
    certs.issue('manager', { role: 'manager', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const password = randomBytes(12).toString('hex');
    writeFileSync(path.join(dir, 'pw'), password + '\n');
    writeFileSync(path.join(dir, 'agent-pw'), 'new-agent-password\n');
    writeFileSync(path.join(dir, 'key.pub'), `# a comment\n${KEY}\n`);
    manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 }, publicUrl: 'https://127.0.0.1:1',
        tls: { caFile: certs.caFile, certFile: path.join(dir, 'certs/manager.crt'), keyFile: path.join(dir, 'certs/manager.key'), crlFile: certs.crlFile },
        database: { type: 'sqlite', path: path.join(dir, 'manager.sqlite') }, secretsKeyFile: path.join(dir, 'secrets.key'),
        users: [{ name: 'ops', passwordScrypt: hashPassword(password), roles: ['admin'] }],
        agentCallback: { user: 'oxad', password: randomBytes(12).toString('hex') }, monitoringIntervalSeconds: 0,
      }),
      (process.env.VTCTL_TEST_LOG ? createLogger({ component: 'test' }) : silentLogger()), { agents: agent }, { publicPortFromListen: true },
    );
    agent.manager = manager;
    base = ['--url', `https://127.0.0.1:${manager.port}/xmlrpc/admin`, '--user', 'ops', '--password-file', path.join(dir, 'pw'), '--ca', certs.caFile];
    await vtctlOk(['server', 'add', 'kvm1', '--agent-url', 'https://kvm1.example:9229/', '--agent-password-file', path.join(dir, 'agent-pw'), '--bridge', 'br-mgmt', '--bridge', 'br-data', '--bridge', 'br-extra']);
    await vtctlOk(['range', 'add-ipv4', 'mgmt', '--start', '10.9.0.10', '--end', '10.9.0.20', '--netmask', '255.255.255.0', '--gateway', '10.9.0.1']);
    await vtctlOk(['range', 'add-mac', 'macs', '--start', '02:00:0a:09:00:00', '--end', '02:00:0a:09:00:ff']);
    await vtctlOk(['range', 'subscribe', 'kvm1', '--ipv4', 'mgmt', '--mac', 'macs']);
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
  const lastAction = (): Action => agent.action(agent.sent.length - 1);

  test('vm create: --ip without --host is refused (placement picks the host, the address names one); bad sizes name the option', async () => {
    const r = await vtctl(['vm', 'create', 'web0', '--template', 'kvm-crm-test', '--ip', '10.9.0.15']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--ip and --bridge need --host/);
    const bad = await vtctl(['vm', 'create', 'web0', '--template', 't', '--host', 'kvm1', '--disk', '20X']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--disk: "20X" is not a size/);
  });

  test('vm create --wait: the create carries disk, data disks, key, user, reserved address and chosen bridges to the agent', async () => {
    const sent = agent.sent.length;
    const r = await vtctl(['vm', 'create', 'web1', '--template', 'kvm-crm-test', '--host', 'kvm1', '--memory', '256M', '--max-memory', '1G', '--vcpus', '2',
      '--disk', '1G', '--data-disk', '1G', '--data-disk', '512M', '--ssh-key', path.join(dir, 'key.pub'), '--guest-user', 'alice', '--ip', '10.9.0.15',
      '--bridge', 'br-mgmt', '--bridge', 'br-extra', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^create web1: (QUEUED|ONGOING) after \d+s\n(.*\n)*create web1: SUCCESS after \d+s\n$/, 'plain progress lines when not on a terminal');
    assert.match(r.stdout, /^NAME +UUID +STATE +SERVER +IP\nweb1 +[0-9a-f-]{36} +created \(stopped\) +kvm1 +10\.9\.0\.15\n$/);
    assert.equal(agent.sent.length, sent + 1);
    const vm = lastAction().server?.virtualMachines[0];
    const cfg = vm?.xenConfiguration;
    assert.equal(lastAction().type, 'create');
    assert.equal(vm?.projectId, adminProjectId('ops'), 'the admin project');
    assert.deepEqual([cfg?.hdSizeMb, cfg?.memoryMb, cfg?.maxMemoryMb, cfg?.vcpus], [1024, 256, 1024, 2]);
    assert.deepEqual(cfg?.dataDisks, [{ sizeMb: 1024 }, { sizeMb: 512 }]);
    assert.deepEqual(cfg?.sshKeys, [KEY]);
    assert.deepEqual(cfg?.users, [{ name: 'alice' }]);
    assert.deepEqual(cfg?.interfaces?.map((i) => [i.switchId, i.ip]), [['br-mgmt', '10.9.0.15'], ['br-extra', 'NONE']]);
  });

  test('--ip outside the host ranges, or taken, is refused naming the ranges; nothing is stored', async () => {
    const outside = await vtctl(['vm', 'create', 'web2', '--template', 'kvm-crm-test', '--host', 'kvm1', '--ip', '10.99.0.5']);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /address 10\.99\.0\.5 lies in no IPv4 range of server kvm1 \(mgmt 10\.9\.0\.10-10\.9\.0\.20\)/);
    const taken = await vtctl(['vm', 'create', 'web2', '--template', 'kvm-crm-test', '--host', 'kvm1', '--ip', '10.9.0.15']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /10\.9\.0\.15 of range mgmt is already allocated/);
    const rows = JSON.parse(await vtctlOk(['--json', 'vm', 'list'])) as Array<{ name: string }>;
    assert.deepEqual(rows.map((v) => v.name), ['web1']);
  });

  test('vm list: an aligned table by default, --json for scripts; vm show; console-log', async () => {
    const table = await vtctlOk(['vm', 'list']);
    const lines = table.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^NAME +UUID +STATE +SERVER +IP +MEMORY\(MIB\) +VCPUS +PROJECTID$/);
    assert.equal(lines[1]!.indexOf('kvm1'), lines[0]!.indexOf('SERVER'), 'columns aligned');
    const [row] = JSON.parse(await vtctlOk(['--json', 'vm', 'list'])) as Array<Record<string, unknown>>;
    assert.deepEqual([row?.name, row?.server, row?.ip, row?.projectId, row?.dataDisksMiB], ['web1', 'kvm1', '10.9.0.15', adminProjectId('ops'), [1024, 512]]);
    const show = await vtctlOk(['vm', 'show', 'web1']);
    assert.match(show, /^server +kvm1$/m);
    assert.match(show, /^eth1 +br-extra +02:00:0a:09:00:[0-9a-f]{2}$/m);
    assert.match(show, /create +SUCCESS/);
    assert.equal(await vtctlOk(['vm', 'console-log', 'web1']), agent.log.toString(), 'read in 10-byte chunks until the end');
  });

  test('vm stop/start/reboot/hard-stop go through actions; delete --keep-disks reaches the agent; unknown VM fails', async () => {
    for (const [verb, type] of [['start', 'start'], ['reboot', 'reboot'], ['hard-stop', 'hardStop']] as const) {
      const out = JSON.parse(await vtctlOk(['--json', 'vm', verb, 'web1', '--wait'])) as { status: string; type: string };
      assert.deepEqual([out.type, out.status], [type, 'SUCCESS']);
      assert.equal(lastAction().type, type);
    }
    const queued = await vtctlOk(['vm', 'stop', 'web1']);
    assert.match(queued, /^stop of web1 \([0-9a-f-]{36}\) on kvm1 queued: action [0-9a-f-]{36}\n$/);
    await new Promise((r) => setTimeout(r, 600));
    const missing = await vtctl(['vm', 'start', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^vtctl: .*NotFoundError: no VM named "nope"\n$/);

    const busyBridge = await vtctl(['server', 'remove-bridge', 'kvm1', 'br-extra']);
    assert.equal(busyBridge.code, 1);
    assert.match(busyBridge.stderr, /bridge br-extra of server kvm1 is used by the NICs of 1 VM\(s\): web1/);
    const busyServer = await vtctl(['server', 'remove', 'kvm1']);
    assert.match(busyServer.stderr, /server kvm1 still has 1 VM\(s\): web1; delete them first/);
    const busyRange = await vtctl(['range', 'remove', 'mgmt', '--ipv4']);
    assert.match(busyRange.stderr, /range mgmt has 1 allocated address\(es\)/);
    const busyUnsub = await vtctl(['range', 'unsubscribe', 'kvm1', '--ipv4', 'mgmt']);
    assert.match(busyUnsub.stderr, /VMs of server kvm1 hold addresses of mgmt: web1/);
    const busyExclude = await vtctl(['range', 'exclude', 'mgmt', '10.9.0.15']);
    assert.match(busyExclude.stderr, /10\.9\.0\.15 is allocated to VM/);

    const del = await vtctlOk(['vm', 'delete', 'web1', '--keep-disks', '--wait']);
    assert.equal(del, 'web1 deleted\n');
    assert.deepEqual([lastAction().type, lastAction().server?.virtualMachines[0]?.xenConfiguration?.keepDisks], ['delete', true]);
    assert.equal(await vtctlOk(['vm', 'list']), '(none)\n');
  });

  test('inventory verbs once nothing is in use: bridges, exclude/include, set, unsubscribe, remove', async () => {
    assert.equal(await vtctlOk(['server', 'add-bridge', 'kvm1', 'br-new']), 'bridge br-new added to kvm1\n');
    assert.match((await vtctl(['server', 'add-bridge', 'kvm1', 'br-new'])).stderr, /has a bridge br-new already/);
    assert.match((await vtctl(['server', 'remove-bridge', 'kvm1', 'br-mgmt'])).stderr, /is the management bridge/);
    await vtctlOk(['server', 'remove-bridge', 'kvm1', 'br-extra']);
    const servers = JSON.parse(await vtctlOk(['--json', 'server', 'list'])) as Array<{ bridges: Array<{ name: string }> }>;
    assert.deepEqual(servers[0]?.bridges.map((b) => b.name).sort(), ['br-data', 'br-mgmt', 'br-new']);
    await vtctlOk(['range', 'exclude', 'mgmt', '10.9.0.11']);
    assert.match((await vtctl(['range', 'exclude', 'mgmt', '10.9.0.11'])).stderr, /excluded already/);
    await vtctlOk(['range', 'include', 'mgmt', '10.9.0.11']);
    assert.match((await vtctl(['range', 'include', 'mgmt', '10.9.0.11'])).stderr, /is not excluded/);
    assert.match((await vtctl(['range', 'exclude', 'mgmt', '10.8.0.1'])).stderr, /outside range mgmt/);
    await vtctlOk(['server', 'set', 'kvm1', '--agent-url', 'https://kvm1b.example:9229/', '--agent-password-file', path.join(dir, 'agent-pw')]);
    assert.equal((JSON.parse(await vtctlOk(['--json', 'server', 'list'])) as Array<{ agentUrl: string }>)[0]?.agentUrl, 'https://kvm1b.example:9229/');
    assert.match((await vtctl(['server', 'set', 'kvm1', '--agent-url', 'http://kvm1b.example:9229/'])).stderr, /only allowed for servers registered as legacy/);
    await vtctlOk(['range', 'unsubscribe', 'kvm1', '--ipv4', 'mgmt']);
    await vtctlOk(['range', 'remove', 'mgmt', '--ipv4']);
    await vtctlOk(['server', 'remove', 'kvm1']);
    assert.equal(await vtctlOk(['server', 'list']), '(none)\n');
    const ranges = JSON.parse(await vtctlOk(['--json', 'range', 'list'])) as Array<{ name: string }>;
    assert.deepEqual(ranges.map((r) => r.name), ['macs']);
    // Without --json every list is an aligned table with a header line (as `virsh list`), not key=value lines.
    const [header, row] = (await vtctlOk(['range', 'list'])).trimEnd().split('\n');
    assert.match(header ?? '', /^KIND +NAME +START +END +SIZE +ALLOCATED$/);
    assert.match(row ?? '', /^mac +macs +/);
    assert.equal((row ?? '').indexOf('='), -1, 'no key=value cells');
  });
});
