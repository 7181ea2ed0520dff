/**
 * Intake operation: is an older accepted action of the same VM still waiting (decision 039, order per VM)?
 */
import type { EntityManager } from 'typeorm';

/**
 * The id of an intake row of VM `vmUuid` that arrived before row `id` and is not admitted yet, or undefined. Such a
 * row exists only when rows of another manager process (one that died, its lease still running) or rows picked up
 * after a restart wait behind newer ones: the newer row must not be admitted first (a start before its create).
 */
export async function findOlderIntakeRow(em: EntityManager, vmUuid: string, id: number): Promise<number | undefined> {
  const rows = (await em.query('SELECT id FROM action_intake WHERE vm_uuid = ? AND id < ? ORDER BY id LIMIT 1', [vmUuid, id])) as Array<{ id: number | string }>;
  return rows[0] === undefined ? undefined : Number(rows[0].id);
}
