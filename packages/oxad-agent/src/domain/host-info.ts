/**
 * The host inventory the agent reports through `get_host_info` (a kvm-crm extension, docs/compatibility.md): its
 * shape and the pure parsers of what it is read from (`virsh nodeinfo`, `virsh version`, `/proc/cpuinfo`,
 * `/proc/meminfo`). The OCF fields of seed 000 (`numberOfCPUs`, `CPUFrequency`, `memory`, `discSpaceGB`,
 * docs/ocf-protocol.md §6.2 server record) are filled from the same figures. Pure functions, no I/O.
 */
import { UpstreamError } from '@kvm-crm/shared/errors';

/**
 * What `get_host_info` returns (an XML-RPC struct; every number an `<int>`, so memory and disk are in MiB/GiB).
 */
export interface HostInfo {
  /** The host's name (`os.hostname()`). */
  hostname: string;
  /** `kvm` or `qemu` (TCG), as the agent's hypervisor probe decided at start. */
  hypervisor: 'kvm' | 'qemu';
  /** CPU model name (`/proc/cpuinfo` "model name"; `virsh nodeinfo` "CPU model", e.g. `x86_64`, when absent). */
  cpuModel: string;
  /** Logical CPUs (`virsh nodeinfo` "CPU(s)"). */
  cpus: number;
  /** Sockets (per NUMA cell × cells), cores per socket, threads per core (`virsh nodeinfo`). */
  cpuSockets: number;
  cpuCoresPerSocket: number;
  cpuThreadsPerCore: number;
  /** Nominal CPU frequency in MHz (`virsh nodeinfo`). */
  cpuFrequencyMHz: number;
  /** Memory in MiB: total and available to new guests (`/proc/meminfo` MemTotal, MemAvailable). */
  memoryTotalMiB: number;
  memoryFreeMiB: number;
  /** The file system of the storage root: total and free to the agent (`statfs`: blocks, bavail), MiB and whole GiB. */
  storageTotalMiB: number;
  storageFreeMiB: number;
  storageTotalGiB: number;
  storageFreeGiB: number;
  /** libvirt library version (`virsh version`, "Using library: libvirt X"). */
  libvirtVersion: string;
  /** QEMU version of the running hypervisor (`virsh version`, "Running hypervisor: QEMU X"). */
  qemuVersion: string;
  /** Linux bridges present on the host (`/sys/class/net/<name>/bridge`), sorted. */
  bridges: string[];
  /** OCF server fields (seed 000): logical CPUs, MHz, memory MiB, storage-root GiB (total). */
  numberOfCPUs: number;
  CPUFrequency: number;
  memory: number;
  discSpaceGB: number;
}

/** What {@link parseNodeInfo} reads from `virsh nodeinfo`. */
export interface NodeInfo {
  cpuModel: string;
  cpus: number;
  frequencyMHz: number;
  sockets: number;
  coresPerSocket: number;
  threadsPerCore: number;
  numaCells: number;
  memoryKiB: number;
}

/** The host inventory could not be read (a command's output without an expected field). */
export class HostInfoError extends UpstreamError {}

function field(text: string, label: string, source: string): string {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^${escaped}\\s*:\\s*(.*?)\\s*$`, 'm').exec(text);
  if (!m || m[1] === '') throw new HostInfoError(`${source}: no "${label}" in the output`);
  return m[1]!;
}

function count(text: string, label: string, source: string): number {
  const v = field(text, label, source);
  const n = Number(/^\d+/.exec(v)?.[0] ?? NaN);
  if (!Number.isSafeInteger(n)) throw new HostInfoError(`${source}: "${label}" is not a number: ${JSON.stringify(v.slice(0, 40))}`);
  return n;
}

/**
 * Parses `virsh nodeinfo` (LC_ALL=C): `CPU model:`, `CPU(s):`, `CPU frequency: N MHz`, `CPU socket(s):` (per NUMA
 * cell), `Core(s) per socket:`, `Thread(s) per core:`, `NUMA cell(s):`, `Memory size: N KiB`.
 * @throws HostInfoError naming the first missing field.
 */
export function parseNodeInfo(text: string): NodeInfo {
  const src = 'virsh nodeinfo';
  return {
    cpuModel: field(text, 'CPU model', src),
    cpus: count(text, 'CPU(s)', src),
    frequencyMHz: count(text, 'CPU frequency', src),
    sockets: count(text, 'CPU socket(s)', src),
    coresPerSocket: count(text, 'Core(s) per socket', src),
    threadsPerCore: count(text, 'Thread(s) per core', src),
    numaCells: count(text, 'NUMA cell(s)', src),
    memoryKiB: count(text, 'Memory size', src),
  };
}

/**
 * Parses `virsh version`: `Using library: libvirt 9.0.0` and `Running hypervisor: QEMU 7.2.22`.
 * @throws HostInfoError when either line is missing (e.g. libvirtd runs no QEMU driver).
 */
export function parseVirshVersion(text: string): { libvirt: string; qemu: string } {
  const lib = /^Using library:\s*libvirt\s+(\S+)/m.exec(text);
  const hv = /^Running hypervisor:\s*QEMU\s+(\S+)/im.exec(text);
  if (!lib) throw new HostInfoError('virsh version: no "Using library: libvirt <version>" line');
  if (!hv) throw new HostInfoError('virsh version: no "Running hypervisor: QEMU <version>" line');
  return { libvirt: lib[1]!, qemu: hv[1]! };
}

/** The first `model name` of `/proc/cpuinfo` (x86), or undefined (other architectures). */
export function parseCpuModelName(cpuinfo: string): string | undefined {
  const m = /^model name\s*:\s*(.*?)\s*$/m.exec(cpuinfo);
  return m && m[1] ? m[1] : undefined;
}

/**
 * `MemTotal` and `MemAvailable` of `/proc/meminfo` in MiB (`MemFree` when the kernel has no MemAvailable).
 * @throws HostInfoError when MemTotal is missing.
 */
export function parseMeminfo(meminfo: string): { totalMiB: number; freeMiB: number } {
  const kib = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s*(\\d+) kB`, 'm').exec(meminfo);
    return m ? Number(m[1]) : undefined;
  };
  const total = kib('MemTotal');
  if (total === undefined) throw new HostInfoError('/proc/meminfo: no MemTotal');
  const free = kib('MemAvailable') ?? kib('MemFree') ?? 0;
  return { totalMiB: Math.floor(total / 1024), freeMiB: Math.floor(free / 1024) };
}

/** The figures {@link buildHostInfo} combines, as read from the host. */
export interface HostFactsRead {
  hostname: string;
  hypervisor: 'kvm' | 'qemu';
  nodeinfo: string;
  virshVersion: string;
  /** `/proc/cpuinfo`, or `''` when unreadable. */
  cpuinfo: string;
  meminfo: string;
  /** `statfs` of the storage root: block size and counts. */
  statfs: { bsize: number; blocks: number; bavail: number };
  bridges: string[];
}

/**
 * Combines what was read into a {@link HostInfo}. Sockets count every NUMA cell (`virsh nodeinfo` prints sockets
 * per cell).
 * @throws HostInfoError when a source lacks a field.
 */
export function buildHostInfo(r: HostFactsRead): HostInfo {
  const node = parseNodeInfo(r.nodeinfo);
  const versions = parseVirshVersion(r.virshVersion);
  const mem = parseMeminfo(r.meminfo);
  const MIB = 1024 * 1024;
  const totalMiB = Math.floor((r.statfs.blocks * r.statfs.bsize) / MIB);
  const freeMiB = Math.floor((r.statfs.bavail * r.statfs.bsize) / MIB);
  return {
    hostname: r.hostname,
    hypervisor: r.hypervisor,
    cpuModel: parseCpuModelName(r.cpuinfo) ?? node.cpuModel,
    cpus: node.cpus,
    cpuSockets: node.sockets * Math.max(1, node.numaCells),
    cpuCoresPerSocket: node.coresPerSocket,
    cpuThreadsPerCore: node.threadsPerCore,
    cpuFrequencyMHz: node.frequencyMHz,
    memoryTotalMiB: mem.totalMiB,
    memoryFreeMiB: mem.freeMiB,
    storageTotalMiB: totalMiB,
    storageFreeMiB: freeMiB,
    storageTotalGiB: Math.floor(totalMiB / 1024),
    storageFreeGiB: Math.floor(freeMiB / 1024),
    libvirtVersion: versions.libvirt,
    qemuVersion: versions.qemu,
    bridges: [...r.bridges].sort(),
    numberOfCPUs: node.cpus,
    CPUFrequency: node.frequencyMHz,
    memory: mem.totalMiB,
    discSpaceGB: Math.floor(totalMiB / 1024),
  };
}
