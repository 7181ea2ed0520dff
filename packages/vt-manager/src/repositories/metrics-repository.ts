/**
 * The aggregate reads behind the manager's scrape-time gauges (decision record 028): a few GROUP BY / COUNT / MIN
 * SELECTs, bounded by the number of action types, VM states, hosts and address ranges, never by the number of VMs
 * or actions.
 */
import type { EntityManager } from 'typeorm';
import { ActionRecord } from '../db/entities/action.js';
import { Ipv4Range } from '../db/entities/ipv4-range.js';
import { Ipv4Slot } from '../db/entities/ipv4-slot.js';
import { MacRange } from '../db/entities/mac-range.js';
import { MacSlot } from '../db/entities/mac-slot.js';
import { NotificationRecord } from '../db/entities/notification.js';
import { Server } from '../db/entities/server.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';

/** A count per key. */
export interface CountRow<K extends string> {
  key: Record<K, string>;
  count: number;
}

/** One address range with its size and taken (allocated or excluded) addresses. */
export interface RangeUsageRow {
  kind: 'ipv4' | 'mac';
  name: string;
  size: number;
  taken: number;
}

/** Aggregate reads for metrics, in `em` (normally the data source's manager, no transaction). */
export class MetricsRepository {
  constructor(private readonly em: EntityManager) {}

  /** QUEUED and ONGOING actions by type and status. */
  async openActions(): Promise<Array<{ type: string; status: string; count: number }>> {
    const rows = await this.em
      .createQueryBuilder(ActionRecord, 'a')
      .select('a.type', 'type')
      .addSelect('a.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .where("a.status IN ('QUEUED', 'ONGOING')")
      .groupBy('a.type')
      .addGroupBy('a.status')
      .getRawMany<{ type: string; status: string; n: string | number }>();
    return rows.map((r) => ({ type: r.type, status: r.status, count: Number(r.n) }));
  }

  /** Rows in the notification outbox and the creation time of the oldest (null when empty). */
  async outbox(): Promise<{ rows: number; oldest: Date | null }> {
    const r = await this.em
      .createQueryBuilder(NotificationRecord, 'n')
      .select('COUNT(*)', 'n')
      .addSelect('MIN(n.createdAt)', 'oldest')
      .getRawOne<{ n: string | number; oldest: string | Date | null }>();
    const oldest = r?.oldest ? parseDbDate(r.oldest) : null;
    return { rows: Number(r?.n ?? 0), oldest };
  }

  /** VMs by state. */
  async vmsByState(): Promise<Array<{ state: string; count: number }>> {
    const rows = await this.em
      .createQueryBuilder(VirtualMachine, 'vm')
      .select('vm.state', 'state')
      .addSelect('COUNT(*)', 'n')
      .groupBy('vm.state')
      .getRawMany<{ state: string; n: string | number }>();
    return rows.map((r) => ({ state: r.state, count: Number(r.n) }));
  }

  /** Every server with the columns the gauges need (one row per host). */
  servers(): Promise<Array<Pick<Server, 'id' | 'name' | 'available' | 'enabled' | 'draining' | 'cpus' | 'memoryTotalMiB' | 'storageTotalGiB'>>> {
    return this.em.find(Server, { select: { id: true, name: true, available: true, enabled: true, draining: true, cpus: true, memoryTotalMiB: true, storageTotalGiB: true }, order: { name: 'ASC' } });
  }

  /** Every IPv4 and MAC range with its size and its taken addresses (one GROUP BY per kind). */
  async rangeUsage(): Promise<RangeUsageRow[]> {
    const out: RangeUsageRow[] = [];
    for (const [kind, rangeEntity, slotEntity] of [['ipv4', Ipv4Range, Ipv4Slot], ['mac', MacRange, MacSlot]] as const) {
      const ranges = await this.em.createQueryBuilder(rangeEntity, 'r').select(['r.id', 'r.name', 'r.startAddress', 'r.endAddress']).getMany();
      const taken = await this.em
        .createQueryBuilder(slotEntity, 's')
        .select('s.rangeId', 'rangeId')
        .addSelect('COUNT(*)', 'n')
        .groupBy('s.rangeId')
        .getRawMany<{ rangeId: string | number; n: string | number }>();
      const byRange = new Map(taken.map((t) => [Number(t.rangeId), Number(t.n)]));
      for (const r of ranges) out.push({ kind, name: r.name, size: Number(r.endAddress) - Number(r.startAddress) + 1, taken: byRange.get(r.id) ?? 0 });
    }
    return out;
  }
}

/** A DATETIME as the drivers return it from a raw select: a Date (mysql2) or `YYYY-MM-DD HH:MM:SS` in UTC (SQLite). */
function parseDbDate(v: string | Date): Date {
  if (v instanceof Date) return v;
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v.replace(' ', 'T')}Z`);
}
