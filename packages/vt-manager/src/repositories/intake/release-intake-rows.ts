/**
 * Intake operation: give rows back to the pick-up (decision 039).
 */
import type { EntityManager } from 'typeorm';

/**
 * Ends the lease of the intake rows `ids` (an empty list: every row leased to `owner`), so that the next pick-up of
 * any manager claims them and admits them in id order. Used for a row that must wait for an older row of its VM, and
 * by a manager that stops (its waiting rows are taken over at once instead of when their lease runs out).
 */
export async function releaseIntakeRows(em: EntityManager, owner: string, ids: readonly number[] = []): Promise<void> {
  if (ids.length > 0) await em.query(`UPDATE action_intake SET lease_expires_at = 0 WHERE lease_owner = ? AND id IN (${ids.map(() => '?').join(', ')})`, [owner, ...ids]);
  else await em.query('UPDATE action_intake SET lease_expires_at = 0 WHERE lease_owner = ?', [owner]);
}
