/**
 * Lease operation: an operator's retry of a stuck action.
 */
import type { EntityManager } from 'typeorm';
import { ActionRecord, type ActionState } from '../../db/entities/action.js';

/**
 * `UPDATE action SET leaseOwner = :owner, leaseExpiresAt = now + leaseSeconds, deadline = now + timeoutSeconds
 *  WHERE uuid = :actionId AND status = :status`: a new attempt under `owner`'s lease with a fresh deadline, only while
 * the action is still in the status the operator saw. `now` in ms since the epoch. Returns whether it was reset.
 */
export async function resetForRetry(
  em: EntityManager,
  actionId: string,
  status: ActionState,
  owner: string,
  now: number,
  times: { leaseSeconds: number; timeoutSeconds: number },
): Promise<boolean> {
  const r = await em.update(
    ActionRecord,
    { uuid: actionId, status },
    { leaseOwner: owner, leaseExpiresAt: new Date(now + times.leaseSeconds * 1000), deadline: new Date(now + times.timeoutSeconds * 1000) },
  );
  return !!r.affected;
}
