/**
 * Intake operation: remove a row at its admission (decision 039).
 */
import type { EntityManager } from 'typeorm';

/**
 * `DELETE FROM action_intake WHERE id = ?`, meant for the transaction that stores the action (or its refusal). Returns
 * whether this call deleted the row: false means another admission (another instance, or this one after a take-over)
 * got it first, and the caller must store nothing for it.
 */
export async function deleteIntakeRow(em: EntityManager, id: number): Promise<boolean> {
  // The query runner's structured result carries the affected rows on both drivers (EntityManager.query only the raw one).
  const runner = em.queryRunner ?? em.connection.createQueryRunner();
  try {
    const r = await runner.query('DELETE FROM action_intake WHERE id = ?', [id], true);
    return r.affected === 1;
  } finally {
    if (runner !== em.queryRunner) await runner.release();
  }
}
