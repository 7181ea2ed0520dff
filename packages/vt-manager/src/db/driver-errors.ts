/**
 * Recognising database driver errors (better-sqlite3, mysql2, as typeorm passes them on), in one place.
 */

type DriverError = { errno?: number; code?: string; message?: string; driverError?: { errno?: number; code?: string } };

/** Whether `err` is InnoDB's "Deadlock found when trying to get lock" (the transaction was rolled back). */
export function isDeadlock(err: unknown): boolean {
  const e = (err ?? {}) as DriverError;
  return e.errno === 1213 || e.code === 'ER_LOCK_DEADLOCK' || e.driverError?.errno === 1213 || e.driverError?.code === 'ER_LOCK_DEADLOCK';
}

/**
 * Whether `err` is a unique-index violation: SQLite `SQLITE_CONSTRAINT_UNIQUE` ("UNIQUE constraint failed"), MySQL
 * `ER_DUP_ENTRY` ("Duplicate entry"). Callers use it to tell "someone else inserted that row first" from a failure.
 */
export function isUniqueViolation(err: unknown): boolean {
  const e = (err ?? {}) as DriverError;
  if (e.code === 'ER_DUP_ENTRY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE') return true;
  return /UNIQUE constraint failed|Duplicate entry|ER_DUP_ENTRY/i.test(String(e.message ?? err));
}
