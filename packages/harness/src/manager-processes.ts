/**
 * vt-manager daemons as separate processes (`node packages/vt-manager/dist/main.js --config <file>`) on one
 * database, in front of one legacy OCF agent (test/python/legacy_agent.py, in-memory VMs) and a test clearinghouse:
 * the set-up of the multi-process e2e tests (address pool under concurrency, manager kill -9). What it starts is
 * killed, and its folder removed, when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { hashPassword, XmlRpcClient, type PemPair } from '@kvm-crm/shared';
import { MANAGER_NODE_FLAGS } from '@kvm-crm/vt-manager';
import { allowLoopbackCallbacks } from './callback-policy.js';
import { issueTestCertificates } from './certificates.js';
import { TestClearinghouse } from './clearinghouse.js';
import { freePort } from './free-port.js';
import { readFirstLine, startPython } from './python.js';
import { REPO_ROOT } from './repo-root.js';

/** The managers a test can run: `a` (it migrates the database) and `b`. */
export type ManagerName = 'a' | 'b';

/** Options of {@link startManagerProcesses}. */
export interface ManagerProcessesOptions {
  /** Prefix of the run's temporary folder (certificates, configurations, logs), e.g. `kvmcrm-pool-`. */
  dirPrefix: string;
  /** The `database` section of every manager's configuration. */
  database: Record<string, unknown>;
  /** The managers to write a configuration `<dir>/<name>.json` for. */
  managers: readonly ManagerName[];
  /** The legacy agent's seconds of "work" per action (its `--delay`), e.g. `'0.05'`. */
  agentDelay: string;
  /** Manager configuration beyond the common part (action timeout, lease), e.g. `{ actionTimeoutSeconds: 60 }`. */
  config: Record<string, unknown>;
}

/** An IPv4 and a MAC range for the legacy agent's server (see {@link ManagerProcesses.registerLegacyServer}). */
export interface LegacyServerRanges {
  ipv4: { start: string; end: string; netmask: string; gateway: string; excluded: string[] };
  /** `excluded`: MAC addresses taken before any create (default none). */
  mac: { start: string; end: string; excluded?: string[] };
}

/** What {@link startManagerProcesses} set up; no manager runs until {@link ManagerProcesses.start}. */
export interface ManagerProcesses {
  /** The run's folder: `certs/`, `<name>.json`, `manager-<name>.log`, `agent.jsonl`, `agent.stderr`. */
  dir: string;
  ca: PemPair;
  clearinghouse: TestClearinghouse;
  /** Each manager's HTTPS port (its `listen` and `publicUrl`). */
  ports: Record<ManagerName, number>;
  /** Admin RPC client (role admin) of each manager. */
  admin: Record<ManagerName, XmlRpcClient>;
  /** Northbound client as the clearinghouse (role clearinghouse) of each manager. */
  plugin: Record<ManagerName, XmlRpcClient>;
  /**
   * Starts manager `name` (output appended to `manager-<name>.log`) and resolves once its admin endpoint answers.
   * `nodeArgs` go to node before the script, after the manager's MANAGER_NODE_FLAGS (e.g. `--cpu-prof`, which
   * NODE_OPTIONS does not allow). Default none.
   * @throws when it exits first (with the log's tail) or does not answer within 60 s.
   */
  start(name: ManagerName, nodeArgs?: string[]): Promise<ChildProcess>;
  /**
   * Registers the legacy agent (through manager `a`) as a legacy server `legacy-<random>` with bridge `lgbr0`, adds
   * the ranges as `net` and `mac` and subscribes the server to both.
   */
  registerLegacyServer(ranges: LegacyServerRanges): Promise<{ serverUuid: string; serverName: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Makes the run's folder and certificates, starts the test clearinghouse and the legacy agent, and writes the
 * managers' configurations. Clean-ups are registered on `t`: the manager processes are killed (SIGKILL) and the
 * folder removed, the clearinghouse stopped, the agent killed.
 */
export async function startManagerProcesses(t: Pick<TestContext, 'after'>, options: ManagerProcessesOptions): Promise<ManagerProcesses> {
  const dir = await mkdtemp(path.join(os.tmpdir(), options.dirPrefix));
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) {
      if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) continue;
      const exited = new Promise((r) => c.once('exit', r));
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        continue;
      }
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  // Certificates as `vtctl certs init` makes them; the clearinghouse's server certificate from the same CA.
  const { certStore, ca, clearinghouseTls, tlsFiles } = issueTestCertificates(path.join(dir, 'certs'));
  const clearinghouse = new TestClearinghouse(clearinghouseTls);
  await clearinghouse.start();
  t.after(() => clearinghouse.stop());

  const agentPassword = `legacy-${randomBytes(6).toString('hex')}`;
  const agentArgs = ['--password', agentPassword, '--log', path.join(dir, 'agent.jsonl'), '--cafile', certStore.caFile, '--templates', 'tpl', '--delay', options.agentDelay];
  const agent = startPython('legacy_agent.py', agentArgs, { stderrFile: path.join(dir, 'agent.stderr') });
  t.after(() => agent.kill());
  const agentPort = Number(await readFirstLine(agent));

  const adminPassword = randomBytes(12).toString('hex');
  const chPassword = randomBytes(12).toString('hex');
  const callbackPassword = randomBytes(16).toString('hex');
  const ports = { a: await freePort(), b: await freePort() };
  const configFor = (port: number) => ({
    listen: { host: '127.0.0.1', port },
    publicUrl: `https://127.0.0.1:${port}`,
    tls: tlsFiles('manager'),
    database: options.database,
    secretsKeyFile: path.join(dir, 'secrets.key'),
    users: [
      { name: 'admin', passwordScrypt: hashPassword(adminPassword), roles: ['admin'] },
      { name: 'expedient', passwordScrypt: hashPassword(chPassword), roles: ['clearinghouse'] },
    ],
    agentCallback: { user: 'oxad', password: callbackPassword },
    monitoringIntervalSeconds: 0,
    ...options.config,
  });
  for (const name of options.managers) await writeFile(path.join(dir, `${name}.json`), JSON.stringify(configFor(ports[name])));

  const adminUrl = (name: ManagerName) => `https://admin:${adminPassword}@127.0.0.1:${ports[name]}/xmlrpc/admin`;
  const pluginUrl = (name: ManagerName) => `https://expedient:${chPassword}@127.0.0.1:${ports[name]}/xmlrpc/plugin`;
  const admin = { a: new XmlRpcClient({ url: adminUrl('a'), tls: { ca: ca.certPem } }), b: new XmlRpcClient({ url: adminUrl('b'), tls: { ca: ca.certPem } }) };
  const plugin = { a: new XmlRpcClient({ url: pluginUrl('a'), tls: { ca: ca.certPem } }), b: new XmlRpcClient({ url: pluginUrl('b'), tls: { ca: ca.certPem } }) };

  const main = path.join(REPO_ROOT, 'packages/vt-manager/dist/main.js');
  const start = async (name: ManagerName, nodeArgs: string[] = []): Promise<ChildProcess> => {
    const out = openSync(path.join(dir, `manager-${name}.log`), 'a');
    const child = spawn(process.execPath, [...MANAGER_NODE_FLAGS, ...nodeArgs, main, '--config', path.join(dir, `${name}.json`)], { stdio: ['ignore', out, out] });
    children.push(child);
    const health = new XmlRpcClient({ url: adminUrl(name), tls: { ca: ca.certPem } });
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        await health.call('server.list', []);
        // The test clearinghouse listens on 127.0.0.1 (the managers share the database: setting it again is harmless).
        await allowLoopbackCallbacks(health, 'expedient');
        return child;
      } catch (err) {
        if (child.exitCode !== null) throw new Error(`manager ${name} exited: ${readFileSync(path.join(dir, `manager-${name}.log`), 'utf8').slice(-2000)}`);
        if (Date.now() > until) throw err;
        await sleep(200);
      }
    }
  };

  const registerLegacyServer = async (ranges: LegacyServerRanges): Promise<{ serverUuid: string; serverName: string }> => {
    const serverName = `legacy-${randomBytes(3).toString('hex')}`;
    const { uuid: serverUuid } = await admin.a.call<{ uuid: string }>('server.register', [
      { name: serverName, agentUrl: `http://127.0.0.1:${agentPort}/`, agentPassword, bridges: ['lgbr0'], legacy: true },
    ]);
    const { ipv4, mac } = ranges;
    await admin.a.call('ipv4.addRange', [{ name: 'net', start: ipv4.start, end: ipv4.end, netmask: ipv4.netmask, gateway: ipv4.gateway, dns1: '', excluded: ipv4.excluded }]);
    await admin.a.call('mac.addRange', [{ name: 'mac', start: mac.start, end: mac.end, ...(mac.excluded ? { excluded: mac.excluded } : {}) }]);
    await admin.a.call('range.subscribe', [{ server: serverName, kind: 'ipv4', range: 'net' }]);
    await admin.a.call('range.subscribe', [{ server: serverName, kind: 'mac', range: 'mac' }]);
    return { serverUuid, serverName };
  };

  return { dir, ca, clearinghouse, ports, admin, plugin, start, registerLegacyServer };
}
