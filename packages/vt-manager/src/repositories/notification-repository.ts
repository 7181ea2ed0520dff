/**
 * The `notification` table (transactional outbox of client status documents).
 */
import { createHash } from 'node:crypto';
import { In, LessThanOrEqual, type EntityManager } from 'typeorm';
import { NotificationRecord } from '../db/entities/notification.js';

/**
 * The fairness key of a callback URL: SHA-256 (hex) of the URL without its user info (the credentials never reach
 * the key).
 */
export function callbackUrlKey(callbackUrl: string): string {
  let bare = callbackUrl;
  try {
    const u = new URL(callbackUrl);
    u.username = '';
    u.password = '';
    bare = u.toString();
  } catch {
    // not a URL: hashed as given
  }
  return createHash('sha256').update(bare).digest('hex');
}

/** What a row to store carries besides its documents. */
export interface NewNotification {
  callbackUrl: string;
  /** One document, or several delivered in order as one row. */
  documents: readonly string[];
  dueAt: Date;
  /** The principal whose backlog the row counts against (undefined: none). */
  principal?: string;
}

/** The documents a row holds, in delivery order. */
export function documentsOf(row: Pick<NotificationRecord, 'rspec' | 'documents'>): string[] {
  return row.documents > 1 ? (JSON.parse(row.rspec) as string[]) : [row.rspec];
}

/** Outbox rows in the transaction (or plain manager) `em`. */
export class NotificationRepository {
  constructor(private readonly em: EntityManager) {}

  /** Stores a delivery of one or more documents, due at `dueAt`. */
  async insert(n: NewNotification): Promise<void> {
    const rspec = n.documents.length === 1 ? (n.documents[0] ?? '') : JSON.stringify(n.documents);
    await this.em.insert(NotificationRecord, {
      callbackUrl: n.callbackUrl, rspec, documents: n.documents.length, principal: n.principal ?? null, urlKey: callbackUrlKey(n.callbackUrl),
      attempts: 0, nextAttemptAt: n.dueAt, lastError: '',
    });
  }

  /** Up to `take` rows, oldest first. */
  listOldest(take: number): Promise<NotificationRecord[]> {
    return this.em.find(NotificationRecord, { order: { id: 'ASC' }, take });
  }

  /**
   * The destinations (URL keys) that have a row due at `now`, the one waiting longest first; at most `take`.
   * `SELECT urlKey FROM notification WHERE nextAttemptAt <= :now GROUP BY urlKey ORDER BY MIN(id) LIMIT :take`.
   */
  async dueUrlKeys(now: Date, take: number): Promise<string[]> {
    const rows = await this.em
      .createQueryBuilder(NotificationRecord, 'n')
      .select('n.urlKey', 'urlKey')
      .where('n.nextAttemptAt <= :now', { now })
      .groupBy('n.urlKey')
      .orderBy('MIN(n.id)', 'ASC')
      .limit(take)
      .getRawMany<{ urlKey: string }>();
    return rows.map((r) => r.urlKey);
  }

  /** The oldest `take` rows of one destination (due or not: order per URL is kept by the caller). */
  oldestOf(urlKey: string, take: number): Promise<NotificationRecord[]> {
    return this.em.find(NotificationRecord, { where: { urlKey }, order: { id: 'ASC' }, take });
  }

  /** Status documents not yet delivered for `principal`'s actions (its callback backlog). */
  async pendingDocumentsOf(principal: string): Promise<number> {
    const r = await this.em
      .createQueryBuilder(NotificationRecord, 'n')
      .select('COALESCE(SUM(n.documents), 0)', 'total')
      .where('n.principal = :principal', { principal })
      .getRawOne<{ total: number | string }>();
    return Number(r?.total ?? 0);
  }

  /**
   * `UPDATE notification SET nextAttemptAt = :until, attempts = attempts + 1 WHERE id = :id AND nextAttemptAt <= :now`:
   * a manager's claim on a due row (of several managers only one delivers it). Returns whether this call claimed it.
   */
  async claim(id: number, now: Date, until: Date): Promise<boolean> {
    return !!(await this.em.update(NotificationRecord, { id, nextAttemptAt: LessThanOrEqual(now) }, { nextAttemptAt: until, attempts: () => 'attempts + 1' })).affected;
  }

  /** Records a failed delivery and when to try again. */
  async retryAt(id: number, next: Date, lastError: string): Promise<void> {
    await this.em.update(NotificationRecord, { id }, { nextAttemptAt: next, lastError });
  }

  /** Keeps only `remaining` (the documents of a coalesced row not yet acknowledged), in order. */
  async keepDocuments(id: number, remaining: readonly string[]): Promise<void> {
    const rspec = remaining.length === 1 ? (remaining[0] ?? '') : JSON.stringify(remaining);
    await this.em.update(NotificationRecord, { id }, { rspec, documents: remaining.length });
  }

  /** Deletes a delivered (or abandoned) row. */
  async delete(id: number): Promise<void> {
    await this.em.delete(NotificationRecord, { id });
  }

  /** Up to `take` rows for `vtctl callback list`, oldest first, without their documents. */
  listForAdmin(take: number): Promise<Array<Pick<NotificationRecord, 'id' | 'callbackUrl' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'createdAt'>>> {
    return this.em.find(NotificationRecord, { select: { id: true, callbackUrl: true, attempts: true, nextAttemptAt: true, lastError: true, createdAt: true }, order: { id: 'ASC' }, take });
  }

  /** Ids and callback URLs of every row (URLs are sealed at rest: matching a URL happens in memory). */
  listUrls(): Promise<Array<Pick<NotificationRecord, 'id' | 'callbackUrl'>>> {
    return this.em.find(NotificationRecord, { select: { id: true, callbackUrl: true }, order: { id: 'ASC' } });
  }

  /** Deletes the rows with these ids; returns how many existed. */
  async deleteMany(ids: number[]): Promise<number> {
    if (ids.length === 0) return 0;
    return (await this.em.delete(NotificationRecord, { id: In(ids) })).affected ?? 0;
  }
}
