/**
 * The hosts of a multi-host test cluster (`startCluster({ hosts: n })`, docs/decisions/018-hosts-as-network-namespaces.md):
 * one oxad-agent process per host, run inside the host's network namespace with its own address, certificate,
 * storage root, guest bridge and domain prefix, registered with the manager through the admin API like an operator
 * would (`vtctl server add`, `range add-ipv4`, `range subscribe`).
 *
 * The agent is started as `nsenter --net=/run/netns/<ns> -- node <AGENT_NODE_FLAGS> packages/oxad-agent/dist/main.js --config …`:
 * nsenter switches only the network namespace, whereas `ip netns exec` also remounts /sys for the namespace, where
 * the agent would then not find its guest bridge (`/sys/class/net/<bridge>/bridge`) in the root namespace, which is
 * where libvirt plugs the guests' taps. nsenter execs node, so the child's PID is the agent's. It is started as the
 * leader of its own process group, and signals go to that group (`kill -- -<pid>`): the agent and its `virsh event`
 * child, nothing else; a SIGKILLed agent then leaves no orphaned `virsh` behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { XmlRpcClient, type ClientTls } from '@kvm-crm/shared';
import { AGENT_NODE_FLAGS } from '@kvm-crm/oxad-agent';
import type { TlsFiles } from './certificates.js';
import { LIBVIRT_URI } from './libvirt.js';
import type { HostNetwork } from './netns.js';
import { REPO_ROOT } from './repo-root.js';

/** The port every agent listens on inside its own namespace (the OCF agent port, docs/ocf-protocol.md §4.1). */
export const HOST_AGENT_PORT = 9229;

/** One emulated KVM host of a multi-host cluster. */
export interface ClusterHost {
  /** 1-based host number. */
  index: number;
  /** The name the host is registered under, `host-<runId>-<i>`: its agent certificate's CN. */
  name: string;
  /** The server's UUID in the manager (set by {@link registerHost}). */
  serverUuid: string;
  /** `https://<address>:9229/`, as registered with the manager. */
  agentUrl: string;
  /** The OCF shared agent password of this host (docs/ocf-protocol.md §4.2). */
  agentPassword: string;
  /** The host's network namespace (`ip netns list`). */
  netns: string;
  /** The agent's address inside its namespace. */
  address: string;
  /** The host's storage root: `templates/` (the test template installed) and `vms/`. */
  storageRoot: string;
  /**
   * The run's backup folder `<run dir>/backups`, the agent's one backup root (decision record 026): the same folder
   * for every host, as an NFS mount shared by the hosts would be.
   */
  backupRoot: string;
  /** The host's guest bridge (root namespace), registered as the server's bridge. */
  bridge: string;
  /** Prefix of this host's libvirt domains, `kvmcrm-t<runId>-h<i>-`: the agent sees only these. */
  domainPrefix: string;
  /** The agent's configuration file and its log (stdout and stderr, JSON lines). */
  configFile: string;
  logFile: string;
  /** The running agent's PID; undefined while it is stopped. */
  readonly pid: number | undefined;
  /** SIGTERM to the agent's process group, SIGKILL after 20 s; resolves when the agent is gone. */
  stop(): Promise<void>;
  /** SIGKILL to the agent's process group at once (a crashed host); resolves when the agent is gone. */
  kill(): Promise<void>;
  /** Stops the agent if it runs, starts it again with the same configuration, and waits until it answers `ping`. */
  restart(): Promise<void>;
}

/** What {@link startHostAgent} needs besides the host's network. */
export interface HostAgentSetup {
  runId: string;
  /** The run's folder; the host's files go to `<dir>/hosts/h<i>/`. */
  dir: string;
  /** The `tls` section of the host's agent certificate. */
  tls: TlsFiles;
  /** The manager's `/xmlrpc/agent` URL with credentials (the agent's `eventsUrl`), on the bridge address. */
  eventsUrl: string;
  /** TLS of the manager's client (its certificate, our CA) for readiness pings; the expected peer is set here. */
  managerClientTls: (expectName: string) => ClientTls;
  /** Installs the test template into a catalogue folder (or does nothing when the run has no template). */
  installTemplate: (catalogue: string) => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes the host's agent configuration, installs the template into its storage root, starts the agent in the
 * host's namespace and waits (up to 90 s) until it answers `ping` on its namespace address, through the management
 * bridge, with the manager's certificate. @throws when the agent exits first (with its log's tail) or never answers;
 * the process is then killed. The host is not registered yet ({@link registerHost}).
 */
export async function startHostAgent(net: HostNetwork, setup: HostAgentSetup): Promise<ClusterHost> {
  const hostDir = path.join(setup.dir, 'hosts', `h${net.index}`);
  const storageRoot = path.join(hostDir, 'storage');
  await mkdir(path.join(storageRoot, 'templates'), { recursive: true, mode: 0o755 });
  await setup.installTemplate(path.join(storageRoot, 'templates'));
  const name = `host-${setup.runId}-${net.index}`;
  const domainPrefix = `kvmcrm-t${setup.runId}-h${net.index}-`;
  const agentPassword = randomBytes(12).toString('hex');
  const configFile = path.join(hostDir, 'agent.json');
  const logFile = path.join(hostDir, 'agent.log');
  const backupRoot = path.join(setup.dir, 'backups');
  await mkdir(backupRoot, { recursive: true, mode: 0o755 });
  await writeFile(
    configFile,
    JSON.stringify({
      listen: { host: net.address, port: HOST_AGENT_PORT },
      tls: { ...setup.tls, reloadIntervalSeconds: 0.5 },
      password: agentPassword, storageRoot, libvirtUri: LIBVIRT_URI, domainPrefix, stopGraceSeconds: 20,
      eventsUrl: setup.eventsUrl, logFormat: 'json', backupRoots: [backupRoot],
    }, null, 2),
    { mode: 0o600 },
  );
  const agentUrl = `https://${net.address}:${HOST_AGENT_PORT}/`;
  const pinger = new XmlRpcClient({ url: agentUrl, tls: setup.managerClientTls(name), timeoutSeconds: 2, keepAlive: false });

  let child: ChildProcess | undefined;
  const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  const signal = async (sig: NodeJS.Signals, graceMs: number): Promise<void> => {
    const c = child;
    if (!c || c.pid === undefined || exited(c)) return;
    const gone = new Promise((r) => c.once('exit', r));
    const pgid = c.pid;
    const toGroup = (s: NodeJS.Signals) => {
      try {
        process.kill(-pgid, s);
      } catch {
        // the group is already gone (the agent and its children exited)
      }
    };
    toGroup(sig);
    const timer = setTimeout(() => toGroup('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  };
  const start = async (): Promise<void> => {
    const fd = openSync(logFile, 'a', 0o600);
    const c = spawn('nsenter', [`--net=/run/netns/${net.netns}`, '--', process.execPath, ...AGENT_NODE_FLAGS, path.join(REPO_ROOT, 'packages/oxad-agent/dist/main.js'), '--config', configFile], {
      cwd: REPO_ROOT, stdio: ['ignore', fd, fd], detached: true,
    });
    closeSync(fd);
    child = c;
    const until = Date.now() + 90_000;
    for (;;) {
      try {
        await pinger.call('ping', ['hello']);
        return;
      } catch (err) {
        if (exited(c)) throw new Error(`agent of ${name} exited (${c.exitCode ?? c.signalCode}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
        if (Date.now() > until) {
          await signal('SIGKILL', 0);
          throw err;
        }
        await sleep(200);
      }
    }
  };
  await start();
  return {
    index: net.index, name, serverUuid: '', agentUrl, agentPassword, netns: net.netns, address: net.address, storageRoot, backupRoot, bridge: net.guestBridge, domainPrefix, configFile, logFile,
    get pid() {
      return child && !exited(child) ? child.pid : undefined;
    },
    stop: () => signal('SIGTERM', 20_000),
    kill: () => signal('SIGKILL', 0),
    restart: async () => {
      await signal('SIGTERM', 20_000);
      await start();
    },
  };
}

/**
 * Registers `host` with the manager as an operator would (`vtctl server add` with the host's guest bridge), adds
 * the host's own IPv4 slice `10.254.<m>.(20i+10)`–`.(20i+29)` of 10.254.<m>.0/24 (gateway .1, DNS .2; `m` from
 * the run id, as the single-host cluster's range) and MAC range `02:fe:<runId>:<i>0`–`<i>f`, subscribes the server
 * to both, and sets `host.serverUuid`.
 */
export async function registerHost(admin: XmlRpcClient, runId: string, host: ClusterHost): Promise<void> {
  const i = host.index;
  const m = parseInt(runId.slice(0, 2), 16);
  const server = await admin.call<{ uuid: string }>('server.register', [
    { name: host.name, agentUrl: host.agentUrl, agentPassword: host.agentPassword, bridges: [host.bridge] },
  ]);
  const net = `net-${runId}-h${i}`;
  const mac = `mac-${runId}-h${i}`;
  const macBase = `02:fe:${runId.slice(0, 2)}:${runId.slice(2, 4)}:${runId.slice(4, 6)}:${i}`;
  await admin.call('ipv4.addRange', [{ name: net, start: `10.254.${m}.${20 * i + 10}`, end: `10.254.${m}.${20 * i + 29}`, netmask: '255.255.255.0', gateway: `10.254.${m}.1`, dns1: `10.254.${m}.2`, excluded: [] }]);
  await admin.call('mac.addRange', [{ name: mac, start: `${macBase}0`, end: `${macBase}f` }]);
  await admin.call('range.subscribe', [{ server: host.name, kind: 'ipv4', range: net }]);
  await admin.call('range.subscribe', [{ server: host.name, kind: 'mac', range: mac }]);
  host.serverUuid = server.uuid;
}
