/**
 * The `slice_expiry` table: when the manager deletes every VM of a slice, who set it, and the sweep's claim.
 */
import { LessThan, type EntityManager } from 'typeorm';
import { SliceExpiry } from '../db/entities/slice-expiry.js';

/** Slice expiries in the transaction (or plain manager) `em`. */
export class SliceExpiryRepository {
  constructor(private readonly em: EntityManager) {}

  /** The slice's expiry row, or null. */
  find(sliceId: string): Promise<SliceExpiry | null> {
    return this.em.findOneBy(SliceExpiry, { sliceId });
  }

  /** Every slice expiry (cleared ones too), by slice id. */
  list(): Promise<SliceExpiry[]> {
    return this.em.find(SliceExpiry, { order: { sliceId: 'ASC' } });
  }

  /** Sets (or clears, `expiresAt` null) the slice's expiry; the next sweep looks at it at `expiresAt`. */
  async set(sliceId: string, row: { expiresAt: Date | null; setBy: string; setAt: Date }): Promise<void> {
    const values = { ...row, nextSweepAt: row.expiresAt };
    if (!(await this.em.update(SliceExpiry, { sliceId }, values)).affected) await this.em.insert(SliceExpiry, { sliceId, ...values });
  }

  /** Up to `take` slices whose expiry and next sweep time are before `now`, oldest first. */
  listDue(now: Date, take: number): Promise<SliceExpiry[]> {
    return this.em.find(SliceExpiry, { where: { nextSweepAt: LessThan(now), expiresAt: LessThan(now) }, order: { id: 'ASC' }, take });
  }

  /**
   * `UPDATE slice_expiry SET nextSweepAt = :next WHERE id = :id AND nextSweepAt < :now`: the sweep's claim (of
   * several managers only one issues the deletes). Returns whether this call claimed it.
   */
  async claimSweep(id: number, now: Date, next: Date): Promise<boolean> {
    return !!(await this.em.update(SliceExpiry, { id, nextSweepAt: LessThan(now) }, { nextSweepAt: next })).affected;
  }

  /** Sets when the sweep looks at the slice again. */
  async sweepAgainAt(id: number, next: Date): Promise<void> {
    await this.em.update(SliceExpiry, { id }, { nextSweepAt: next });
  }
}
