/**
 * The `geni_sliver` table (docs/geni-v3.md §5.1, decision record 022): GENI slivers by URN, slice, VM and expiry.
 */
import { In, LessThanOrEqual, type EntityManager } from 'typeorm';
import { GeniSliver, type GeniAllocationState } from '../db/entities/geni-sliver.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';

/** A sliver row to insert. */
export type NewGeniSliver = Omit<GeniSliver, 'id' | 'createdAt' | 'updatedAt'>;

/** GENI slivers in the transaction (or plain manager) `em`. */
export class GeniSliverRepository {
  constructor(private readonly em: EntityManager) {}

  /** The sliver with exactly this URN (case-sensitive, §4.2), or null. */
  findByUrn(sliverUrn: string): Promise<GeniSliver | null> {
    return this.em.findOneBy(GeniSliver, { sliverUrn });
  }

  /** The slivers of a slice (exact slice URN), oldest first; `unallocated` ones (being deleted) only with `withDeleted`. */
  async listBySlice(sliceUrn: string, withDeleted = false): Promise<GeniSliver[]> {
    const rows = await this.em.find(GeniSliver, { where: { sliceUrn }, order: { id: 'ASC' } });
    return withDeleted ? rows : rows.filter((r) => r.allocationState !== 'unallocated');
  }

  /** Every sliver, oldest first. */
  list(): Promise<GeniSliver[]> {
    return this.em.find(GeniSliver, { order: { id: 'ASC' } });
  }

  /** Whether the slice already has a sliver with this client_id (any state but `unallocated`). */
  async clientIdTaken(sliceUrn: string, clientId: string): Promise<boolean> {
    const rows = await this.em.findBy(GeniSliver, { sliceUrn, clientId });
    return rows.some((r) => r.allocationState !== 'unallocated');
  }

  /**
   * Allocated or provisioned slivers whose expiry passed, oldest first, at most `take`. `unallocated` ones (being
   * deleted) are not listed: they are the pending sweep's ({@link listPending}), and listing them here let more than
   * `take` stuck deletes starve every newer expiry (issue #11 finding 6).
   */
  listExpired(now: Date, take: number): Promise<GeniSliver[]> {
    return this.em.find(GeniSliver, { where: { expiresAt: LessThanOrEqual(now), allocationState: In(['allocated', 'provisioned']) }, order: { id: 'ASC' }, take });
  }

  /**
   * Slivers the sweep has something to do for: a start or a delete wanted, being deleted, or provisioned with no VM
   * row any more (a failed create not yet recorded, or a VM deleted by another path), oldest first, at most `take`.
   */
  listPending(take: number): Promise<GeniSliver[]> {
    const vmGone = this.em.createQueryBuilder().subQuery().select('1').from(VirtualMachine, 'vm').where('vm.uuid = s.vmUuid').getQuery();
    return this.em
      .createQueryBuilder(GeniSliver, 's')
      .where(`s.startWanted = :t OR s.deleteWanted = :t OR s.allocationState = 'unallocated' OR (s.allocationState = 'provisioned' AND s.failure = '' AND NOT EXISTS ${vmGone})`, { t: true })
      .orderBy('s.id', 'ASC')
      .take(take)
      .getMany();
  }

  async insert(row: NewGeniSliver): Promise<GeniSliver> {
    return this.em.save(GeniSliver, this.em.create(GeniSliver, row));
  }

  async update(id: number, change: Partial<Pick<GeniSliver, 'allocationState' | 'expiresAt' | 'users' | 'createActionId' | 'startWanted' | 'deleteWanted' | 'failure' | 'reservedIp'>>): Promise<void> {
    await this.em.update(GeniSliver, { id }, change);
  }

  /**
   * Moves `id` from state `from` to `to` only if it is still in `from` (a conditional UPDATE: of two concurrent
   * Provisions or sweeps only one wins). Returns whether it moved.
   */
  async transition(id: number, from: GeniAllocationState, to: GeniAllocationState, change: Partial<Pick<GeniSliver, 'createActionId' | 'users' | 'expiresAt' | 'startWanted' | 'deleteWanted'>> = {}): Promise<boolean> {
    const r = await this.em.update(GeniSliver, { id, allocationState: from }, { allocationState: to, ...change });
    return (r.affected ?? 0) > 0;
  }

  async remove(id: number): Promise<void> {
    await this.em.delete(GeniSliver, { id });
  }
}
