/**
 * The manager's state as the scrape-time gauges show it (decision record 028): read at each scrape from the
 * database with a few aggregate SELECTs (repositories/metrics-repository.ts, AllocationRepository.usageByServer), so
 * the gauges are true for the whole cluster whichever manager is scraped. Sizes in bytes, ages in seconds.
 */
import type { EntityManager } from 'typeorm';
import { hostCapacity, NO_USAGE, type Overcommit } from '../domain/capacity.js';
import { AllocationRepository } from '../repositories/allocation-repository.js';
import { MetricsRepository, type RangeUsageRow } from '../repositories/metrics-repository.js';

const MIB = 1024 * 1024;

/** One host's gauges. Totals are size × overcommit (what may be promised), null until its agent reported its size. */
export interface HostSnapshot {
  host: string;
  /** 1 when the manager's last contact with the agent worked (`server.available`), else 0. */
  up: 0 | 1;
  /** 1 when new VMs may be placed there (enabled and not draining). */
  schedulable: 0 | 1;
  vcpus: { total: number | null; allocated: number };
  memoryBytes: { total: number | null; allocated: number };
  diskBytes: { total: number | null; allocated: number };
  vms: number;
}

/** Everything the manager's gauges show, read at one moment. */
export interface ManagerSnapshot {
  actionsInFlight: Array<{ type: string; status: string; count: number }>;
  outbox: { rows: number; oldestAgeSeconds: number };
  vmsByState: Array<{ state: string; count: number }>;
  hosts: HostSnapshot[];
  pools: RangeUsageRow[];
}

/** Reads a {@link ManagerSnapshot}. */
export class MetricsSnapshotService {
  constructor(
    /** The entity manager to read with (the data source's, outside any transaction). */
    private readonly em: () => EntityManager,
    /** Overcommit ratios (manager option `capacity`), as the capacity report uses them. */
    private readonly ratios: Overcommit,
  ) {}

  /** One snapshot. @throws the driver's error when the database cannot be read (the scrape then fails). */
  async read(now = Date.now()): Promise<ManagerSnapshot> {
    const em = this.em();
    const repo = new MetricsRepository(em);
    const [actionsInFlight, outbox, vmsByState, servers, usage, pools] = await Promise.all([
      repo.openActions(), repo.outbox(), repo.vmsByState(), repo.servers(), new AllocationRepository(em).usageByServer(), repo.rangeUsage(),
    ]);
    const hosts = servers.map((s): HostSnapshot => {
      const cap = hostCapacity(s, usage.get(s.id) ?? NO_USAGE, this.ratios);
      return {
        host: s.name,
        up: s.available ? 1 : 0,
        schedulable: s.enabled && !s.draining ? 1 : 0,
        vcpus: { total: cap.total?.vcpus ?? null, allocated: cap.used.vcpus },
        memoryBytes: { total: cap.total ? cap.total.memoryMiB * MIB : null, allocated: cap.used.memoryMiB * MIB },
        diskBytes: { total: cap.total ? cap.total.diskMiB * MIB : null, allocated: cap.used.diskMiB * MIB },
        vms: cap.used.vms,
      };
    });
    const oldestAgeSeconds = outbox.oldest ? Math.max(0, (now - outbox.oldest.getTime()) / 1000) : 0;
    return { actionsInFlight, outbox: { rows: outbox.rows, oldestAgeSeconds }, vmsByState, hosts, pools };
  }
}
