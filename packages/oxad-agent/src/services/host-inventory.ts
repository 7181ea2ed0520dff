/**
 * The agent's host inventory for `get_host_info` (kvm-crm extension, docs/compatibility.md): reads the host through
 * {@link HostFacts} and combines it with domain/host-info.ts. Implemented over the real host by `LocalHostFacts`
 * (adapters/host-facts.ts).
 */
import { buildHostInfo, type HostInfo } from '../domain/host-info.js';

/** What the inventory reads from the host (implemented by `LocalHostFacts`). */
export interface HostFacts {
  /** The host's name. */
  hostname(): string;
  /** `virsh nodeinfo` output. */
  nodeInfo(): Promise<string>;
  /** `virsh version` output. */
  version(): Promise<string>;
  /** Content of `/proc/cpuinfo` or `/proc/meminfo`. */
  procFile(name: 'cpuinfo' | 'meminfo'): Promise<string>;
  /** `statfs` of a path (block size, total blocks, blocks available to unprivileged users). */
  statfs(path: string): Promise<{ bsize: number; blocks: number; bavail: number }>;
  /** Names of the Linux bridges present (`/sys/class/net/<name>/bridge`). */
  bridges(): Promise<string[]>;
}

/** Reads the host's inventory on each {@link get} (nothing is cached: free memory and disk change). */
export class HostInventory {
  constructor(
    private readonly facts: HostFacts,
    private readonly options: { storageRoot: string; hypervisor: 'kvm' | 'qemu' },
  ) {}

  /**
   * The host as it is now. @throws HostInfoError when a command's output lacks a field; the command's or the file
   * system's error when one fails. `/proc/cpuinfo` unreadable is not an error (the model then comes from nodeinfo).
   */
  async get(): Promise<HostInfo> {
    const [nodeinfo, virshVersion, cpuinfo, meminfo, statfs, bridges] = await Promise.all([
      this.facts.nodeInfo(),
      this.facts.version(),
      this.facts.procFile('cpuinfo').catch(() => ''), // the model name falls back to nodeinfo's CPU model
      this.facts.procFile('meminfo'),
      this.facts.statfs(this.options.storageRoot),
      this.facts.bridges(),
    ]);
    return buildHostInfo({ hostname: this.facts.hostname(), hypervisor: this.options.hypervisor, nodeinfo, virshVersion, cpuinfo, meminfo, statfs, bridges });
  }
}
