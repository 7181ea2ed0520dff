/**
 * Lease query: the QUEUED actions whose manager let the hand-over lease lapse.
 */
import { LessThan, MoreThan, type EntityManager } from 'typeorm';
import { ActionRecord } from '../../db/entities/action.js';

/**
 * `SELECT * FROM action WHERE status = 'QUEUED' AND leaseExpiresAt < :now AND deadline > :now ORDER BY id`: actions
 * stored but never accepted by the agent, whose lease expired before their deadline (their manager died in between).
 */
export function findExpiredLeases(em: EntityManager, now: Date): Promise<ActionRecord[]> {
  return em.find(ActionRecord, { where: { status: 'QUEUED', leaseExpiresAt: LessThan(now), deadline: MoreThan(now) }, order: { id: 'ASC' } });
}
