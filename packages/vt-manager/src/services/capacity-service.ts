/**
 * The capacity report (`vtctl host capacity`, like vm-consumptions.sh; decision record 019): per host, the CPUs,
 * memory and disk that may be promised to VMs (reported size × overcommit ratio), what the VMs were promised, what
 * is left, and the VM count.
 */
import type { EntityManager } from 'typeorm';
import { hostCapacity, NO_USAGE, type Overcommit, type Resources } from '../domain/capacity.js';
import { AllocationRepository } from '../repositories/allocation-repository.js';
import { ServerRepository } from '../repositories/server-repository.js';

/** One host's line of the report. Memory in MiB, disk in GiB (one decimal); totals null when capacity is unknown. */
export interface HostCapacityRow {
  host: string;
  /** `up`, `down`, `disabled` or `draining` (the first that applies, down last). */
  state: string;
  vms: number;
  cpus: { total: number | null; used: number; available: number | null };
  memoryMiB: { total: number | null; used: number; available: number | null };
  diskGiB: { total: number | null; used: number; available: number | null };
  /** ISO time of the agent's last report, `""` when none. */
  refreshedAt: string;
}

const toGiB = (mib: number) => Math.round((mib / 1024) * 10) / 10;

/** Reads the capacity of every host. */
export class CapacityService {
  constructor(private readonly ratios: Overcommit) {}

  /** Every host by name. */
  async report(em: EntityManager): Promise<HostCapacityRow[]> {
    const servers = await new ServerRepository(em).listWithBridges('name');
    const usage = await new AllocationRepository(em).usageByServer();
    return servers.map((s) => {
      const cap = hostCapacity(s, usage.get(s.id) ?? NO_USAGE, this.ratios);
      const pick = (r: Resources | null, k: keyof Resources) => (r ? r[k] : null);
      const gibOrNull = (n: number | null) => (n === null ? null : toGiB(n));
      return {
        host: s.name,
        state: !s.enabled ? 'disabled' : s.draining ? 'draining' : s.available ? 'up' : 'down',
        vms: cap.used.vms,
        cpus: { total: pick(cap.total, 'vcpus'), used: cap.used.vcpus, available: pick(cap.free, 'vcpus') },
        memoryMiB: { total: pick(cap.total, 'memoryMiB'), used: cap.used.memoryMiB, available: pick(cap.free, 'memoryMiB') },
        diskGiB: { total: gibOrNull(pick(cap.total, 'diskMiB')), used: toGiB(cap.used.diskMiB), available: gibOrNull(pick(cap.free, 'diskMiB')) },
        refreshedAt: s.inventoryRefreshedAt ? s.inventoryRefreshedAt.toISOString() : '',
      };
    });
  }
}
