/**
 * A whole kvm-crm on one machine for end-to-end tests: a CA and certificates, a vt-manager (SQLite), an
 * oxad-agent on real libvirt (qemu:///system), a test clearinghouse, a Linux bridge made for the run, and the
 * test template in the agent's catalogue. Everything is named with a per-run prefix and removed by `cleanup()`,
 * which only touches domains with that prefix.
 *
 * With `hosts: n` the cluster has n hosts instead of the one in-process agent: each an agent process in its own
 * network namespace, with its own address, certificate, storage root, guest bridge and domain prefix, all driven
 * by the one manager (cluster-hosts.ts, netns.ts, docs/decisions/018-hosts-as-network-namespaces.md).
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
import { registerHost, startHostAgent, type ClusterHost } from './cluster-hosts.js';
import { LIBVIRT_URI, removeDomains } from './libvirt.js';
import { createBrowserNetwork, removeBrowserNetwork, type BrowserNetwork } from './browser-network.js';
import { createClusterNetwork, planClusterNetwork, removeClusterNetwork, type ClusterNetwork } from './netns.js';
import { REPO_ROOT } from './repo-root.js';

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** IPv4 range handed to VMs. Default 10.254.<n>.10–10.254.<n>.59 /24 with gateway .1. */
  ipv4?: { start: string; end: string; netmask: string; gateway: string; dns?: string[] };
  /** Seconds before a silent action fails. Default 300. */
  actionTimeoutSeconds?: number;
  /** Install the test template into the catalogue. Default true. */
  withTemplate?: boolean;
  /**
   * Run this many hosts (1–9), each an agent process in its own network namespace (see {@link MultiHostCluster}),
   * instead of the one in-process agent. Default: absent, the single-host cluster. Not with `ipv4` (each host gets
   * its own slice of the run's range).
   */
  hosts?: number;
  /**
   * Make a network namespace for a browser (browser-network.ts) and let the manager listen on its root-side address
   * instead of 127.0.0.1 (`admin`, `plugin` and `pluginUrl` use it): Chromium run there with
   * `launchChromium(profile, { netns: cluster.browserNetns })` does not see the taps the run's VMs add, which would
   * otherwise abort its requests with ERR_NETWORK_CHANGED. Single-host cluster only. Default false.
   */
  browser?: boolean;
  /** The manager's monitoring: seconds between rounds (default 45, 0 = off) and failed pings before a server is marked unavailable (default 3). */
  monitoring?: { intervalSeconds?: number; failureThreshold?: number };
  /**
   * More manager options (e.g. the `geni` section), merged over the harness's before parsing; called with the run's
   * folder once it exists, so files the options name (trusted roots…) can be made there and are removed by cleanup.
   */
  managerOptions?: (runDir: string) => Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** What every test cluster has, with one host or several. */
export interface ClusterBase {
  runId: string;
  dir: string;
  /** Prefix of every libvirt domain of the run, `kvmcrm-t<runId>-` (several hosts: each host's prefix starts with it). */
  domainPrefix: string;
  ca: PemPair;
  manager: RunningManager;
  clearinghouse: TestClearinghouse;
  /** Admin RPC client (role admin). */
  admin: XmlRpcClient;
  /** Northbound client as the clearinghouse (role clearinghouse). */
  plugin: XmlRpcClient;
  /** The northbound URL of `plugin`, with its Basic credentials (for clients in other processes). */
  pluginUrl: string;
  /** The address the manager listens on: 127.0.0.1, or the management bridge's or browser veth's address. */
  managerAddress: string;
  /**
   * Folder holding `ca.crt`, `crl.pem`, `manager.crt` (role manager) and `agent.crt` (role agent, CN = `serverName`);
   * with several hosts `agent-h<i>.crt` (CN = the host's name) instead of `agent.crt`.
   */
  certsDir: string;
  /** The CA folder as `vtctl certs` manages it (issue, revoke, rotate in tests). */
  certStore: CertificateStore;
  /**
   * The agent callback URL the manager gives its agents: its public URL with path `/xmlrpc/agent` and the
   * `agentCallback` credentials inside. Also the agent's `eventsUrl`.
   */
  agentCallbackUrl: string;
  /** Stops everything the run started and removes what it made (domains by the run's prefix only). */
  cleanup(): Promise<void>;
}

/** A running single-host test cluster (see {@link startCluster}): the agent runs in this process, on 127.0.0.1. */
export interface Cluster extends ClusterBase {
  storageRoot: string;
  bridge: string;
  serverUuid: string;
  agent: RunningAgent;
  /** The name the agent's host is registered under (`host-<runId>`), also its certificate's CN. */
  serverName: string;
  /** With `browser: true`: the browser's network namespace, for `launchChromium`'s `netns`. */
  browserNetns?: string;
}

/**
 * A running multi-host test cluster (`startCluster({ hosts: n })`): the manager listens on `network.gateway`
 * (198.18.<n>.1 on the run's management bridge; `admin`, `plugin` and `pluginUrl` use that address), and each of
 * `hosts` is an agent process in its own namespace, registered with its own IPv4 and MAC ranges.
 */
export interface MultiHostCluster extends ClusterBase {
  hosts: ClusterHost[];
  network: ClusterNetwork;
}

/** Builds (or takes from cache) the test template and installs it into `catalogue`. */
export async function installTestTemplate(catalogue: string): Promise<void> {
  await execa('bash', [path.join(REPO_ROOT, 'scripts/build-test-template.sh'), '--catalogue', catalogue], { timeout: 15 * 60_000 });
}

/**
 * Starts a cluster as described at the top of this file: the manager and the agent run in this process, the server
 * is registered with a per-run IPv4 and MAC range subscribed. With `hosts: n`, n agent processes in network
 * namespaces instead (see {@link MultiHostCluster}). On failure everything made so far is removed.
 */
export async function startCluster(options?: ClusterOptions & { hosts?: undefined }): Promise<Cluster>;
export async function startCluster(options: ClusterOptions & { hosts: number }): Promise<MultiHostCluster>;
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster | MultiHostCluster> {
  if (options.hosts !== undefined && options.browser) throw new Error('startCluster: browser is for the single-host cluster');
  if (options.hosts !== undefined && options.ipv4) throw new Error('startCluster: ipv4 is for the single-host cluster; with hosts each host gets its own range');
  const runId = randomBytes(3).toString('hex');
  const domainPrefix = `kvmcrm-t${runId}-`;
  const bridge = `kcbr${runId}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), `kvmcrm-test-${runId}-`));
  await chmod(dir, 0o755); // qemu runs as libvirt-qemu and must reach the disks below
  const storageRoot = path.join(dir, 'storage');
  // Several hosts: the management network (bridge, namespaces, veths, guest bridges) replaces the one bridge.
  const network = options.hosts === undefined ? undefined : await planClusterNetwork(runId, options.hosts);
  let browserNetwork: BrowserNetwork | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await removeDomains(domainPrefix);
    if (network) await removeClusterNetwork(network);
    else await execa('ip', ['link', 'del', bridge], { reject: false });
    if (browserNetwork) await removeBrowserNetwork(browserNetwork);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (network) {
      await createClusterNetwork(network);
    } else {
      await execa('ip', ['link', 'add', bridge, 'type', 'bridge']);
      await execa('ip', ['link', 'set', bridge, 'up']);
      if (options.browser) browserNetwork = await createBrowserNetwork(runId);
    }
    if (!network && (options.withTemplate ?? true)) {
      await mkdir(path.join(storageRoot, 'templates'), { recursive: true, mode: 0o755 });
      await installTestTemplate(path.join(storageRoot, 'templates'));
    }

    // As `vtctl certs init` does: a CA with its CRL, the manager (role manager), the agent (role agent, CN = the
    // server name it is registered under), each key 0600; the clearinghouse's server certificate from the same CA.
    // Several hosts: the manager's certificate also names the bridge address, and each host has `agent-h<i>`.
    const serverName = `host-${runId}`;
    const certs = path.join(dir, 'certs');
    const issued = issueTestCertificates(certs, network
      ? { managerIpAddresses: [network.gateway], agents: network.hosts.map((h) => ({ file: `agent-h${h.index}`, name: `host-${runId}-${h.index}`, ipAddresses: [h.address] })) }
      : { agentName: serverName, ...(browserNetwork ? { managerIpAddresses: [browserNetwork.hostAddress] } : {}) });
    const { certStore, ca, clearinghouseTls: chTls } = issued;
    const tlsFiles = (name: string) => ({ ...issued.tlsFiles(name), reloadIntervalSeconds: 0.5 });

    const clearinghouse = new TestClearinghouse(chTls);
    await clearinghouse.start();
    cleanups.push(() => clearinghouse.stop());

    const logger = createLogger({ component: 'test', silent: !process.env.KVMCRM_TEST_LOG, format: 'pretty' });

    const adminPassword = randomBytes(12).toString('hex');
    const agentCallbackPassword = randomBytes(16).toString('hex');
    const chPassword = randomBytes(12).toString('hex');
    // Several hosts: the manager listens on the management bridge, where the agents in their namespaces reach it.
    // With a browser namespace: on the root end of its veth, where the browser reaches it.
    const managerHost = network?.gateway ?? browserNetwork?.hostAddress ?? '127.0.0.1';
    const monitoring = {
      ...(options.monitoring?.intervalSeconds !== undefined ? { monitoringIntervalSeconds: options.monitoring.intervalSeconds } : {}),
      ...(options.monitoring?.failureThreshold !== undefined ? { monitoringFailureThreshold: options.monitoring.failureThreshold } : {}),
    };
    const manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: managerHost, port: 0 },
        publicUrl: `https://${managerHost}:1`, // replaced below once the port is known
        tls: tlsFiles('manager'),
        database: { type: 'sqlite', path: path.join(dir, 'manager.sqlite') },
        secretsKeyFile: path.join(dir, 'secrets.key'),
        users: [
          { name: 'admin', passwordScrypt: hashPassword(adminPassword), roles: ['admin'] },
          { name: 'expedient', passwordScrypt: hashPassword(chPassword), roles: ['clearinghouse'] },
        ],
        agentCallback: { user: 'oxad', password: agentCallbackPassword },
        actionTimeoutSeconds: options.actionTimeoutSeconds ?? 300,
        ...monitoring,
        ...(options.managerOptions ? await options.managerOptions(dir) : {}),
      }),
      logger.child({ component: 'vt-manager' }),
      {},
      { publicPortFromListen: true },
    );
    cleanups.push(() => manager.stop());
    // As the manager makes it from `publicUrl` (port taken from the listener) and `agentCallback`.
    const agentCallbackUrl = `https://oxad:${agentCallbackPassword}@${managerHost}:${manager.port}/xmlrpc/agent`;
    const admin = new XmlRpcClient({ url: `https://admin:${adminPassword}@${managerHost}:${manager.port}/xmlrpc/admin`, tls: { ca: ca.certPem }, maxResponseBytes: TEST_CLIENT_MAX_RESPONSE_BYTES });
    const pluginUrl = `https://expedient:${chPassword}@${managerHost}:${manager.port}/xmlrpc/plugin`;
    const plugin = new XmlRpcClient({ url: pluginUrl, tls: { ca: ca.certPem }, maxResponseBytes: TEST_CLIENT_MAX_RESPONSE_BYTES });
    // The test clearinghouses listen on 127.0.0.1, which the callback policy refuses unless an admin allows it.
    await allowLoopbackCallbacks(admin, 'expedient');
    const base: ClusterBase = { runId, dir, domainPrefix, ca, manager, clearinghouse, admin, plugin, pluginUrl, managerAddress: managerHost, certsDir: certs, certStore, agentCallbackUrl, cleanup };

    if (network) {
      const hosts: ClusterHost[] = [];
      // Registered before the first await that can fail, so that a failed start still stops what did start.
      cleanups.push(() => Promise.all(hosts.map((h) => h.stop())));
      // The template is installed once (the script serialises on a lock and checks apt each time), then copied.
      const templateDir = path.join(dir, 'template');
      let installed: Promise<void> | undefined;
      const installTemplate = async (catalogue: string) => {
        if (!(options.withTemplate ?? true)) return;
        installed ??= mkdir(templateDir, { mode: 0o755 }).then(() => installTestTemplate(templateDir));
        await installed;
        await execa('cp', ['-a', path.join(templateDir, 'kvm-crm-test'), catalogue]);
      };
      const setupOf = (index: number) => ({
        runId, dir, tls: tlsFiles(`agent-h${index}`), eventsUrl: agentCallbackUrl,
        managerClientTls: (name: string) => manager.tls.clientTls({ expectPeer: { name, role: 'agent' } }),
        installTemplate,
      });
      // The agents start side by side; those that started are stopped by the cleanup above when another fails.
      const started = await Promise.allSettled(network.hosts.map((h) => startHostAgent(h, setupOf(h.index))));
      for (const r of started) if (r.status === 'fulfilled') hosts.push(r.value);
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      for (const h of hosts) await registerHost(admin, runId, h);
      return { ...base, hosts, network };
    }

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

    const n = parseInt(runId.slice(0, 2), 16);
    const ip = options.ipv4 ?? { start: `10.254.${n}.10`, end: `10.254.${n}.59`, netmask: '255.255.255.0', gateway: `10.254.${n}.1`, dns: [`10.254.${n}.2`] };
    const server = await admin.call<{ uuid: string }>('server.register', [
      { name: serverName, agentUrl: `https://127.0.0.1:${agent.port}/`, agentPassword, bridges: [bridge] },
    ]);
    await admin.call('ipv4.addRange', [{ name: `net-${runId}`, start: ip.start, end: ip.end, netmask: ip.netmask, gateway: ip.gateway, dns1: ip.dns?.[0] ?? '', excluded: [] }]);
    await admin.call('mac.addRange', [{ name: `mac-${runId}`, start: `02:fe:${runId.slice(0, 2)}:${runId.slice(2, 4)}:${runId.slice(4, 6)}:00`, end: `02:fe:${runId.slice(0, 2)}:${runId.slice(2, 4)}:${runId.slice(4, 6)}:ff` }]);
    await admin.call('range.subscribe', [{ server: serverName, kind: 'ipv4', range: `net-${runId}` }]);
    await admin.call('range.subscribe', [{ server: serverName, kind: 'mac', range: `mac-${runId}` }]);

    return { ...base, storageRoot, bridge, serverUuid: server.uuid, agent, serverName, ...(browserNetwork ? { browserNetns: browserNetwork.netns } : {}) };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
