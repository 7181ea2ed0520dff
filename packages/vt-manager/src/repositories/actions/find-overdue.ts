/**
 * Deadline query: the open actions whose deadline passed.
 */
import { LessThan, type EntityManager } from 'typeorm';
import { ActionRecord } from '../../db/entities/action.js';
import { openStatus } from './open-states.js';

/** `SELECT * FROM action WHERE status IN ('QUEUED','ONGOING') AND deadline < :now`: actions to fail for silence. */
export function findOverdue(em: EntityManager, now: Date): Promise<ActionRecord[]> {
  return em.find(ActionRecord, { where: { status: openStatus(), deadline: LessThan(now) } });
}
