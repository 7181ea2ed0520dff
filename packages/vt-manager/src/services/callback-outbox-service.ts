/**
 * Admin view of the callback outbox (the `notification` table, adapters/db-client-notifier.ts): what is waiting for
 * delivery, how often it failed and why (`vtctl callback list`), and dropping deliveries that will never succeed
 * (`vtctl callback drop`, audit-logged). Callback URLs are shown without their credentials (docs/ocf-protocol.md §1.4).
 */
import { InputError, parsePeerUrl, redactCredentials, type Logger } from '@kvm-crm/shared';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { NotificationRepository } from '../repositories/notification-repository.js';

/** Most rows `list` returns. */
export const MAX_LISTED_DELIVERIES = 1000;
/** Most ids one `drop` takes. */
export const MAX_DROPPED_IDS = 1000;

/** One pending delivery as the admin sees it. */
export interface PendingDelivery {
  id: number;
  /** The callback URL, credentials redacted. */
  url: string;
  attempts: number;
  /** ISO 8601. */
  nextAttemptAt: string;
  /** Empty until a delivery failed. */
  lastError: string;
  /** ISO 8601. */
  createdAt: string;
}

/** Lists and drops pending callback deliveries. */
export class CallbackOutboxService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly log: Logger,
  ) {}

  /** Pending deliveries, oldest first, at most `limit` (1–1000, default 200). @throws InputError for a bad limit. */
  async list(limit = 200): Promise<PendingDelivery[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LISTED_DELIVERIES) throw new InputError(`limit must be 1-${MAX_LISTED_DELIVERIES}`);
    const rows = await new NotificationRepository(this.tx.manager).listForAdmin(limit);
    return rows.map((r) => ({
      id: r.id, url: redactCredentials(r.callbackUrl), attempts: r.attempts, nextAttemptAt: r.nextAttemptAt.toISOString(),
      lastError: r.lastError, createdAt: r.createdAt.toISOString(),
    }));
  }

  /**
   * Drops deliveries by id, or every delivery to `url` (compared without credentials). Returns the ids dropped;
   * logs who dropped what (audit).
   * @throws InputError when neither or both are given, an id is not a positive integer, there are over 1000 ids,
   *   or `url` is not an http(s) URL.
   */
  async drop(input: { ids?: number[]; url?: string }, by: string): Promise<number[]> {
    const ids = input.ids ?? [];
    if ((ids.length > 0) === (input.url !== undefined)) throw new InputError('give ids or url (one of them)');
    if (ids.length > MAX_DROPPED_IDS) throw new InputError(`at most ${MAX_DROPPED_IDS} ids at a time`);
    for (const id of ids) if (!Number.isInteger(id) || id < 1) throw new InputError(`invalid delivery id: ${JSON.stringify(id)}`);
    const dropped = await this.tx.run(async (em) => {
      const repo = new NotificationRepository(em);
      let chosen = ids;
      if (input.url !== undefined) {
        const wanted = parsePeerUrl(input.url).url.toString();
        chosen = (await repo.listUrls()).filter((r) => safeEndpoint(r.callbackUrl) === wanted).map((r) => r.id);
      } else {
        const existing = new Set((await repo.listUrls()).map((r) => r.id));
        chosen = ids.filter((id) => existing.has(id));
      }
      await repo.deleteMany(chosen);
      return chosen;
    });
    this.log.info('callback deliveries dropped', { by, ids: dropped, ...(input.url !== undefined ? { url: redactCredentials(input.url) } : {}) });
    return dropped;
  }
}

/** The URL without credentials, or '' when it does not parse. */
function safeEndpoint(url: string): string {
  try {
    return parsePeerUrl(url).url.toString();
  } catch {
    return '';
  }
}
