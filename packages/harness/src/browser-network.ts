/**
 * A network namespace for the test browser, so that Chromium does not see the interfaces a test run makes.
 *
 * Chromium watches the addresses and links of its network namespace (netlink) and aborts every request in flight with
 * `net::ERR_NETWORK_CHANGED` when they change. A dashboard test changes them itself: starting a VM plugs a tap into
 * the run's bridge, and the kernel gives the tap and the bridge IPv6 link-local addresses a second later. In the root
 * namespace the browser's first navigation after a VM start failed that way (CI, 2026-12-05). In its own namespace
 * the browser sees only `lo` and one veth end that exist, with IPv6 off, before it starts; nothing changes there.
 *
 * The namespace is joined to the root namespace by a veth pair on a free 198.18.<n>.0/24 (RFC 2544 benchmarking
 * range, never routed): the root end has .1, where the test manager listens; the browser's end, `eth0`, has .2.
 * Every name contains the run id; removal deletes exactly these names.
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { freeTestSubnet } from './netns.js';

/** The browser's namespace and its link to the root namespace. */
export interface BrowserNetwork {
  /** The namespace, `kvmcrm-t<runId>-ui` (a file under /run/netns). */
  netns: string;
  /** The root-namespace end of the veth pair, `kcv<runId>u`, with {@link hostAddress}. */
  veth: string;
  /** The other end while in the root namespace (`kcv<runId>b`); `eth0` in the namespace. */
  vethPeer: string;
  /** 198.18.<n>.1 on the root end: a server the browser must reach listens here. */
  hostAddress: string;
  /** 198.18.<n>.2, the browser's address. */
  browserAddress: string;
}

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args, { timeout: 30_000 });
}

/**
 * Creates the browser namespace of run `runId` (6 hex digits, as the harness makes them): loopback up, IPv6 off in the
 * namespace (a per-namespace sysctl; the root namespace's settings are not touched), the veth pair with the two /24
 * addresses, both ends up. On failure what was made is removed before the error is thrown.
 * @throws when `runId` is not 6 lower-case hex digits, when one of the names already exists (nothing is touched
 * then), or when `ip`/`nsenter`/`sysctl` fail.
 */
export async function createBrowserNetwork(runId: string): Promise<BrowserNetwork> {
  if (!/^[0-9a-f]{6}$/.test(runId)) throw new Error(`browser network: run id must be 6 hex digits, not ${JSON.stringify(runId)}`);
  const n = await freeTestSubnet(runId);
  const net: BrowserNetwork = { netns: `kvmcrm-t${runId}-ui`, veth: `kcv${runId}u`, vethPeer: `kcv${runId}b`, hostAddress: `198.18.${n}.1`, browserAddress: `198.18.${n}.2` };
  // Names another run left behind are not ours to remove: refuse before making anything.
  for (const taken of [`/run/netns/${net.netns}`, `/sys/class/net/${net.veth}`, `/sys/class/net/${net.vethPeer}`]) {
    if (existsSync(taken)) throw new Error(`browser network: ${taken} already exists`);
  }
  try {
    await ip('netns', 'add', net.netns);
    await execa('nsenter', [`--net=/run/netns/${net.netns}`, '--', 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { timeout: 30_000 });
    await ip('-n', net.netns, 'link', 'set', 'lo', 'up');
    await ip('link', 'add', net.veth, 'type', 'veth', 'peer', 'name', net.vethPeer);
    await ip('link', 'set', net.vethPeer, 'netns', net.netns);
    await ip('-n', net.netns, 'link', 'set', net.vethPeer, 'name', 'eth0');
    await ip('-n', net.netns, 'addr', 'add', `${net.browserAddress}/24`, 'dev', 'eth0');
    await ip('-n', net.netns, 'link', 'set', 'eth0', 'up');
    await ip('addr', 'add', `${net.hostAddress}/24`, 'dev', net.veth);
    await ip('link', 'set', net.veth, 'up');
    return net;
  } catch (err) {
    await removeBrowserNetwork(net);
    throw err;
  }
}

/** Deletes the namespace (its veth end, and so the pair, goes with it) and any root end left. Names absent are skipped. */
export async function removeBrowserNetwork(net: BrowserNetwork): Promise<void> {
  if (existsSync(`/run/netns/${net.netns}`)) await execa('ip', ['netns', 'del', net.netns], { reject: false });
  for (const link of [net.veth, net.vethPeer]) if (existsSync(`/sys/class/net/${link}`)) await execa('ip', ['link', 'del', link], { reject: false });
}
