/**
 * Intake operation: store accepted actions, one multi-row INSERT (decision 039).
 */
import type { EntityManager } from 'typeorm';
import { INTAKE_COLUMNS, intakeValues, type IntakeRowInput } from './intake-row.js';

/**
 * `INSERT INTO action_intake (…) VALUES (…), (…) … RETURNING id`: one statement, so either every row is stored or
 * none (SQLite ≥ 3.35 and MariaDB ≥ 10.5 return the ids). Rows are leased to `owner` for `leaseSeconds` (seconds).
 * Returns the new ids, in the order of `rows` (ascending: the arrival order).
 * @throws the driver's error when the statement fails (nothing stored).
 */
export async function insertIntakeRows(em: EntityManager, rows: readonly IntakeRowInput[], owner: string, leaseSeconds: number): Promise<number[]> {
  if (rows.length === 0) return [];
  const now = Date.now();
  const params = rows.flatMap((r) => intakeValues(r, owner, now, now + leaseSeconds * 1000));
  const one = `(${INTAKE_COLUMNS.split(',').map(() => '?').join(', ')})`;
  const out = (await em.query(`INSERT INTO action_intake (${INTAKE_COLUMNS}) VALUES ${Array(rows.length).fill(one).join(', ')} RETURNING id`, params)) as Array<{ id: number | string }>;
  if (out.length !== rows.length) throw new Error(`intake insert returned ${out.length} ids for ${rows.length} rows`);
  return out.map((r) => Number(r.id)).sort((a, b) => a - b);
}
