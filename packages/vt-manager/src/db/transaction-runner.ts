/**
 * Runs units of work in DB transactions.
 *
 * SQLite (better-sqlite3) has one connection per DataSource, and typeorm cannot nest or interleave transactions
 * on it, so transactions are queued in-process there; SQLite's database lock serialises other processes. Units of
 * work that queued up while a transaction ran are then run together in one transaction, each inside its own
 * savepoint (group commit, decision 032): a unit that throws is rolled back to its savepoint alone and rejects; the
 * others resolve only after the shared COMMIT, so each is as durable when its promise resolves as it was with a
 * transaction of its own, and one commit (one WAL sync) serves up to {@link GROUP_COMMIT_MAX} units.
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

/** Most units of work that share one SQLite transaction (see the file comment). */
export const GROUP_COMMIT_MAX = 64;

/** A unit of work waiting for its turn on SQLite. */
interface Queued {
  work: (em: EntityManager) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Runs units of work in transactions on one DataSource (see the file comment for the engines' differences). */
export class TransactionRunner {
  private readonly waiting: Queued[] = [];
  private draining = false;

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
   * On MySQL `work` may run more than once (deadlock retry): it must have no effect outside the database. On SQLite
   * it may share the transaction with other units (each in its own savepoint; see the file comment): it sees their
   * writes, and resolves after the shared commit.
   */
  run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (this.isMysql) return this.runMysql(work);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  /** Runs the waiting units, in arrival order, a group at a time, until none is left (SQLite). */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiting.length > 0) await this.runGroup(this.waiting.splice(0, GROUP_COMMIT_MAX));
    } finally {
      this.draining = false;
    }
  }

  /** One transaction for `group`: a lone unit plainly, several each in a savepoint, settled after the commit. */
  private async runGroup(group: Queued[]): Promise<void> {
    if (group.length === 1) {
      const [one] = group as [Queued];
      await this.dataSource.transaction(one.work).then(one.resolve, one.reject);
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    let aborted: { unit: Queued; error: unknown } | undefined;
    try {
      await this.dataSource.transaction(async (em) => {
        // One name for every unit's savepoint (each is released before the next): three statements in the driver's
        // prepared-statement cache, not three per unit.
        for (const unit of group) {
          await em.query('SAVEPOINT kvmcrm_unit');
          try {
            const value = await unit.work(em);
            await em.query('RELEASE SAVEPOINT kvmcrm_unit');
            outcomes.push({ ok: true, value });
          } catch (error) {
            try {
              await em.query('ROLLBACK TO SAVEPOINT kvmcrm_unit');
              await em.query('RELEASE SAVEPOINT kvmcrm_unit');
            } catch (rollbackError) {
              // SQLite rolled the whole transaction back on the unit's error (SQLITE_FULL, IOERR, …): the savepoint is
              // gone with it. The unit's error is the cause, not "no such savepoint".
              aborted = { unit, error };
              throw rollbackError;
            }
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (err) {
      // The shared transaction failed (COMMIT or a savepoint statement): nothing of the group was stored. When a
      // unit's error aborted it, that unit gets its error and the others one whose cause it is.
      if (!aborted) {
        for (const unit of group) unit.reject(err);
        return;
      }
      const first = aborted;
      const shared = new Error(`the shared transaction was rolled back by the database after a unit failed (${errorText(first.error)}); nothing of the group was stored`, { cause: first.error });
      for (const unit of group) unit.reject(unit === first.unit ? first.error : shared);
      return;
    }
    group.forEach((unit, i) => {
      const o = outcomes[i]!;
      if (o.ok) unit.resolve(o.value);
      else unit.reject(o.error);
    });
  }

  /**
   * One MySQL transaction at READ COMMITTED on a pooled connection. The level is set once per connection for the
   * session (`SET SESSION TRANSACTION ISOLATION LEVEL`, decision 034) instead of before every transaction, which was
   * one more round trip per transaction; code that needs another level names it for its own transaction
   * (information-service.ts: REPEATABLE READ), which does not change the session's.
   */
  private async runMysqlOnce<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const connection = (await runner.connect()) as object;
      if (!readCommittedSessions.has(connection)) {
        await runner.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
        readCommittedSessions.add(connection);
      }
      await runner.startTransaction();
      try {
        const result = await work(runner.manager);
        await runner.commitTransaction();
        return result;
      } catch (err) {
        await runner.rollbackTransaction().catch(() => undefined); // the original error is the one to report
        throw err;
      }
    } finally {
      await runner.release();
    }
  }

  private async runMysql<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runMysqlOnce(work);
      } catch (err) {
        if (!isDeadlock(err) || attempt >= DEADLOCK_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
  }
}

/**
 * The pooled MySQL connections already switched to READ COMMITTED for the session (see
 * {@link TransactionRunner.runMysqlOnce}), by the driver's connection object.
 */
const readCommittedSessions = new WeakSet<object>();

/** The message of `e` (an Error's, else its string form). */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
