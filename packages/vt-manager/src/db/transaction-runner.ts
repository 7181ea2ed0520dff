/**
 * Runs units of work in DB transactions.
 *
 * SQLite (better-sqlite3) has one connection per DataSource, and typeorm cannot nest or interleave transactions
 * on it, so transactions are queued in-process there; SQLite's database lock serialises other processes. On
 * MySQL every transaction gets its own pooled connection and row locks do the serialising.
 */
import type { DataSource, EntityManager } from 'typeorm';

export class TransactionRunner {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dataSource: DataSource) {}

  /** Runs `work` inside one transaction; commits when it resolves, rolls back and rethrows when it throws. */
  run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (this.dataSource.options.type !== 'better-sqlite3') return this.dataSource.transaction(work);
    const next = this.queue.then(() => this.dataSource.transaction(work));
    this.queue = next.catch(() => undefined);
    return next;
  }
}
