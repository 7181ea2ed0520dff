/**
 * The three ways of making one guest that the benchmarks compare, each from the test template (a qcow2 overlay of
 * the same backing file), with a seed of the same shape (meta-data, user-data, network-config from the agent's own
 * renderer), the same memory and vCPUs and the same domain type:
 *   - kvm-crm: clearinghouse `send(create)` → manager → agent → SUCCESS, then `send(start)` → SUCCESS;
 *   - bare: `bench/bare-create-start.sh` (qemu-img, genisoimage, `virsh define` of the agent's domain XML, `virsh start`);
 *   - virt-install: `qemu-img create` of the overlay, then `virt-install --import --cloud-init … --noautoconsole`.
 * Each returns, in ms from its first request, `started` (start SUCCESS received / the command returned) and
 * `ready` (the guest's ready line in its serial log), and removes what it made before returning.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { renderDomainXml, renderSeedFiles } from '@kvm-crm/oxad-agent';
import { createQuery, lifecycleQuery, REPO_ROOT, virsh, type ClusterHost, type MultiHostCluster } from '@kvm-crm/harness';
import { processCpuMs, waitReady } from './bench-util.js';

/** The template every benchmark guest boots, relative to a host's `templates/` catalogue. */
export const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
/** The smallest memory the test template boots with (MiB). */
export const MEMORY_MIB = 128;
/** The system disk size kvm-crm's creates ask for (`hd-size-mb` of the harness's createQuery); the bare overlay gets it too. */
export const HD_SIZE_MIB = 8200;

/** The two times of one guest, in ms from the first request. */
export interface GuestTimes {
  started: number;
  ready: number;
  /** kvm-crm only: where the time to start SUCCESS went (see {@link Phases}). */
  phases?: Phases;
}

/**
 * Where kvm-crm's time to start SUCCESS goes, in ms: for create and start each, `send` answered (the manager stored
 * the action and handed it over), ONGOING and SUCCESS received by the clearinghouse (ms from that action's own
 * `send`), and the agent's own time for the action (its log's `action SUCCESS` `ms`: from after ONGOING was queued
 * to the result, the libvirt/qemu-img/genisoimage work); `gap` is the clearinghouse's own time between create
 * SUCCESS and sending start.
 */
export interface Phases {
  create: ActionPhases;
  gap: number;
  start: ActionPhases;
  /**
   * CPU time (utime + stime, ms) used from start SUCCESS received to the ready line, while the guest boots: by the
   * agent process (not its children), and by the benchmark's own process (manager, clearinghouse, the ready-line
   * poll, which the bare runs have too). NaN when the agent's /proc entry could not be read.
   */
  bootCpu: { agentMs: number; benchProcessMs: number };
}

/** One action's phases, ms from its `send`. */
export interface ActionPhases {
  answered: number;
  ongoing: number;
  success: number;
  agentMs: number;
}

/** Hooks of the peer runs for the many-VM benchmark. */
export interface PeerHooks {
  /** Wraps the create + start commands (a {@link Gate} gives the peer the agents' parallelism). Default: none. */
  gate?: <T>(f: () => Promise<T>) => Promise<T>;
  /** Called with `performance.now()` when the ready line was seen. */
  onReady?: (now: number) => void;
}

/** Sends one OCF query as the clearinghouse and waits for its terminal status. @throws unless it is SUCCESS. */
async function sendAndWait(c: MultiHostCluster, xml: string, actionId: string, what: string): Promise<number> {
  return (await sendTimed(c, xml, actionId, what)).successAt;
}

/** As {@link sendAndWait}, with the wall-clock times (Date.now()) of the send, its answer, ONGOING and SUCCESS. */
async function sendTimed(c: MultiHostCluster, xml: string, actionId: string, what: string): Promise<{ sentAt: number; answeredAt: number; ongoingAt: number; successAt: number }> {
  const sentAt = Date.now();
  await c.plugin.call('send', [c.clearinghouse.callbackUrl, xml]);
  const answeredAt = Date.now();
  const statuses = await c.clearinghouse.waitForTerminal(actionId, 300_000, 0);
  const last = statuses.at(-1)!;
  if (last.status !== 'SUCCESS') throw new Error(`${what} failed: ${JSON.stringify(statuses)}`);
  return { sentAt, answeredAt, ongoingAt: statuses.find((x) => x.status === 'ONGOING')?.at ?? NaN, successAt: last.at };
}

/** The `ms` of the agent's `action SUCCESS` log line for `actionId` (JSON lines in the host's log), NaN when absent. */
async function agentActionMs(host: ClusterHost, actionId: string): Promise<number> {
  const text = await readFile(host.logFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.includes(actionId) || !line.includes('action SUCCESS')) continue;
    try {
      const j = JSON.parse(line) as { actionId?: string; message?: string; ms?: number };
      if (j.actionId === actionId && j.message === 'action SUCCESS' && typeof j.ms === 'number') return j.ms;
    } catch {
      // not a JSON line
    }
  }
  return NaN;
}

/** The host whose storage holds VM `vmUuid` (a create naming no server lands on any). @throws when none does. */
async function hostOf(c: MultiHostCluster, vmUuid: string): Promise<ClusterHost> {
  for (const h of c.hosts) if (await stat(path.join(h.storageRoot, 'vms', vmUuid)).then(() => true, () => false)) return h;
  throw new Error(`VM ${vmUuid} is on no host of the run`);
}

/**
 * kvm-crm: create + start of one VM on `host` (or `undefined`: placed by the manager, server `NONE`), through the
 * OCF API as the clearinghouse; then the ready line (`onReady` is called with `performance.now()` then); then a
 * delete (not timed).
 * @throws when an action fails or the guest prints no ready line within 600 s.
 */
export async function kvmCrmCreateStart(c: MultiHostCluster, host: ClusterHost | undefined, name: string, onReady?: (now: number) => void): Promise<GuestTimes> {
  const create = createQuery({ serverUuid: host?.serverUuid ?? 'NONE', name, template: TEMPLATE, memoryMb: MEMORY_MIB });
  const t0 = performance.now();
  const d0 = Date.now();
  const cr = await sendTimed(c, create.xml, create.actionId, `create ${name}`);
  const on = host ?? (await hostOf(c, create.vmUuid));
  const start = lifecycleQuery('start', { serverUuid: on.serverUuid, vmUuid: create.vmUuid, name });
  const st = await sendTimed(c, start.xml, start.actionId, `start ${name}`);
  const cpu0 = { agent: await processCpuMs(on.pid), self: process.cpuUsage() };
  await waitReady(path.join(on.storageRoot, 'vms', create.vmUuid, 'console.log'), 600_000);
  onReady?.(performance.now());
  const self = process.cpuUsage(cpu0.self);
  const bootCpu = { agentMs: (await processCpuMs(on.pid)) - cpu0.agent, benchProcessMs: (self.user + self.system) / 1000 };
  const phase = async (t: typeof cr, actionId: string): Promise<ActionPhases> => ({ answered: t.answeredAt - t.sentAt, ongoing: t.ongoingAt - t.sentAt, success: t.successAt - t.sentAt, agentMs: await agentActionMs(on, actionId) });
  const times: GuestTimes = {
    started: st.successAt - d0, ready: performance.now() - t0,
    phases: { create: await phase(cr, create.actionId), gap: st.sentAt - cr.successAt, start: await phase(st, start.actionId), bootCpu },
  };
  const del = lifecycleQuery('delete', { serverUuid: on.serverUuid, vmUuid: create.vmUuid, name });
  await sendAndWait(c, del.xml, del.actionId, `delete ${name}`);
  return times;
}

/** What the bare and virt-install runs need to know about where they run. */
export interface PeerTarget {
  /** The folder the run's peer guests go to (made 0755; removed by the caller's cleanup). */
  dir: string;
  /** The template's absolute path (the backing file of every overlay). */
  template: string;
  /** The bridge the guest's NIC is plugged into. */
  bridge: string;
  /** Prefix of the run's domains (`removeDomains` of the cluster's cleanup catches them). */
  domainPrefix: string;
  /** `kvm` or `qemu` (TCG), as the agent chose with its boot probe. */
  domainType: 'kvm' | 'qemu';
}

/** Seed files and identity of one peer guest. `n` (0–109) makes its MAC and address (10.252.0.0/24) unique within the run. */
function peerGuest(target: PeerTarget, kind: string, n: number) {
  const uuid = randomUUID();
  const dir = path.join(target.dir, `${kind}-${uuid}`);
  const mac = `02:fd:00:00:${kind === 'bare' ? '00' : '01'}:${n.toString(16).padStart(2, '0')}`;
  const hostname = `${kind}-${n}`;
  const seed = renderSeedFiles({ instanceId: uuid, hostname, nics: [{ name: 'eth0', mac, addresses: [`10.252.0.${(kind === 'bare' ? 10 : 130) + (n % 110)}/24`], gateway: '10.252.0.1', dns: ['10.252.0.2'] }] });
  return { uuid, dir, mac, hostname, seed, domain: `${target.domainPrefix}${kind}-${uuid}` };
}

/** Removes a peer guest: its domain (with NVRAM and any storage libvirt knows of) and its folder. */
async function removePeer(domain: string, dir: string): Promise<void> {
  await virsh('destroy', domain);
  await virsh('undefine', domain, '--nvram');
  await removeFolderPool(dir);
  await rm(dir, { recursive: true, force: true });
}

/**
 * virt-install defines a directory storage pool named after the folder of the disk it is given (`vi-<uuid>` here);
 * this undefines it, but only when that pool's target path is `dir`, so a pool this run did not make is never touched.
 */
async function removeFolderPool(dir: string): Promise<void> {
  const pool = path.basename(dir);
  const xml = await virsh('pool-dumpxml', pool);
  if (xml.exitCode !== 0 || !xml.stdout.includes(`<path>${dir}</path>`)) return;
  await virsh('pool-destroy', pool);
  await virsh('pool-undefine', pool);
}

/**
 * The bare baseline: the seed files and the agent's domain XML are written first (not timed; the same XML as the
 * agent's, serial console on a unix socket logged to console.log included), then `bare-create-start.sh` makes the
 * overlay (at the size kvm-crm's creates ask for) and seed ISO, defines and starts the domain; then the ready line.
 * @throws when the script fails or no ready line comes within 600 s. The guest is removed in every case.
 */
export async function bareCreateStart(target: PeerTarget, n: number, hooks: PeerHooks = {}): Promise<GuestTimes> {
  const g = peerGuest(target, 'bare', n);
  try {
    await mkdir(path.join(g.dir, 'seed'), { recursive: true, mode: 0o755 });
    for (const [f, text] of Object.entries(g.seed)) await writeFile(path.join(g.dir, 'seed', f), text);
    await writeFile(
      path.join(g.dir, 'domain.xml'),
      renderDomainXml({
        name: g.domain, uuid: g.uuid, title: g.hostname, domainType: target.domainType, memoryMiB: MEMORY_MIB, vcpus: 1,
        diskPath: path.join(g.dir, 'disk.qcow2'), backing: { path: target.template, format: 'qcow2' }, seedIsoPath: path.join(g.dir, 'seed.iso'), serialLogPath: path.join(g.dir, 'console.log'),
        serialSocketPath: path.join(g.dir, 'console.sock'), nics: [{ mac: g.mac, bridge: target.bridge }],
        metadata: { vmUuid: g.uuid, vmName: g.hostname, projectId: 'bench', sliceId: 'bench', actionId: 'bench', template: 'kvm-crm-test' },
      }),
    );
    const t0 = performance.now();
    const script = () => execa('bash', [path.join(REPO_ROOT, 'bench/bare-create-start.sh'), target.template, g.dir, String(HD_SIZE_MIB)]);
    await (hooks.gate ? hooks.gate(script) : script());
    const started = performance.now() - t0;
    await waitReady(path.join(g.dir, 'console.log'), 600_000);
    hooks.onReady?.(performance.now());
    return { started, ready: performance.now() - t0 };
  } finally {
    await removePeer(g.domain, g.dir);
  }
}

/**
 * The peer users would pick: the seed files are written first (not timed), then `qemu-img create` of the overlay
 * and `virt-install --import --cloud-init user-data=…,meta-data=…,network-config=… --noautoconsole` with the same
 * memory, vCPUs, domain type, bridge, MAC and a serial console to a file; then the ready line. virt-install makes
 * its own seed ISO and defines the domain so that the seed is dropped at the guest's first reboot.
 * @throws when a command fails or no ready line comes within 600 s. The guest is removed in every case.
 */
export async function virtInstallCreateStart(target: PeerTarget, n: number): Promise<GuestTimes> {
  const g = peerGuest(target, 'vi', n);
  try {
    await mkdir(g.dir, { recursive: true, mode: 0o755 });
    const seedArgs: string[] = [];
    for (const [f, text] of Object.entries(g.seed)) {
      await writeFile(path.join(g.dir, f), text);
      seedArgs.push(`${f}=${path.join(g.dir, f)}`);
    }
    const disk = path.join(g.dir, 'disk.qcow2');
    const log = path.join(g.dir, 'console.log');
    const t0 = performance.now();
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', target.template, '-F', 'qcow2', disk]);
    await execa('virt-install', [
      '--connect', 'qemu:///system', '--name', g.domain, '--uuid', g.uuid, '--virt-type', target.domainType,
      '--memory', String(MEMORY_MIB), '--vcpus', '1', '--machine', 'pc', '--osinfo', 'detect=on,require=off',
      '--import', '--disk', `path=${disk},format=qcow2,bus=virtio`, '--cloud-init', seedArgs.join(','),
      '--network', `bridge=${target.bridge},mac=${g.mac},model=virtio`, '--serial', `file,path=${log}`,
      '--graphics', 'none', '--noautoconsole', '--noreboot',
    ], { env: { HOME: target.dir } });
    const started = performance.now() - t0;
    await waitReady(log, 600_000);
    return { started, ready: performance.now() - t0 };
  } finally {
    await removePeer(g.domain, g.dir);
  }
}

/**
 * The domain type the agent of `host` chose (its boot probe), read from a domain it defined: creates one VM
 * (not started), reads `<domain type=…>` and deletes it. Also warms the path up (not timed).
 */
export async function agentDomainType(c: MultiHostCluster, host: ClusterHost): Promise<'kvm' | 'qemu'> {
  const create = createQuery({ serverUuid: host.serverUuid, name: 'probe', template: TEMPLATE, memoryMb: MEMORY_MIB });
  await sendAndWait(c, create.xml, create.actionId, 'create probe');
  const { stdout } = await virsh('dumpxml', `${host.domainPrefix}${create.vmUuid}`);
  const del = lifecycleQuery('delete', { serverUuid: host.serverUuid, vmUuid: create.vmUuid, name: 'probe' });
  await sendAndWait(c, del.xml, del.actionId, 'delete probe');
  const type = /<domain type='(kvm|qemu)'/.exec(stdout)?.[1];
  if (type !== 'kvm' && type !== 'qemu') throw new Error(`cannot read the domain type of the probe VM: ${stdout.slice(0, 200)}`);
  return type;
}
