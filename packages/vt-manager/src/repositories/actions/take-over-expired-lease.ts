/**
 * Lease operation: take over a QUEUED action whose lease expired.
 */
import { LessThan, type EntityManager } from 'typeorm';
import { ActionRecord } from '../../db/entities/action.js';

/**
 * `UPDATE action SET leaseOwner = :owner, leaseExpiresAt = <until> WHERE uuid = :actionId AND status = 'QUEUED'
 *  AND leaseExpiresAt < :now`: of several managers exactly one takes the action over. `until`: `deadline` (the
 * action is not sent again, e.g. a create whose send had started) or a fresh lease of `leaseSeconds` from the
 * current time (the taker sends it again; the take-over then counts as a send attempt, `sendAttempts + 1`, so the
 * intake lane's first-attempt hand-over of the same action, still waiting behind the intake, no longer claims it:
 * decision 034). Returns whether this call took it.
 */
export async function takeOverExpiredLease(
  em: EntityManager,
  actionId: string,
  owner: string,
  now: Date,
  until: 'deadline' | { leaseSeconds: number },
): Promise<boolean> {
  const r = await em.update(
    ActionRecord,
    { uuid: actionId, status: 'QUEUED', leaseExpiresAt: LessThan(now) },
    until === 'deadline'
      ? { leaseOwner: owner, leaseExpiresAt: () => 'deadline' }
      : { leaseOwner: owner, leaseExpiresAt: new Date(Date.now() + until.leaseSeconds * 1000), sendAttempts: () => 'sendAttempts + 1' },
  );
  return !!r.affected;
}
