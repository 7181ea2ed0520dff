/**
 * A whole kvm-crm on one machine for end-to-end tests: a CA and certificates, a vt-manager (SQLite), an
 * oxad-agent on real libvirt (qemu:///system), a test clearinghouse, a Linux bridge made for the run, and the
 * test template in the agent's catalogue. Everything is named with a per-run prefix and removed by `cleanup()`,
 * which only touches domains with that prefix.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { createLogger, hashPassword, XmlRpcClient, type CertificateStore, type PemPair } from '@kvm-crm/shared';
import { managerOptionsSchema, startManager, type RunningManager } from '@kvm-crm/vt-manager';
import { agentOptionsSchema, startAgent, type RunningAgent } from '@kvm-crm/oxad-agent';
import { allowLoopbackCallbacks, TEST_CLIENT_MAX_RESPONSE_BYTES } from './callback-policy.js';
import { issueTestCertificates } from './certificates.js';
import { TestClearinghouse } from './clearinghouse.js';
import { LIBVIRT_URI, removeDomains } from './libvirt.js';
import { REPO_ROOT } from './repo-root.js';

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** IPv4 range handed to VMs. Default 10.254.<n>.10–10.254.<n>.59 /24 with gateway .1. */
  ipv4?: { start: string; end: string; netmask: string; gateway: string; dns?: string[] };
  /** Seconds before a silent action fails. Default 300. */
  actionTimeoutSeconds?: number;
  /** Install the test template into the catalogue. Default true. */
  withTemplate?: boolean;
}

/** A running test cluster (see {@link startCluster}). */
export interface Cluster {
  runId: string;
  dir: string;
  storageRoot: string;
  bridge: string;
  domainPrefix: string;
  serverUuid: string;
  ca: PemPair;
  manager: RunningManager;
  agent: RunningAgent;
  clearinghouse: TestClearinghouse;
  /** Admin RPC client (role admin). */
  admin: XmlRpcClient;
  /** Northbound client as the clearinghouse (role clearinghouse). */
  plugin: XmlRpcClient;
  /** The northbound URL of `plugin`, with its Basic credentials (for clients in other processes). */
  pluginUrl: string;
  /** Folder holding `ca.crt`, `crl.pem`, `manager.crt` (role manager) and `agent.crt` (role agent, CN = `serverName`). */
  certsDir: string;
  /** The CA folder as `vtctl certs` manages it (issue, revoke, rotate in tests). */
  certStore: CertificateStore;
  /** The name the agent's host is registered under (`host-<runId>`), also its certificate's CN. */
  serverName: string;
  /**
   * The agent callback URL the manager gives its agents: its public URL with path `/xmlrpc/agent` and the
   * `agentCallback` credentials inside. Also the agent's `eventsUrl`.
   */
  agentCallbackUrl: string;
  cleanup(): Promise<void>;
}

/** Builds (or takes from cache) the test template and installs it into `catalogue`. */
export async function installTestTemplate(catalogue: string): Promise<void> {
  await execa('bash', [path.join(REPO_ROOT, 'scripts/build-test-template.sh'), '--catalogue', catalogue], { timeout: 15 * 60_000 });
}

/**
 * Starts a cluster as described at the top of this file: the manager and the agent run in this process, the server
 * is registered with a per-run IPv4 and MAC range subscribed. On failure everything made so far is removed.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const runId = randomBytes(3).toString('hex');
  const domainPrefix = `kvmcrm-t${runId}-`;
  const bridge = `kcbr${runId}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), `kvmcrm-test-${runId}-`));
  await chmod(dir, 0o755); // qemu runs as libvirt-qemu and must reach the disks below
  const storageRoot = path.join(dir, 'storage');
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await removeDomains(domainPrefix);
    await execa('ip', ['link', 'del', bridge], { reject: false });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await execa('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await execa('ip', ['link', 'set', bridge, 'up']);
    if (options.withTemplate ?? true) {
      await mkdir(path.join(storageRoot, 'templates'), { recursive: true, mode: 0o755 });
      await installTestTemplate(path.join(storageRoot, 'templates'));
    }

    // As `vtctl certs init` does: a CA with its CRL, the manager (role manager), the agent (role agent, CN = the
    // server name it is registered under), each key 0600; the clearinghouse's server certificate from the same CA.
    const serverName = `host-${runId}`;
    const certs = path.join(dir, 'certs');
    const issued = issueTestCertificates(certs, { agentName: serverName });
    const { certStore, ca, clearinghouseTls: chTls } = issued;
    const tlsFiles = (name: string) => ({ ...issued.tlsFiles(name), reloadIntervalSeconds: 0.5 });

    const clearinghouse = new TestClearinghouse(chTls);
    await clearinghouse.start();
    cleanups.push(() => clearinghouse.stop());

    const logger = createLogger({ component: 'test', silent: !process.env.KVMCRM_TEST_LOG, format: 'pretty' });

    const adminPassword = randomBytes(12).toString('hex');
    const agentCallbackPassword = randomBytes(16).toString('hex');
    const chPassword = randomBytes(12).toString('hex');
    const manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        publicUrl: 'https://127.0.0.1:1', // replaced below once the port is known
        tls: tlsFiles('manager'),
        database: { type: 'sqlite', path: path.join(dir, 'manager.sqlite') },
        secretsKeyFile: path.join(dir, 'secrets.key'),
        users: [
          { name: 'admin', passwordScrypt: hashPassword(adminPassword), roles: ['admin'] },
          { name: 'expedient', passwordScrypt: hashPassword(chPassword), roles: ['clearinghouse'] },
        ],
        agentCallback: { user: 'oxad', password: agentCallbackPassword },
        actionTimeoutSeconds: options.actionTimeoutSeconds ?? 300,
      }),
      logger.child({ component: 'vt-manager' }),
      {},
      { publicPortFromListen: true },
    );
    cleanups.push(() => manager.stop());
    // As the manager makes it from `publicUrl` (port taken from the listener) and `agentCallback`.
    const agentCallbackUrl = `https://oxad:${agentCallbackPassword}@127.0.0.1:${manager.port}/xmlrpc/agent`;

    const agentPassword = randomBytes(12).toString('hex');
    const agent = await startAgent(
      agentOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        tls: tlsFiles('agent'),
        password: agentPassword, storageRoot, libvirtUri: LIBVIRT_URI, domainPrefix, stopGraceSeconds: 20,
        eventsUrl: agentCallbackUrl,
      }),
      logger.child({ component: 'oxad-agent' }),
    );
    cleanups.push(() => agent.stop());

    const admin = new XmlRpcClient({ url: `https://admin:${adminPassword}@127.0.0.1:${manager.port}/xmlrpc/admin`, tls: { ca: ca.certPem }, maxResponseBytes: TEST_CLIENT_MAX_RESPONSE_BYTES });
    const pluginUrl = `https://expedient:${chPassword}@127.0.0.1:${manager.port}/xmlrpc/plugin`;
    const plugin = new XmlRpcClient({ url: pluginUrl, tls: { ca: ca.certPem }, maxResponseBytes: TEST_CLIENT_MAX_RESPONSE_BYTES });
    // The test clearinghouses listen on 127.0.0.1, which the callback policy refuses unless an admin allows it.
    await allowLoopbackCallbacks(admin, 'expedient');

    const n = parseInt(runId.slice(0, 2), 16);
    const ip = options.ipv4 ?? { start: `10.254.${n}.10`, end: `10.254.${n}.59`, netmask: '255.255.255.0', gateway: `10.254.${n}.1`, dns: [`10.254.${n}.2`] };
    const server = await admin.call<{ uuid: string }>('server.register', [
      { name: serverName, agentUrl: `https://127.0.0.1:${agent.port}/`, agentPassword, bridges: [bridge] },
    ]);
    await admin.call('ipv4.addRange', [{ name: `net-${runId}`, start: ip.start, end: ip.end, netmask: ip.netmask, gateway: ip.gateway, dns1: ip.dns?.[0] ?? '', excluded: [] }]);
    await admin.call('mac.addRange', [{ name: `mac-${runId}`, start: `02:fe:${runId.slice(0, 2)}:${runId.slice(2, 4)}:${runId.slice(4, 6)}:00`, end: `02:fe:${runId.slice(0, 2)}:${runId.slice(2, 4)}:${runId.slice(4, 6)}:ff` }]);
    await admin.call('range.subscribe', [{ server: serverName, kind: 'ipv4', range: `net-${runId}` }]);
    await admin.call('range.subscribe', [{ server: serverName, kind: 'mac', range: `mac-${runId}` }]);

    return { runId, dir, storageRoot, bridge, domainPrefix, serverUuid: server.uuid, ca, manager, agent, clearinghouse, admin, plugin, pluginUrl, certsDir: certs, certStore, serverName, agentCallbackUrl, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
