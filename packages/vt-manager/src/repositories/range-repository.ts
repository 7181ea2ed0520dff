/**
 * The address pools: `ipv4_range`, `mac_range` and `range_subscription` (which server draws from which range).
 * Addresses are integers (see services/addresses.ts).
 */
import type { EntityManager, FindOptionsWhere } from 'typeorm';
import { Ipv4Range } from '../db/entities/ipv4-range.js';
import { MacRange } from '../db/entities/mac-range.js';
import { RangeSubscription } from '../db/entities/range-subscription.js';
import { InventoryLock } from '../db/entities/inventory-lock.js';
import { Ipv4Slot } from '../db/entities/ipv4-slot.js';
import { MacSlot } from '../db/entities/mac-slot.js';

/** The two kinds of address pool. */
export type RangeKind = 'ipv4' | 'mac';
/** The range row of a kind. */
export type RangeOf<K extends RangeKind> = K extends 'ipv4' ? Ipv4Range : MacRange;

const ENTITY = { ipv4: Ipv4Range, mac: MacRange } as const;

/** Ranges and subscriptions in the transaction (or plain manager) `em`. */
export class RangeRepository {
  constructor(private readonly em: EntityManager) {}

  /** A range of `kind` that shares an address with [start, end], or null. */
  findOverlapping<K extends RangeKind>(kind: K, start: number, end: number): Promise<RangeOf<K> | null> {
    return this.em
      .createQueryBuilder(ENTITY[kind] as new () => RangeOf<K>, 'r')
      .where('r.startAddress <= :end AND r.endAddress >= :start', { start, end })
      .getOne();
  }

  /** The range of `kind` named `name`, or null. */
  findByName<K extends RangeKind>(kind: K, name: string): Promise<RangeOf<K> | null> {
    return this.em.findOneBy(ENTITY[kind] as new () => RangeOf<K>, { name } as FindOptionsWhere<RangeOf<K>>);
  }

  /** Every range of `kind`, by name. */
  list<K extends RangeKind>(kind: K): Promise<Array<RangeOf<K>>> {
    return this.em.find(ENTITY[kind] as new () => RangeOf<K>, { order: { name: 'ASC' } as never });
  }

  /** Stores an IPv4 range; returns it with its id. */
  createIpv4(row: Omit<Ipv4Range, 'id' | 'nextFree'>): Promise<Ipv4Range> {
    return this.em.save(this.em.create(Ipv4Range, row));
  }

  /** Stores a MAC range; returns it with its id. */
  createMac(row: Omit<MacRange, 'id' | 'nextFree'>): Promise<MacRange> {
    return this.em.save(this.em.create(MacRange, row));
  }

  /**
   * The range row, locked until the transaction ends on MySQL/MariaDB (`SELECT … FOR UPDATE`); plainly read on
   * SQLite (its transactions are serialised already).
   * @throws Error when the range is gone.
   */
  async lock<K extends RangeKind>(kind: K, id: number): Promise<RangeOf<K>> {
    const engine = this.em.connection.options.type;
    const lock = engine === 'mysql' || engine === 'mariadb' ? { mode: 'pessimistic_write' as const } : undefined;
    const range = await this.em.findOne(ENTITY[kind] as new () => RangeOf<K>, { where: { id } as FindOptionsWhere<RangeOf<K>>, ...(lock ? { lock } : {}) });
    if (!range) throw new Error(`range ${id} vanished during allocation`);
    return range;
  }

  /**
   * Locks the inventory lock row of `kind`'s ranges until the transaction ends (`SELECT … FOR UPDATE` on
   * MySQL/MariaDB; SQLite transactions are serialised already): adds of ranges of one kind take turns, so an
   * overlap check and its insert are never interleaved with another add's.
   * @throws Error when the lock row is missing (a database not migrated).
   */
  async lockAdds(kind: RangeKind): Promise<void> {
    const engine = this.em.connection.options.type;
    const lock = engine === 'mysql' || engine === 'mariadb' ? { mode: 'pessimistic_write' as const } : undefined;
    const row = await this.em.findOne(InventoryLock, { where: { name: `${kind}_range` }, ...(lock ? { lock } : {}) });
    if (!row) throw new Error(`inventory lock row ${kind}_range is missing: run the migrations`);
  }

  /** Deletes a range (`kind`) with its excluded addresses and subscriptions (the caller checked nothing is allocated). */
  async deleteRange(kind: RangeKind, id: number): Promise<void> {
    await this.em.delete(RangeSubscription, { kind, rangeId: id });
    await this.em.delete(kind === 'ipv4' ? Ipv4Slot : MacSlot, { rangeId: id });
    await this.em.delete(ENTITY[kind], { id });
  }

  /** The servers (ids) subscribed to a range. */
  async subscribers(kind: RangeKind, rangeId: number): Promise<number[]> {
    return (await this.em.findBy(RangeSubscription, { kind, rangeId })).map((s) => s.serverId);
  }

  /** Removes a server's subscription to a range. */
  async unsubscribe(serverId: number, kind: RangeKind, rangeId: number): Promise<void> {
    await this.em.delete(RangeSubscription, { serverId, kind, rangeId });
  }

  /** A server's subscriptions of `kind`, lowest priority first (then oldest). */
  subscriptions(serverId: number, kind: RangeKind): Promise<RangeSubscription[]> {
    return this.em.find(RangeSubscription, { where: { serverId, kind }, order: { priority: 'ASC', id: 'ASC' } });
  }

  /** Whether the server subscribes to the range. */
  async isSubscribed(serverId: number, kind: RangeKind, rangeId: number): Promise<boolean> {
    return !!(await this.em.findOneBy(RangeSubscription, { serverId, kind, rangeId }));
  }

  /** Subscribes the server to the range; returns the subscription. */
  subscribe(serverId: number, kind: RangeKind, rangeId: number, priority: number): Promise<RangeSubscription> {
    return this.em.save(this.em.create(RangeSubscription, { serverId, kind, rangeId, priority }));
  }
}
