/**
 * Intake operation: claim the rows left behind (crash pick-up, decision 039).
 */
import type { EntityManager } from 'typeorm';
import { fromRaw, INTAKE_READ_COLUMNS, type IntakeRow, type RawIntakeRow } from './intake-row.js';

/**
 * Takes the lease of every intake row whose lease expired at `now` (its manager died or fell behind), and, with
 * `ownedToo`, of the rows already leased to `owner` (a restart under the same instance id), for `leaseSeconds`
 * (seconds); then returns the rows it claimed, in id order (arrival order), leaving out `skip` (ids this process
 * already holds in memory). Two statements; run it in one transaction.
 */
export async function claimIntakeRows(em: EntityManager, owner: string, now: Date, leaseSeconds: number, ownedToo: boolean, skip: ReadonlySet<number>): Promise<IntakeRow[]> {
  const until = now.getTime() + leaseSeconds * 1000;
  await em.query(
    `UPDATE action_intake SET lease_owner = ?, lease_expires_at = ? WHERE lease_expires_at < ?${ownedToo ? ' OR lease_owner = ?' : ''}`,
    ownedToo ? [owner, until, now.getTime(), owner] : [owner, until, now.getTime()],
  );
  // Only the rows this call claimed (their lease now ends at `until`), not every row this instance holds: a busy
  // manager may hold thousands, and the sweep runs every few seconds.
  const rows = (await em.query(`SELECT ${INTAKE_READ_COLUMNS} FROM action_intake WHERE lease_owner = ? AND lease_expires_at = ? ORDER BY id`, [owner, until])) as RawIntakeRow[];
  return rows.filter((r) => !skip.has(Number(r.id))).map(fromRaw);
}
