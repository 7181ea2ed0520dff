/**
 * Lease operation: once the agent accepted an action, its lease runs until the action's deadline.
 */
import type { EntityManager } from 'typeorm';
import { ActionRecord } from '../../db/entities/action.js';

/**
 * `UPDATE action SET leaseExpiresAt = deadline WHERE uuid = :actionId AND leaseOwner = :owner`: the agent has the
 * action; no manager takes it over before the deadline sweep (which covers a silent agent).
 */
export async function holdLeaseUntilDeadline(em: EntityManager, actionId: string, owner: string): Promise<void> {
  await em.update(ActionRecord, { uuid: actionId, leaseOwner: owner }, { leaseExpiresAt: () => 'deadline' });
}
