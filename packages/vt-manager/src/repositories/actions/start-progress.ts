/**
 * Status operation: the agent reported ONGOING.
 */
import type { EntityManager } from 'typeorm';
import { ActionRecord } from '../../db/entities/action.js';

/**
 * `UPDATE action SET status = 'ONGOING', description = :description WHERE uuid = :actionId AND status = 'QUEUED'`:
 * of two managers applying the same status, only one changes the row. Returns whether it did.
 */
export async function startProgress(em: EntityManager, actionId: string, description: string): Promise<boolean> {
  const r = await em.update(ActionRecord, { uuid: actionId, status: 'QUEUED' }, { status: 'ONGOING', description });
  return !!r.affected;
}
