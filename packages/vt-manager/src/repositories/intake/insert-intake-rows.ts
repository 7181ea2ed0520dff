/**
 * Intake operation: store accepted actions, one multi-row INSERT (decision 039).
 */
import type { EntityManager } from 'typeorm';
import { INTAKE_COLUMNS, intakeValues, type IntakeRowInput } from './intake-row.js';

/**
 * `INSERT INTO action_intake (…) VALUES (…), (…) …`: one statement, so either every row is stored or none. Rows are
 * leased to `owner` for `leaseSeconds` (seconds). Returns the new ids, in the order of `rows` (ascending: the arrival
 * order).
 * - SQLite (≥ 3.35): `… RETURNING id`.
 * - MySQL/MariaDB: MySQL has no `RETURNING`, and under `innodb_autoinc_lock_mode = 2` (MySQL 8's default) the ids of
 *   one multi-row INSERT need not be consecutive when other inserts run at once; they do increase in row order. So
 *   the ids are read back: the rows from the statement's first id (`insertId`) on, leased to `owner`, received at
 *   this statement's millisecond. The caller runs one write at a time per owner (IntakeBatcher), so these are exactly
 *   this statement's rows.
 * @throws the driver's error when the statement fails (nothing stored); Error when the ids read back do not match.
 */
export async function insertIntakeRows(em: EntityManager, rows: readonly IntakeRowInput[], owner: string, leaseSeconds: number): Promise<number[]> {
  if (rows.length === 0) return [];
  const now = Date.now();
  const params = rows.flatMap((r) => intakeValues(r, owner, now, now + leaseSeconds * 1000));
  const one = `(${INTAKE_COLUMNS.split(',').map(() => '?').join(', ')})`;
  const insert = `INSERT INTO action_intake (${INTAKE_COLUMNS}) VALUES ${Array(rows.length).fill(one).join(', ')}`;
  const mysql = em.connection.options.type === 'mysql' || em.connection.options.type === 'mariadb';
  let ids: number[];
  if (mysql) {
    const header = (await em.query(insert, params)) as { insertId?: number | string };
    if (header.insertId === undefined) throw new Error('intake insert: the driver returned no insertId');
    const back = (await em.query('SELECT id FROM action_intake WHERE id >= ? AND lease_owner = ? AND received_at = ? ORDER BY id LIMIT ?', [header.insertId, owner, now, rows.length])) as Array<{ id: number | string }>;
    ids = back.map((r) => Number(r.id));
  } else {
    ids = ((await em.query(`${insert} RETURNING id`, params)) as Array<{ id: number | string }>).map((r) => Number(r.id)).sort((a, b) => a - b);
  }
  if (ids.length !== rows.length) throw new Error(`intake insert returned ${ids.length} ids for ${rows.length} rows`);
  return ids;
}
