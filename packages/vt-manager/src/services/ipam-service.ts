/**
 * IPAM: IPv4 and MAC allocation from the ranges a server subscribes to (ARCHITECTURE.md decision 7).
 *
 * Taken addresses are rows (`ipv4_slot`, `mac_slot`) with a unique index on the address; free addresses have no
 * row. Allocation is lowest-free-first inside the caller's transaction. A unique-index violation (a concurrent
 * allocator took the same address) is retried with the next free address, so two requests or two managers can
 * never hand out one address.
 *
 * On MySQL/MariaDB the range row is locked first (`SELECT … FOR UPDATE`): allocators of one range, in any manager
 * process, take turns until their transactions end, and (at READ COMMITTED, see TransactionRunner) each sees the
 * slots the previous one committed, so no allocation collides or fails while the range has free addresses
 * (docs/decisions/008). SQLite transactions are serialised already.
 */
import { ConflictError } from '@kvm-crm/shared';
import type { EntityManager, FindOptionsWhere } from 'typeorm';
import { Ipv4Range } from '../db/entities/ipv4-range.js';
import { Ipv4Slot } from '../db/entities/ipv4-slot.js';
import { MacRange } from '../db/entities/mac-range.js';
import { MacSlot } from '../db/entities/mac-slot.js';
import { RangeSubscription } from '../db/entities/range-subscription.js';
import { intToIpv4, intToMac } from './addresses.js';

/** An allocated IPv4 address with its range's network settings. */
export interface Ipv4Lease {
  address: string;
  netmask: string;
  gateway: string | null;
  dns1: string | null;
  dns2: string | null;
}

const MAX_RACE_RETRIES = 20;

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === 'ER_DUP_ENTRY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed|Duplicate entry/i.test(e.message ?? '');
}

/** Lowest address in [start, end] not in `taken` (sorted ascending), or undefined when the range is full. */
export function lowestFree(start: number, end: number, taken: number[]): number | undefined {
  let candidate = start;
  for (const t of taken) {
    if (t < candidate) continue;
    if (t > candidate) break;
    candidate = t + 1;
  }
  return candidate <= end ? candidate : undefined;
}

/** The range row, locked until the transaction ends on MySQL/MariaDB (`FOR UPDATE`); plainly read on SQLite. */
async function lockedRange<R extends Ipv4Range | MacRange>(em: EntityManager, type: new () => R, id: number): Promise<R> {
  const engine = em.connection.options.type;
  const lock = engine === 'mysql' || engine === 'mariadb' ? { mode: 'pessimistic_write' as const } : undefined;
  const range = await em.findOne(type, { where: { id } as FindOptionsWhere<R>, ...(lock ? { lock } : {}) });
  if (!range) throw new Error(`range ${id} vanished during allocation`);
  return range;
}

export class IpamService {
  /**
   * Allocates one IPv4 address for `vmUuid` from the server's subscribed IPv4 ranges (priority order).
   * @throws ConflictError `IPv4 pool exhausted …` when every subscribed range is full, or the server has none.
   */
  async allocateIpv4(em: EntityManager, serverId: number, vmUuid: string): Promise<Ipv4Lease> {
    const subs = await em.find(RangeSubscription, { where: { serverId, kind: 'ipv4' }, order: { priority: 'ASC', id: 'ASC' } });
    if (subs.length === 0) throw new ConflictError('IPv4 pool exhausted: the server subscribes to no IPv4 range');
    for (const sub of subs) {
      const range = await lockedRange(em, Ipv4Range, sub.rangeId);
      const address = await this.allocateIn(em, Ipv4Slot, range, vmUuid);
      if (address !== undefined) {
        return { address: intToIpv4(address), netmask: range.netmask, gateway: range.gateway, dns1: range.dns1, dns2: range.dns2 };
      }
    }
    throw new ConflictError(`IPv4 pool exhausted: no free address in ${subs.length} subscribed range(s)`);
  }

  /**
   * Allocates one MAC address for `vmUuid` from the server's subscribed MAC ranges.
   * @throws ConflictError `MAC pool exhausted …` when all are full or none is subscribed.
   */
  async allocateMac(em: EntityManager, serverId: number, vmUuid: string): Promise<string> {
    const subs = await em.find(RangeSubscription, { where: { serverId, kind: 'mac' }, order: { priority: 'ASC', id: 'ASC' } });
    if (subs.length === 0) throw new ConflictError('MAC pool exhausted: the server subscribes to no MAC range');
    for (const sub of subs) {
      const range = await lockedRange(em, MacRange, sub.rangeId);
      const address = await this.allocateIn(em, MacSlot, range, vmUuid);
      if (address !== undefined) return intToMac(address);
    }
    throw new ConflictError(`MAC pool exhausted: no free address in ${subs.length} subscribed range(s)`);
  }

  /** Releases every IPv4 and MAC address owned by `vmUuid` (idempotent). Returns how many were released. */
  async releaseAll(em: EntityManager, vmUuid: string): Promise<number> {
    const a = await em.delete(Ipv4Slot, { vmUuid });
    const b = await em.delete(MacSlot, { vmUuid });
    return (a.affected ?? 0) + (b.affected ?? 0);
  }

  private async allocateIn(
    em: EntityManager,
    slotType: typeof Ipv4Slot | typeof MacSlot,
    range: { id: number; startAddress: number; endAddress: number },
    vmUuid: string,
  ): Promise<number | undefined> {
    for (let attempt = 0; attempt < MAX_RACE_RETRIES; attempt++) {
      const rows = await em
        .createQueryBuilder(slotType, 's')
        .select('s.address', 'address')
        .where('s.address BETWEEN :a AND :b', { a: range.startAddress, b: range.endAddress })
        .orderBy('s.address', 'ASC')
        .getRawMany<{ address: string | number }>();
      const address = lowestFree(range.startAddress, range.endAddress, rows.map((r) => Number(r.address)));
      if (address === undefined) return undefined;
      try {
        await em.insert(slotType, { rangeId: range.id, address, vmUuid, excluded: false });
        return address;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
    }
    throw new ConflictError('address allocation kept colliding with concurrent requests; try again');
  }
}
