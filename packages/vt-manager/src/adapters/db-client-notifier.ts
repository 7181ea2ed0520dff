/**
 * {@link ClientNotifier} backed by the `notification` table (transactional outbox): a status notification is
 * written in the same transaction as the status change ({@link DbClientNotifier.enqueue}), so a manager crash
 * (kill -9) loses none; rows are delivered from the table, in order per callback URL, with retries, and deleted
 * once the callback acknowledged them. Of several managers on one database only one delivers a row at a time:
 * a manager claims a due row by moving its `nextAttemptAt` forward with a conditional UPDATE.
 *
 * Exactly once, from our side: one row per status (or per message's refusals, coalesced: one row, one retry
 * schedule, its documents sent in order and dropped from the row as they are acknowledged), deleted on acknowledgement. A manager killed after the
 * callback answered and before the DELETE committed delivers that row once more after its claim lapses (the
 * network offers no better); clearinghouses ignore a repeated terminal status for a finished action.
 */
import type { DeliveryMetrics } from '../services/metrics-ports.js';
import { describeError, redactCredentials, type Logger } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { NotificationRecord } from '../db/entities/notification.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { documentsOf, NotificationRepository } from '../repositories/notification-repository.js';
import type { ClientNotifier } from '../services/ports.js';

/** Options of {@link DbClientNotifier}. */
export interface DbNotifierOptions {
  logger: Logger;
  /** Milliseconds between polls of the table (rows of other managers, retries). Default 1000. */
  pollMs?: number;
  /** Seconds a claimed row is reserved for its deliverer before another manager may take it. Default 60. */
  claimSeconds?: number;
  /** First retry delay in seconds, doubled each attempt up to {@link maxRetryDelaySeconds}. Default 1. */
  retryDelaySeconds?: number;
  /** Default 300. */
  maxRetryDelaySeconds?: number;
  /** Attempts after which a row is dropped (logged as an error). Default 100 (≈ 8 h with the defaults). */
  maxAttempts?: number;
  /**
   * Rows delivered per callback URL per pass (docs/security.md "Input limits"): each pass serves every destination
   * with a due row, at most this many rows each, so one principal's backlog cannot starve another's. Default 20.
   */
  rowsPerCallbackPerPass?: number;
  /** Destinations served per pass (those waiting longest first). Default 500. */
  callbacksPerPass?: number;
  /** Told of each failed delivery attempt (decision record 028). Default: counts nothing. */
  metrics?: DeliveryMetrics;
}

/** Delivers one document to one callback (`sendAsync(xml)` over XML-RPC in production). @throws on failure. */
/** One delivery; `principal` is the owner recorded on the outbox row (its callback policy applies), null when none. */
export type Deliver = (callbackUrl: string, rspecXml: string, principal: string | null) => Promise<void>;

/** The outbox notifier: stores status documents with their status change, delivers them from the table. */
export class DbClientNotifier implements ClientNotifier {
  private readonly pending = new Set<Promise<unknown>>();
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly deliver: Deliver,
    private readonly options: DbNotifierOptions,
  ) {}

  /** Starts polling the table (deliveries left by a previous run or another manager, retries). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.wake(), this.options.pollMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  /** Stops polling (a delivery in progress finishes; {@link drain} waits for it). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One row in `em`'s transaction; several documents (a message's refusals) are one row, delivered in order. */
  async enqueue(em: EntityManager, callbackUrl: string, rspecXml: string | readonly string[], meta: { principal?: string } = {}): Promise<void> {
    // One second in the past: MySQL DATETIME keeps whole seconds, the row must be due at once.
    const documents = typeof rspecXml === 'string' ? [rspecXml] : rspecXml;
    await new NotificationRepository(em).insert({ callbackUrl, documents, dueAt: new Date(Date.now() - 1000), principal: meta.principal });
  }

  /** Outside a transaction (monitoring forwards): stores the row, then delivers. */
  sendAsync(callbackUrl: string, rspecXml: string): void {
    const p = this.tx
      .run((em) => this.enqueue(em, callbackUrl, rspecXml))
      .then(() => this.wake())
      .catch((err: unknown) => this.options.logger.error('storing a notification failed', { callback: redactCredentials(callbackUrl), error: describeError(err) }));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  wake(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.deliverDue();
        } catch (err) {
          this.options.logger.error('notification delivery pass failed', { error: describeError(err) });
        }
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** Waits for stores in progress and the delivery pass in progress (and the one they asked for). */
  async drain(): Promise<void> {
    while (this.pending.size > 0 || this.running) {
      await Promise.all([...this.pending]);
      if (this.running) await this.running;
    }
  }

  /**
   * One pass, fair across callback URLs: every destination (URL key) with a due row, the one waiting longest first,
   * gets up to `rowsPerCallbackPerPass` of its oldest rows, in order (a URL whose oldest row is waiting for a retry
   * or is claimed by another manager waits); destinations are served in parallel.
   */
  async deliverDue(now = new Date()): Promise<number> {
    const repo = new NotificationRepository(this.tx.manager);
    const perUrl = this.options.rowsPerCallbackPerPass ?? 20;
    const keys = await repo.dueUrlKeys(now, this.options.callbacksPerPass ?? 500);
    let delivered = 0;
    await Promise.all(
      keys.map(async (key) => {
        // Rows stored before urlKey existed share the key '': they are told apart by their (decrypted) URL.
        const byUrl = new Map<string, NotificationRecord[]>();
        for (const r of await repo.oldestOf(key, perUrl)) byUrl.set(r.callbackUrl, [...(byUrl.get(r.callbackUrl) ?? []), r]);
        for (const [url, list] of byUrl) {
          for (const row of list) {
            if (row.nextAttemptAt.getTime() > now.getTime()) break; // waits for a retry, or another manager has it
            if (!(await this.deliverOne(row, url))) break;
            delivered++;
          }
        }
      }),
    );
    return delivered;
  }

  /** Claims, delivers and deletes one row; false when it was not delivered (claimed elsewhere, or failed). */
  private async deliverOne(row: NotificationRecord, url: string): Promise<boolean> {
    const repo = new NotificationRepository(this.tx.manager);
    const now = new Date();
    if (!(await repo.claim(row.id, now, new Date(now.getTime() + (this.options.claimSeconds ?? 60) * 1000)))) return false;
    const attempt = row.attempts + 1;
    const documents = documentsOf(row);
    let sent = 0;
    try {
      // A coalesced row: its documents in order, one call each (the plugin reads one action per status, §3.3).
      for (const doc of documents) {
        await this.deliver(url, doc, row.principal);
        sent++;
      }
    } catch (err) {
      if (sent > 0) await repo.keepDocuments(row.id, documents.slice(sent));
      const error = describeError(err);
      const max = this.options.maxAttempts ?? 100;
      this.options.metrics?.deliveryFailed(attempt >= max);
      if (attempt >= max) {
        this.options.logger.error('callback delivery given up', { callback: redactCredentials(url), attempts: attempt, error });
        await repo.delete(row.id);
        return true;
      }
      const delay = Math.min((this.options.retryDelaySeconds ?? 1) * 2 ** (attempt - 1), this.options.maxRetryDelaySeconds ?? 300);
      this.options.logger.warn('callback delivery failed', { callback: redactCredentials(url), attempt, retryInSeconds: delay, error });
      await repo.retryAt(row.id, new Date(Date.now() + delay * 1000), error.slice(0, 2048));
      return false;
    }
    await repo.delete(row.id);
    return true;
  }
}
