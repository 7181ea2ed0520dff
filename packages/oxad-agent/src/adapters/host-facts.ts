/**
 * {@link HostFacts} over the real host: `virsh nodeinfo` and `virsh version` through the Virsh adapter (so through
 * run-command), `/proc` files, `statfs` of the storage root and `/sys/class/net/<name>/bridge`.
 */
import { readdir, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { HostFacts } from '../services/host-inventory.js';
import type { Virsh } from './virsh.js';
import { assertAbsolutePath } from './safe-path.js';

/** The host the agent runs on. */
export class LocalHostFacts implements HostFacts {
  /** @param virsh the agent's libvirt connection; @param sysClassNet where network devices are listed (tests). */
  constructor(
    private readonly virsh: Pick<Virsh, 'nodeInfo' | 'version'>,
    private readonly sysClassNet = '/sys/class/net',
  ) {}

  hostname(): string {
    return os.hostname();
  }

  nodeInfo(): Promise<string> {
    return this.virsh.nodeInfo();
  }

  version(): Promise<string> {
    return this.virsh.version();
  }

  procFile(name: 'cpuinfo' | 'meminfo'): Promise<string> {
    return readFile(`/proc/${name}`, 'utf8');
  }

  async statfs(p: string): Promise<{ bsize: number; blocks: number; bavail: number }> {
    const s = await statfs(assertAbsolutePath(p, 'storage root'));
    return { bsize: s.bsize, blocks: s.blocks, bavail: s.bavail };
  }

  async bridges(): Promise<string[]> {
    const out: string[] = [];
    for (const name of await readdir(this.sysClassNet)) {
      const isBridge = await readdir(path.join(this.sysClassNet, name, 'bridge')).then(() => true, () => false);
      if (isBridge) out.push(name);
    }
    return out.sort();
  }
}
