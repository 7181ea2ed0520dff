/**
 * Lease operation: claim a stored action for its hand-over to the agent.
 */
import { MoreThan, type EntityManager } from 'typeorm';
import { ActionRecord } from '../../db/entities/action.js';

/**
 * `UPDATE action SET leaseExpiresAt = now + leaseSeconds, sendAttempts = sendAttempts + 1
 *  WHERE uuid = :actionId AND status = 'QUEUED' AND leaseOwner = :owner AND leaseExpiresAt > now`:
 * renews the lease only while `owner` holds it and it has not expired (of several managers exactly one sends), and
 * counts the send attempt. With `firstAttempt`, also `AND sendAttempts = 0`: the intake's hand-over, which waited
 * in the lane (decision 034), must not send an action that the recovery sweep already took over and sent when its
 * lease ran out meanwhile. Returns whether the row was claimed.
 */
export async function claimForHandOver(em: EntityManager, actionId: string, owner: string, now: Date, leaseSeconds: number, firstAttempt = false): Promise<boolean> {
  const r = await em.update(
    ActionRecord,
    { uuid: actionId, status: 'QUEUED', leaseOwner: owner, leaseExpiresAt: MoreThan(now), ...(firstAttempt ? { sendAttempts: 0 } : {}) },
    { leaseExpiresAt: new Date(now.getTime() + leaseSeconds * 1000), sendAttempts: () => 'sendAttempts + 1' },
  );
  return !!r.affected;
}
