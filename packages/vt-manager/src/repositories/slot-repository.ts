/**
 * Taken addresses: `ipv4_slot` and `mac_slot` rows (an allocated or excluded address each; free addresses have no
 * row). The unique index on the address makes a double allocation fail (docs/architecture.md decision 7).
 */
import { In, type EntityManager } from 'typeorm';
import { Ipv4Slot } from '../db/entities/ipv4-slot.js';
import { MacSlot } from '../db/entities/mac-slot.js';
import type { RangeKind } from './range-repository.js';

const ENTITY = { ipv4: Ipv4Slot, mac: MacSlot } as const;

/** Address slots in the transaction (or plain manager) `em`. */
export class SlotRepository {
  constructor(private readonly em: EntityManager) {}

  /** The taken addresses of `kind` in [start, end], ascending. */
  async takenBetween(kind: RangeKind, start: number, end: number): Promise<number[]> {
    const rows = await this.em
      .createQueryBuilder(ENTITY[kind], 's')
      .select('s.address', 'address')
      .where('s.address BETWEEN :a AND :b', { a: start, b: end })
      .orderBy('s.address', 'ASC')
      .getRawMany<{ address: string | number }>();
    return rows.map((r) => Number(r.address));
  }

  /**
   * Takes `address` of range `rangeId` for `vmUuid`.
   * @throws the driver's unique-violation error when the address is taken (see db/driver-errors.ts).
   */
  async allocate(kind: RangeKind, rangeId: number, address: number, vmUuid: string): Promise<void> {
    await this.em.insert(ENTITY[kind], { rangeId, address, vmUuid, excluded: false });
  }

  /** Marks `address` of range `rangeId` as excluded by the admin (never allocated). */
  async exclude(kind: RangeKind, rangeId: number, address: number): Promise<void> {
    if (kind === 'ipv4') await this.em.insert(Ipv4Slot, { rangeId, address, vmUuid: null, excluded: true, comment: 'excluded by admin' });
    else await this.em.insert(MacSlot, { rangeId, address, vmUuid: null, excluded: true });
  }

  /** The slot of `address` (allocated or excluded), or null when the address is free. */
  find(kind: RangeKind, address: number): Promise<{ rangeId: number; vmUuid: string | null; excluded: boolean } | null> {
    return this.em.findOneBy(ENTITY[kind], { address });
  }

  /** Frees an excluded address of range `rangeId` (allocated ones are left alone). Returns whether it was excluded. */
  async include(kind: RangeKind, rangeId: number, address: number): Promise<boolean> {
    return !!(await this.em.delete(ENTITY[kind], { rangeId, address, excluded: true })).affected;
  }

  /** The VMs (uuids) holding allocated addresses of range `rangeId`, at most `take`. */
  async holders(kind: RangeKind, rangeId: number, take = 10): Promise<string[]> {
    const rows = await this.em.find(ENTITY[kind], { where: { rangeId, excluded: false }, order: { address: 'ASC' }, take });
    return [...new Set(rows.map((r) => r.vmUuid ?? '?'))];
  }

  /** Which of `vmUuids` hold allocated addresses of range `rangeId`. */
  async heldBy(kind: RangeKind, rangeId: number, vmUuids: string[]): Promise<string[]> {
    if (vmUuids.length === 0) return [];
    const rows = await this.em.findBy(ENTITY[kind], { rangeId, excluded: false, vmUuid: In(vmUuids) });
    return [...new Set(rows.map((r) => r.vmUuid ?? '?'))];
  }

  /** How many addresses of the range are allocated (`excluded` false) or excluded (`excluded` true). */
  count(kind: RangeKind, rangeId: number, excluded: boolean): Promise<number> {
    return this.em.countBy(ENTITY[kind], { rangeId, excluded });
  }

  /** Releases every IPv4 and MAC address of `vmUuid` (idempotent). Returns how many were released. */
  async releaseAllOf(vmUuid: string): Promise<number> {
    const a = await this.em.delete(Ipv4Slot, { vmUuid });
    const b = await this.em.delete(MacSlot, { vmUuid });
    return (a.affected ?? 0) + (b.affected ?? 0);
  }
}
