/**
 * The network of an emulated multi-host cluster on one machine (docs/decisions/018-hosts-as-network-namespaces.md):
 * one Linux bridge in the root namespace carrying the cluster's management network 198.18.<n>.0/24 (RFC 2544
 * benchmarking range, never routed), the manager at .1 on that bridge, and per host a network namespace whose
 * veth is plugged into it with address .(10+i). Each host also gets a guest bridge in the root namespace (libvirt
 * and QEMU run there, so the guests' taps must be plugged there).
 *
 * Every name contains the run id; removal deletes exactly the names this module made, never by pattern.
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';

/** One emulated host's share of the network. */
export interface HostNetwork {
  /** 1-based host number. */
  index: number;
  /** The network namespace, `kvmcrm-t<runId>-h<i>` (a file under /run/netns). */
  netns: string;
  /** The agent's address inside its namespace, 198.18.<n>.(10+i) (/24 on `eth0` there). */
  address: string;
  /** The root-namespace end of the host's veth pair, `kcv<runId>h<i>`, a port of the management bridge. */
  veth: string;
  /** The other end's name while it is created in the root namespace (`kcv<runId>n<i>`); `eth0` in the namespace. */
  vethPeer: string;
  /** The host's guest bridge (root namespace, no address): `kcbr<runId>h<i>`. */
  guestBridge: string;
}

/** The cluster's management network: the bridge, the manager's address on it, and the hosts. */
export interface ClusterNetwork {
  /** The management bridge in the root namespace, `kcnet<runId>`. */
  bridge: string;
  /** The /24 in CIDR notation, e.g. `198.18.42.0/24`. */
  subnet: string;
  /** The root namespace's address on the bridge (.1): the manager listens here, agents dial it. */
  gateway: string;
  hosts: HostNetwork[];
}

/** At most this many hosts per run (names and address plans assume one digit). */
export const MAX_HOSTS = 9;

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args, { timeout: 30_000 });
}

/** True when some interface address or route of the root namespace already lies in 198.18.<n>.0/24. */
async function subnetInUse(n: number): Promise<boolean> {
  const prefix = `198.18.${n}.`;
  const addrs = await execa('ip', ['-4', '-o', 'addr', 'show'], { reject: false });
  const routes = await execa('ip', ['-4', 'route', 'show', 'table', 'all'], { reject: false });
  return `${addrs.stdout}\n${routes.stdout}`.includes(prefix);
}

/**
 * The third octet n of a 198.18.<n>.0/24 that no address or route of this machine uses: derived from the run id's
 * first two hex digits, the next free one when taken. @throws when all 256 are in use.
 */
export async function freeTestSubnet(runId: string): Promise<number> {
  let n = parseInt(runId.slice(0, 2), 16);
  for (let tries = 0; await subnetInUse(n); tries++) {
    if (tries > 255) throw new Error('no free 198.18.<n>.0/24 on this machine');
    n = (n + 1) % 256;
  }
  return n;
}

/**
 * Plans the network of run `runId` with `count` hosts: a 198.18.<n>.0/24 not used on this machine (n derived from
 * the run id, the next free one when taken). Nothing is created yet. @throws when count is out of 1..MAX_HOSTS.
 */
export async function planClusterNetwork(runId: string, count: number): Promise<ClusterNetwork> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new Error(`hosts must be 1..${MAX_HOSTS}, not ${count}`);
  const n = await freeTestSubnet(runId);
  const hosts = Array.from({ length: count }, (_, k) => {
    const index = k + 1;
    return { index, netns: `kvmcrm-t${runId}-h${index}`, address: `198.18.${n}.${10 + index}`, veth: `kcv${runId}h${index}`, vethPeer: `kcv${runId}n${index}`, guestBridge: `kcbr${runId}h${index}` };
  });
  return { bridge: `kcnet${runId}`, subnet: `198.18.${n}.0/24`, gateway: `198.18.${n}.1`, hosts };
}

/**
 * Creates what `plan` describes: the management bridge with the gateway address, and for each host its namespace
 * (loopback up), a veth pair (root end on the bridge; the other end moved into the namespace, renamed `eth0`, with
 * the host's /24 address: its only route is the connected subnet, so the agent reaches the manager and nothing
 * beyond), and its guest bridge. On failure the caller removes it with {@link removeClusterNetwork}.
 */
export async function createClusterNetwork(plan: ClusterNetwork): Promise<void> {
  await ip('link', 'add', plan.bridge, 'type', 'bridge');
  await ip('addr', 'add', `${plan.gateway}/24`, 'dev', plan.bridge);
  await ip('link', 'set', plan.bridge, 'up');
  for (const h of plan.hosts) {
    const peer = h.vethPeer;
    await ip('netns', 'add', h.netns);
    await ip('-n', h.netns, 'link', 'set', 'lo', 'up');
    await ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', peer);
    await ip('link', 'set', peer, 'netns', h.netns);
    await ip('-n', h.netns, 'link', 'set', peer, 'name', 'eth0');
    await ip('-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0');
    await ip('-n', h.netns, 'link', 'set', 'eth0', 'up');
    await ip('link', 'set', h.veth, 'master', plan.bridge);
    await ip('link', 'set', h.veth, 'up');
    await ip('link', 'add', h.guestBridge, 'type', 'bridge');
    await ip('link', 'set', h.guestBridge, 'up');
  }
}

/**
 * Deletes the namespaces (which takes their veth ends, and so the pairs, with them), any root veth end left, the
 * guest bridges and the management bridge of `plan`. Each step is tried even when another failed; names that do
 * not exist are skipped.
 */
export async function removeClusterNetwork(plan: ClusterNetwork): Promise<void> {
  for (const h of plan.hosts) {
    if (existsSync(`/run/netns/${h.netns}`)) await execa('ip', ['netns', 'del', h.netns], { reject: false });
    for (const link of [h.veth, h.vethPeer, h.guestBridge]) if (existsSync(`/sys/class/net/${link}`)) await execa('ip', ['link', 'del', link], { reject: false });
  }
  if (existsSync(`/sys/class/net/${plan.bridge}`)) await execa('ip', ['link', 'del', plan.bridge], { reject: false });
}

/**
 * What of run `runId` is still on the machine: network namespaces and links whose name contains the run id. For
 * tests that assert a clean-up was complete.
 */
export async function networkLeftovers(runId: string): Promise<{ namespaces: string[]; links: string[] }> {
  const ns = await execa('ip', ['netns', 'list'], { reject: false });
  const links = await execa('ip', ['-o', 'link', 'show'], { reject: false });
  return {
    namespaces: ns.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.includes(runId)),
    links: links.stdout.split('\n').map((l) => (l.split(': ')[1] ?? '').replace(/@.*$/, '')).filter((n) => n.includes(runId)),
  };
}
