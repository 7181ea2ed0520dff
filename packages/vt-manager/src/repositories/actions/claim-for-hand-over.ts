/**
 * Lease operation: claim a stored action for its hand-over to the agent.
 */
import { MoreThan, type EntityManager } from 'typeorm';
import { ActionRecord } from '../../db/entities/action.js';

/**
 * `UPDATE action SET leaseExpiresAt = now + leaseSeconds, sendAttempts = sendAttempts + 1
 *  WHERE uuid = :actionId AND status = 'QUEUED' AND leaseOwner = :owner AND leaseExpiresAt > now`:
 * renews the lease only while `owner` holds it and it has not expired (of several managers exactly one sends), and
 * counts the send attempt. Returns whether the row was claimed.
 */
export async function claimForHandOver(em: EntityManager, actionId: string, owner: string, now: Date, leaseSeconds: number): Promise<boolean> {
  const r = await em.update(
    ActionRecord,
    { uuid: actionId, status: 'QUEUED', leaseOwner: owner, leaseExpiresAt: MoreThan(now) },
    { leaseExpiresAt: new Date(now.getTime() + leaseSeconds * 1000), sendAttempts: () => 'sendAttempts + 1' },
  );
  return !!r.affected;
}
