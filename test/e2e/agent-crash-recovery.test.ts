/**
 * Fault tests of the agent's durability (docs/architecture.md decision 6) on real libvirt, with the vt-manager and the
 * test clearinghouse in this process and the oxad-agent as a separate `node packages/oxad-agent/dist/main.js
 * --config …` process:
 *
 * 1. The agent is killed with SIGKILL in the middle of a create (its `qemu-img create` is made slow by a wrapper
 *    first in its PATH) and restarted: the create ends with exactly one terminal status (FAILED, from the start-up
 *    reconciler), no domain or VM folder is left, and the manager released the VM's addresses.
 * 2. The agent's way to the manager is cut for 60 s (a TCP proxy in front of the manager's HTTPS port, which is
 *    the manager's public URL and so the agent's callback URL) while the agent runs a start: no status gets
 *    through meanwhile, and once the way is back both statuses arrive, ONGOING then SUCCESS, exactly once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { createLogger, hashPassword, XmlRpcClient } from '@kvm-crm/shared';
import { managerOptionsSchema, startManager, type RunningManager } from '@kvm-crm/vt-manager';
import {
  allowLoopbackCallbacks,
  createQuery,
  domainsWithPrefix,
  freePort,
  installTestTemplate,
  issueTestCertificates,
  LIBVIRT_URI,
  lifecycleQuery,
  removeDomains,
  REPO_ROOT,
  TestClearinghouse,
  virsh,
} from '@kvm-crm/harness';
import { createMysqlTestDatabase, ENGINES, isServer, mysqlTestSettings } from '@kvm-crm/vt-manager/testing';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const AGENT_MAIN = path.join(REPO_ROOT, 'packages/oxad-agent/dist/main.js');

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A TCP proxy to `127.0.0.1:target` on a fixed port that can be cut (listener closed, connections destroyed). */
class CuttableProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: () => number) {}
  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target(), '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  }
}

// The proofs run on both engines (issue 4: "Proof (tests, on MariaDB and SQLite)").
for (const engine of ENGINES) {
const mysqlMissing = engine === 'mysql' ? mysqlTestSettings() : undefined;
const skip =
  mysqlMissing && !isServer(mysqlMissing) && !process.env['CI'] && !process.env['KVMCRM_TEST_REQUIRE_MYSQL'] ? mysqlMissing.missing : false;
describe(`[${engine}] agent durability: kill -9 during a create, manager unreachable for 60 s`, { timeout: 6 * 60_000, skip }, () => {
  let dropDatabase: (() => Promise<void>) | undefined;
  const runId = randomBytes(3).toString('hex');
  const domainPrefix = `kvmcrm-t${runId}-`;
  const bridge = `kcbr${runId}`;
  const serverName = `host-${runId}`;
  let dir: string;
  let storageRoot: string;
  let manager: RunningManager | undefined;
  let clearinghouse: TestClearinghouse | undefined;
  let admin: XmlRpcClient;
  let plugin: XmlRpcClient;
  let serverUuid: string;
  let configFile: string;
  let slowBin: string;
  let slowDefineBin: string;
  let pythonWrapper: string;
  let agent: ChildProcess | undefined;
  const proxy = new CuttableProxy(() => manager!.port);

  /** Starts the agent process (its own process group) and resolves once it listens. */
  async function startAgentProcess(opts: { slowCreate?: boolean; slowDefine?: boolean } = {}): Promise<ChildProcess> {
    const first = opts.slowCreate ? `${slowBin}:` : '';
    const env = { ...process.env, PATH: `${first}${process.env.PATH}`, ...(opts.slowDefine ? { KVMCRM_TEST_SLOW_DEFINE: '1' } : {}) };
    const child = spawn(process.execPath, [AGENT_MAIN, '--config', configFile], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(path.join(dir, 'agent.log'), { flags: 'a' });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      log.write(b);
    });
    child.stderr!.on('data', (b: Buffer) => log.write(b));
    await waitFor('the agent to listen', () => {
      if (child.exitCode !== null) assert.fail(`agent exited with ${child.exitCode}: ${out.slice(-2000)}`);
      return out.includes('oxad-agent listening');
    }, 60_000);
    agent = child;
    return child;
  }

  async function killAgent(signal: NodeJS.Signals): Promise<void> {
    const child = agent;
    agent = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, signal); // the agent and its children (as systemd's control group would)
    await exited;
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), `kvmcrm-crash-${runId}-`));
    await chmod(dir, 0o755); // qemu runs as libvirt-qemu and must reach the disks below
    storageRoot = path.join(dir, 'storage');
    await execa('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await execa('ip', ['link', 'set', bridge, 'up']);
    await mkdir(path.join(storageRoot, 'templates'), { recursive: true, mode: 0o755 });
    await installTestTemplate(path.join(storageRoot, 'templates'));

    // A qemu-img that takes 4 s to create an overlay: the window in which the agent is killed.
    slowBin = path.join(dir, 'slow-bin');
    await mkdir(slowBin);
    const realQemuImg = (await execa('sh', ['-c', 'command -v qemu-img'])).stdout.trim();
    await writeFile(path.join(slowBin, 'qemu-img'), `#!/bin/sh\nif [ "$1" = create ]; then sleep 4; fi\nexec ${realQemuImg} "$@"\n`, { mode: 0o755 });
    // The agent's libvirt connection helper (decision 041) run through a wrapper (`libvirtConnection.python`): with
    // KVMCRM_TEST_SLOW_DEFINE=1 in the agent's environment it waits 4 s after each define: the window between
    // "domain defined" and "SUCCESS queued".
    slowDefineBin = path.join(dir, 'slow-define-bin');
    await mkdir(slowDefineBin);
    const slowDefinePy = path.join(slowDefineBin, 'slow-define.py');
    await writeFile(
      slowDefinePy,
      'import runpy, sys, time\nscript = sys.argv.pop(1)\nhelper = runpy.run_path(script)\nreal = helper["OPS"]["define"]\n' +
        'def define(c, r):\n    real(c, r)\n    time.sleep(4)\nhelper["OPS"]["define"] = define\nhelper["main"]()\n',
    );
    pythonWrapper = path.join(slowDefineBin, 'python');
    await writeFile(
      pythonWrapper,
      `#!/bin/sh\nif [ -n "$KVMCRM_TEST_SLOW_DEFINE" ]; then exec /usr/bin/python3 ${slowDefinePy} "$@"; fi\nexec /usr/bin/python3 "$@"\n`,
      { mode: 0o755 },
    );

    // Certificates as the harness's startCluster makes them.
    const { ca, clearinghouseTls: chTls, tlsFiles } = issueTestCertificates(path.join(dir, 'certs'), { agentName: serverName });

    clearinghouse = new TestClearinghouse(chTls);
    await clearinghouse.start();

    // The manager's public URL (the agent's callback URL) goes through the proxy; the proxy's port is fixed first.
    await proxy.open();
    const logger = createLogger({ component: 'test', silent: !process.env.KVMCRM_TEST_LOG, format: 'pretty' });
    const adminPassword = randomBytes(12).toString('hex');
    const chPassword = randomBytes(12).toString('hex');
    let mysqlDatabase: Awaited<ReturnType<typeof createMysqlTestDatabase>>['options'] | undefined;
    if (engine === 'mysql') {
      const created = await createMysqlTestDatabase();
      mysqlDatabase = created.options;
      dropDatabase = created.drop;
    }
    manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        publicUrl: `https://127.0.0.1:${proxy.port}`,
        tls: tlsFiles('manager'),
        database: engine === 'sqlite' ? { type: 'sqlite', path: path.join(dir, 'manager.sqlite') } : mysqlDatabase!,
        secretsKeyFile: path.join(dir, 'secrets.key'),
        users: [
          { name: 'admin', passwordScrypt: hashPassword(adminPassword), roles: ['admin'] },
          { name: 'expedient', passwordScrypt: hashPassword(chPassword), roles: ['clearinghouse'] },
        ],
        agentCallback: { user: 'oxad', password: randomBytes(16).toString('hex') },
        actionTimeoutSeconds: 300,
      }),
      logger.child({ component: 'vt-manager' }),
    );
    admin = new XmlRpcClient({ url: `https://admin:${adminPassword}@127.0.0.1:${manager.port}/xmlrpc/admin`, tls: { ca: ca.certPem } });
    plugin = new XmlRpcClient({ url: `https://expedient:${chPassword}@127.0.0.1:${manager.port}/xmlrpc/plugin`, tls: { ca: ca.certPem } });
    await allowLoopbackCallbacks(admin, 'expedient'); // the test clearinghouse's callback is on 127.0.0.1

    const agentPort = await freePort();
    const agentPassword = randomBytes(12).toString('hex');
    configFile = path.join(dir, 'agent.json');
    await writeFile(
      configFile,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: agentPort },
        tls: tlsFiles('agent'),
        password: agentPassword, storageRoot, libvirtUri: LIBVIRT_URI, domainPrefix, hypervisor: 'qemu', stopGraceSeconds: 20,
        libvirtConnection: { python: pythonWrapper },
      }),
      { mode: 0o600 },
    );
    await startAgentProcess();

    const n = parseInt(runId.slice(0, 2), 16);
    const server = await admin.call<{ uuid: string }>('server.register', [{ name: serverName, agentUrl: `https://127.0.0.1:${agentPort}/`, agentPassword, bridges: [bridge] }]);
    serverUuid = server.uuid;
    await admin.call('ipv4.addRange', [{ name: `net-${runId}`, start: `10.252.${n}.10`, end: `10.252.${n}.59`, netmask: '255.255.255.0', gateway: `10.252.${n}.1`, dns1: '', excluded: [] }]);
    await admin.call('mac.addRange', [{ name: `mac-${runId}`, start: `02:fd:${runId.slice(0, 2)}:${runId.slice(2, 4)}:${runId.slice(4, 6)}:00`, end: `02:fd:${runId.slice(0, 2)}:${runId.slice(2, 4)}:${runId.slice(4, 6)}:ff` }]);
    await admin.call('range.subscribe', [{ server: serverName, kind: 'ipv4', range: `net-${runId}` }]);
    await admin.call('range.subscribe', [{ server: serverName, kind: 'mac', range: `mac-${runId}` }]);
  });

  after(async () => {
    await killAgent('SIGTERM').catch(() => undefined);
    await proxy.cut().catch(() => undefined);
    await manager?.stop().catch(() => undefined);
    await clearinghouse?.stop().catch(() => undefined);
    await removeDomains(domainPrefix);
    await execa('ip', ['link', 'del', bridge], { reject: false });
    if (dir) await rm(dir, { recursive: true, force: true });
    await dropDatabase?.().catch(() => undefined);
  });

  test('kill -9 during a create, restart: exactly one terminal status, nothing orphaned, addresses released', { timeout: 120_000 }, async () => {
    await killAgent('SIGTERM');
    await startAgentProcess({ slowCreate: true });
    const create = createQuery({ serverUuid, name: `crash-${runId}`, template: TEMPLATE });
    await plugin.call('send', [clearinghouse!.callbackUrl, create.xml]);
    await waitFor('ONGOING at the clearinghouse', () => clearinghouse!.statuses(create.actionId).some((s) => s.status === 'ONGOING'), 30_000);
    const ranges = await admin.call<Array<{ allocated: number }>>('range.list', []);
    assert.ok(ranges.some((r) => r.allocated > 0), 'addresses allocated for the create');

    // The create made the VM folder and sits in the slow `qemu-img create`: kill it there.
    await waitFor('the VM folder', () => exists(path.join(storageRoot, 'vms', create.vmUuid)), 3000);
    await killAgent('SIGKILL');
    assert.ok(await exists(path.join(storageRoot, 'journal', `${create.actionId}.json`)), 'the agent died with the create in its journal');
    assert.ok(await exists(path.join(storageRoot, 'vms', create.vmUuid)), 'and left the VM folder behind');
    assert.equal(clearinghouse!.statuses(create.actionId).length, 1, 'only ONGOING so far');

    await startAgentProcess();
    const statuses = await clearinghouse!.waitForTerminal(create.actionId, 60_000, 2000);
    assert.deepEqual(statuses.map((s) => s.status), ['ONGOING', 'FAILED'], JSON.stringify(statuses));
    assert.match(statuses[1]!.description ?? '', /agent restarted during the create/);

    assert.deepEqual(await domainsWithPrefix(domainPrefix), [], 'no orphan domain');
    assert.equal(await exists(path.join(storageRoot, 'vms', create.vmUuid)), false, 'no orphan VM folder (overlay, seed)');
    assert.deepEqual(await readdir(path.join(storageRoot, 'journal')), [], 'journal empty');
    assert.deepEqual(await admin.call('vm.list', [{}]), [], 'the manager removed the VM');
    const after = await admin.call<Array<{ allocated: number }>>('range.list', []);
    assert.ok(after.every((r) => r.allocated === 0), `addresses released: ${JSON.stringify(after)}`);
    await waitFor('the outbox to drain', async () => (await readdir(path.join(storageRoot, 'outbox'))).filter((f) => f.endsWith('.json')).length === 0, 10_000);
  });

  test('kill -9 right after the domain was defined, restart: the create ends SUCCESS, once', { timeout: 120_000 }, async () => {
    await killAgent('SIGTERM');
    await startAgentProcess({ slowDefine: true });
    const name = `defined-${runId}`;
    const create = createQuery({ serverUuid, name, template: TEMPLATE });
    await plugin.call('send', [clearinghouse!.callbackUrl, create.xml]);
    const domain = `${domainPrefix}${create.vmUuid}`;
    await waitFor('the domain to be defined', async () => (await virsh('domstate', domain)).exitCode === 0, 30_000);
    await killAgent('SIGKILL');
    assert.ok(await exists(path.join(storageRoot, 'journal', `${create.actionId}.json`)), 'the agent died with the create in its journal');
    assert.ok(!clearinghouse!.statuses(create.actionId).some((s) => s.status !== 'ONGOING'), 'no terminal status yet');

    await startAgentProcess();
    const statuses = await clearinghouse!.waitForTerminal(create.actionId, 60_000, 2000);
    assert.deepEqual(statuses.map((s) => s.status), ['ONGOING', 'SUCCESS'], JSON.stringify(statuses));
    assert.equal((await virsh('domstate', domain)).stdout.trim(), 'shut off', 'the domain is kept');
    assert.ok(await exists(path.join(storageRoot, 'vms', create.vmUuid, 'disk.qcow2')), 'and its disk');
    const vms = await admin.call<Array<{ uuid: string; state: string }>>('vm.list', [{}]);
    assert.deepEqual(vms.map((v) => [v.uuid, v.state]), [[create.vmUuid, 'created (stopped)']]);

    const del = lifecycleQuery('delete', { serverUuid, vmUuid: create.vmUuid, name });
    await plugin.call('send', [clearinghouse!.callbackUrl, del.xml]);
    assert.deepEqual((await clearinghouse!.waitForTerminal(del.actionId, 60_000)).map((s) => s.status), ['ONGOING', 'SUCCESS']);
    assert.deepEqual(await domainsWithPrefix(domainPrefix), []);
  });

  test('manager unreachable for 60 s while the agent runs a start: both statuses arrive afterwards, in order', { timeout: 150_000 }, async () => {
    const name = `cut-${runId}`;
    const create = createQuery({ serverUuid, name, template: TEMPLATE });
    await plugin.call('send', [clearinghouse!.callbackUrl, create.xml]);
    assert.deepEqual((await clearinghouse!.waitForTerminal(create.actionId, 60_000)).map((s) => s.status), ['ONGOING', 'SUCCESS']);
    const domain = `${domainPrefix}${create.vmUuid}`;

    await proxy.cut();
    const cutAt = Date.now();
    const start = lifecycleQuery('start', { serverUuid, vmUuid: create.vmUuid, name });
    await plugin.call('send', [clearinghouse!.callbackUrl, start.xml]);
    await waitFor('the agent to start the domain', async () => (await virsh('domstate', domain)).stdout.trim() === 'running', 30_000);
    await new Promise((r) => setTimeout(r, Math.max(0, cutAt + 60_000 - Date.now())));
    assert.deepEqual(clearinghouse!.statuses(start.actionId), [], 'nothing got through while the manager was unreachable');
    assert.ok((await readdir(path.join(storageRoot, 'outbox'))).filter((f) => f.endsWith('.json')).length >= 2, 'ONGOING and SUCCESS wait in the outbox');

    await proxy.open();
    const statuses = await clearinghouse!.waitForTerminal(start.actionId, 60_000, 2000);
    assert.deepEqual(statuses.map((s) => s.status), ['ONGOING', 'SUCCESS'], JSON.stringify(statuses));
    assert.ok(statuses[0]!.at <= statuses[1]!.at);
    await waitFor('the outbox to drain', async () => (await readdir(path.join(storageRoot, 'outbox'))).filter((f) => f.endsWith('.json')).length === 0, 10_000);
  });
});
}
