/**
 * Taken addresses: `ipv4_slot` and `mac_slot` rows (an allocated or excluded address each; free addresses have no
 * row). The unique index on the address makes a double allocation fail (docs/architecture.md decision 7).
 */
import { In, type EntityManager } from 'typeorm';
import { Ipv4Slot } from '../db/entities/ipv4-slot.js';
import { MacSlot } from '../db/entities/mac-slot.js';
import type { RangeKind } from './range-repository.js';

const ENTITY = { ipv4: Ipv4Slot, mac: MacSlot } as const;
/** Table names for the raw statements of the allocation path (fixed strings, never input). */
const SLOT_TABLE = { ipv4: 'ipv4_slot', mac: 'mac_slot' } as const;
const RANGE_TABLE = { ipv4: 'ipv4_range', mac: 'mac_range' } as const;

/** Address slots in the transaction (or plain manager) `em`. */
export class SlotRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * The lowest free address in [from, end], or undefined when all are taken: one indexed lookup of `from`, then (if
   * taken) one statement that walks the run of taken addresses starting at `from` along the unique index and stops
   * at its first gap (cost: the length of that run, not the number of taken addresses in the range). Raw SQL with
   * `?` placeholders (both engines), prepared and cached by the drivers.
   */
  async firstFreeFrom(kind: RangeKind, from: number, end: number): Promise<number | undefined> {
    if (from > end) return undefined;
    const table = SLOT_TABLE[kind];
    const at = (await this.em.query(`SELECT 1 AS taken FROM ${table} WHERE address = ?`, [from])) as unknown[];
    if (at.length === 0) return from;
    const rows = (await this.em.query(
      // An anti-join, not NOT EXISTS: MariaDB would materialise the subquery (a scan of every slot); as a join both
      // engines walk s along the index and probe t by its unique index (eq_ref), stopping at the first gap.
      `SELECT s.address AS address FROM ${table} s LEFT JOIN ${table} t ON t.address = s.address + 1 WHERE s.address >= ? AND s.address < ? AND t.id IS NULL ORDER BY s.address LIMIT 1`,
      [from, end],
    )) as Array<{ address: string | number }>;
    return rows.length === 0 ? undefined : Number(rows[0]!.address) + 1;
  }

  /**
   * Moves range `rangeId`'s next-free cursor to `next` after an allocation below it (decision 032: every address in
   * [start, nextFree) is taken). The caller holds the range row (RangeRepository.lock).
   */
  async raiseCursor(kind: RangeKind, rangeId: number, next: number): Promise<void> {
    await this.em.query(`UPDATE ${RANGE_TABLE[kind]} SET nextFree = ? WHERE id = ?`, [next, rangeId]);
  }

  /**
   * Lowers range `rangeId`'s next-free cursor to `address` (freed) when it is above it. The range row is locked
   * first and unconditionally (`SELECT … FOR UPDATE` on MySQL/MariaDB; SQLite transactions are serialised already):
   * a conditional `UPDATE … WHERE nextFree > ?` that matches nothing releases the row lock again under READ COMMITTED,
   * and the slot would then be deleted without the range lock, letting an allocator that still sees the slot as taken
   * move the cursor past the freed address (decision 032). Must run before the slot row is deleted (lock order
   * range → slots, as the allocators).
   */
  private async lowerCursor(kind: RangeKind, rangeId: number, address: number): Promise<void> {
    const engine = this.em.connection.options.type;
    const forUpdate = engine === 'mysql' || engine === 'mariadb' ? ' FOR UPDATE' : '';
    const rows = (await this.em.query(`SELECT nextFree AS nextFree FROM ${RANGE_TABLE[kind]} WHERE id = ?${forUpdate}`, [rangeId])) as Array<{ nextFree: string | number | null }>;
    if (rows.length === 0) return; // the range is gone (its slots went with it)
    const next = rows[0]!.nextFree;
    if (next !== null && Number(next) > address) await this.em.query(`UPDATE ${RANGE_TABLE[kind]} SET nextFree = ? WHERE id = ?`, [address, rangeId]);
  }

  /**
   * Takes `address` of range `rangeId` for `vmUuid`.
   * @throws the driver's unique-violation error when the address is taken (see db/driver-errors.ts).
   */
  async allocate(kind: RangeKind, rangeId: number, address: number, vmUuid: string): Promise<void> {
    // updateEntity(false): typeorm would read the new row back on SQLite (one more statement per address).
    await this.em.createQueryBuilder().insert().into(ENTITY[kind]).values({ rangeId, address, vmUuid, excluded: false }).updateEntity(false).execute();
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

  /**
   * Frees an excluded address of range `rangeId` (allocated ones are left alone): locks the range row, lowers its
   * cursor, then deletes the slot. Returns whether it was excluded.
   */
  async include(kind: RangeKind, rangeId: number, address: number): Promise<boolean> {
    await this.lowerCursor(kind, rangeId, address);
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
    // The range rows first, locked unconditionally (lowerCursor), then the slot rows; MAC ranges before IPv4 ranges,
    // as a create locks them (action-store: each NIC's MAC, then its IPv4 address). Another order deadlocks with it.
    for (const kind of ['mac', 'ipv4'] as const) {
      const lowest = (await this.em.query(`SELECT rangeId AS rangeId, MIN(address) AS address FROM ${SLOT_TABLE[kind]} WHERE vmUuid = ? GROUP BY rangeId`, [vmUuid])) as Array<{ rangeId: number; address: string | number }>;
      for (const r of lowest) await this.lowerCursor(kind, Number(r.rangeId), Number(r.address));
    }
    const b = await this.em.delete(MacSlot, { vmUuid });
    const a = await this.em.delete(Ipv4Slot, { vmUuid });
    return (a.affected ?? 0) + (b.affected ?? 0);
  }
}
