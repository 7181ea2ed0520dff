import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { SEALED } from '../secret-columns.js';

/**
 * A status document not yet acknowledged by its client callback (transactional outbox): written in the same
 * transaction as the status change, delivered from the table with retries, deleted once the callback answered.
 * `nextAttemptAt` doubles as the delivery lease: a manager claims a due row by moving it forward with a
 * conditional UPDATE, so of several managers only one delivers it at a time.
 */
@Entity('notification')
export class NotificationRecord {
  @PrimaryGeneratedColumn()
  id: number;

  /** Encrypted at rest (it carries the clearinghouse's credentials). */
  @Column({ type: 'varchar', length: 2048, transformer: SEALED })
  callbackUrl: string;

  /**
   * One status document, or (`documents` > 1) a JSON array of documents delivered in order as one row: the refusals
   * of one `send` message are coalesced into one row (docs/decisions/015-quotas-and-intake-limits.md).
   */
  @Column({ type: 'text' })
  rspec: string;

  /** How many status documents the row holds (1, or the coalesced refusals of one message). */
  @Column({ type: 'integer', default: 1 })
  documents: number;

  /** The principal whose action the status is about (its callback backlog is capped); null: not attributed. */
  @Index()
  @Column({ type: 'varchar', length: 100, nullable: true })
  principal: string | null;

  /**
   * SHA-256 (hex) of the callback URL without its credentials: rows are fetched fairly per destination by this key
   * (`callbackUrl` is encrypted and cannot be grouped on). `''` for rows stored before the column existed.
   */
  @Index()
  @Column({ type: 'varchar', length: 64, default: '' })
  urlKey: string;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Index()
  @Column({ type: 'datetime' })
  nextAttemptAt: Date;

  @Column({ type: 'varchar', length: 2048, default: '' })
  lastError: string;

  @CreateDateColumn()
  createdAt: Date;
}
