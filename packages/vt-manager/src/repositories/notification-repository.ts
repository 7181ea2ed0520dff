/**
 * The `notification` table (transactional outbox of client status documents).
 */
import { In, LessThanOrEqual, type EntityManager } from 'typeorm';
import { NotificationRecord } from '../db/entities/notification.js';

/** Outbox rows in the transaction (or plain manager) `em`. */
export class NotificationRepository {
  constructor(private readonly em: EntityManager) {}

  /** Stores a delivery, due at `dueAt`. */
  async insert(callbackUrl: string, rspec: string, dueAt: Date): Promise<void> {
    await this.em.insert(NotificationRecord, { callbackUrl, rspec, attempts: 0, nextAttemptAt: dueAt, lastError: '' });
  }

  /** Up to `take` rows, oldest first. */
  listOldest(take: number): Promise<NotificationRecord[]> {
    return this.em.find(NotificationRecord, { order: { id: 'ASC' }, take });
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
