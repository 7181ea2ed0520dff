/**
 * Status operation: an action reaches its terminal status.
 */
import type { EntityManager } from 'typeorm';
import { ActionRecord } from '../../db/entities/action.js';
import { openStatus } from './open-states.js';

/**
 * `UPDATE action SET status = :status, description = :description WHERE uuid = :actionId
 *  AND status IN ('QUEUED','ONGOING')`: a terminal status is applied once, also with several managers on one
 * database. Returns whether this call applied it.
 */
export async function finishOnce(em: EntityManager, actionId: string, status: 'SUCCESS' | 'FAILED', description: string): Promise<boolean> {
  const r = await em.update(ActionRecord, { uuid: actionId, status: openStatus() }, { status, description });
  return !!r.affected;
}
