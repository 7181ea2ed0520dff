/**
 * The per-principal callback backlog check of `send` (docs/security.md "Input limits", decision 015), with its count
 * cached between sends (decision 034): reading `SUM(documents)` of the principal's outbox rows on every `send` was one
 * more statement on the intake's path for a limit that is far away almost always.
 *
 * Policy: a principal's count is read from the database when it is not cached, when the cached read is older than
 * {@link BACKLOG_CACHE_MS}, or when the cached estimate is at least half the limit (near the limit every check is
 * exact). Between reads the estimate only grows: each action a `send` of the principal took (stored or refused) adds
 * one, as it adds at least one status document to the backlog; deliveries are only seen at the next read. So the
 * cache can make the check stricter (an early exact read), never looser than a read at most
 * {@link BACKLOG_CACHE_MS} old while the backlog was under half the limit.
 */
import { ConflictError } from '@kvm-crm/shared';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { NotificationRepository } from '../../repositories/notification-repository.js';

/** Milliseconds a principal's backlog count read from the database is reused (while under half the limit). */
export const BACKLOG_CACHE_MS = 1000;

/** Most principals kept in the cache; past it the stale entries are dropped. */
const MAX_ENTRIES = 10_000;

interface Entry {
  /** The count read, plus what this process added since. */
  estimate: number;
  /** `performance.now()` of the read, milliseconds. */
  readAt: number;
}

/** Refuses new work of a principal whose callback backlog is full (see the file comment for the caching). */
export class BacklogGuard {
  private readonly cache = new Map<string, Entry>();
  /** Reads under way, shared by concurrent sends of one principal. */
  private readonly reading = new Map<string, Promise<number>>();

  /**
   * @param tx where the outbox is read.
   * @param max the most pending status documents per principal (`maxPendingStatusesPerPrincipal`, ≥ 1).
   */
  constructor(
    private readonly tx: TransactionRunner,
    private readonly max: number,
  ) {}

  /**
   * @throws ConflictError when `principal` has `max` or more statuses its callback has not yet accepted: new work
   *   would only grow a backlog nobody reads. Database errors pass through.
   */
  async assertRoom(principal: string): Promise<void> {
    const cached = this.cache.get(principal);
    const fresh = cached !== undefined && performance.now() - cached.readAt <= BACKLOG_CACHE_MS && cached.estimate * 2 < this.max;
    const pending = fresh ? cached.estimate : await this.read(principal);
    if (pending >= this.max) {
      throw new ConflictError(`callback backlog full: ${pending} statuses for your actions are not yet accepted by your callback (at most ${this.max}); fix the callback, then send again`);
    }
  }

  /** Counts `documents` more status documents for `principal` (a `send` of its took that many actions). */
  added(principal: string, documents: number): void {
    const e = this.cache.get(principal);
    if (e) e.estimate += documents;
  }

  /** The principal's pending status documents, read from the outbox (one read shared by concurrent callers). */
  private read(principal: string): Promise<number> {
    const running = this.reading.get(principal);
    if (running) return running;
    const readAt = performance.now();
    const p = new NotificationRepository(this.tx.manager)
      .pendingDocumentsOf(principal)
      .then((n) => {
        if (this.cache.size >= MAX_ENTRIES) this.dropStale();
        this.cache.set(principal, { estimate: n, readAt });
        return n;
      })
      .finally(() => this.reading.delete(principal));
    this.reading.set(principal, p);
    return p;
  }

  private dropStale(): void {
    const now = performance.now();
    for (const [k, e] of this.cache) if (now - e.readAt > BACKLOG_CACHE_MS) this.cache.delete(k);
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
  }
}
