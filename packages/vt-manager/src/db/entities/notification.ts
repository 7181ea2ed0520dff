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

  @Column({ type: 'text' })
  rspec: string;

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
