/**
 * Runs units of work in DB transactions.
 *
 * SQLite (better-sqlite3) has one connection per DataSource, and typeorm cannot nest or interleave transactions
 * on it, so transactions are queued in-process there; SQLite's database lock serialises other processes.
 *
 * On MySQL/MariaDB every transaction gets its own pooled connection, runs at READ COMMITTED, and row locks do the
 * serialising (docs/decisions/008): each statement reads the latest committed rows, so work that waited for a
 * row lock (`SELECT … FOR UPDATE`, e.g. the IPAM's range lock) then sees what the previous holder committed.
 * Under InnoDB's default REPEATABLE READ it would keep reading the snapshot taken at its first read, and an
 * allocation retry would pick the same taken address again and again. A transaction that InnoDB aborts as a
 * deadlock victim (errno 1213) is run again, up to {@link DEADLOCK_RETRIES} times.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { isDeadlock } from './driver-errors.js';

/** Re-exported from driver-errors.ts, where the driver errors are recognised. */
export { isDeadlock };

/** How often a MySQL transaction chosen as a deadlock victim is run again before the error is passed on. */
export const DEADLOCK_RETRIES = 3;

/** Runs units of work in transactions on one DataSource (see the file comment for the engines' differences). */
export class TransactionRunner {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dataSource: DataSource) {}

  /** The EntityManager for reads (and single statements) outside a transaction. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  /** Whether the database is MySQL or MariaDB (row locks available), not SQLite. */
  get isMysql(): boolean {
    return this.dataSource.options.type === 'mysql' || this.dataSource.options.type === 'mariadb';
  }

  /**
   * Runs `work` inside one transaction; commits when it resolves, rolls back and rethrows when it throws.
   * On MySQL `work` may run more than once (deadlock retry): it must have no effect outside the database.
   */
  run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (this.isMysql) return this.runMysql(work);
    const next = this.queue.then(() => this.dataSource.transaction(work));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runMysql<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.dataSource.transaction('READ COMMITTED', work);
      } catch (err) {
        if (!isDeadlock(err) || attempt >= DEADLOCK_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
  }
}
