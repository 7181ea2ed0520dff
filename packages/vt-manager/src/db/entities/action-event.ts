import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One step in an action's history: a status change, a re-send, or an operator's verb. Operator verbs
 * (`action.retry|fail|succeed`) are the audit record: who (`operator:<principal>`), when, why.
 */
@Entity('action_event')
export class ActionEvent {
  @PrimaryGeneratedColumn()
  id: number;

  /** The action's uuid (the requester's action id). */
  @Index()
  @Column({ type: 'varchar', length: 64 })
  actionUuid: string;

  @CreateDateColumn()
  at: Date;

  @Column({ type: 'varchar', length: 8, nullable: true })
  fromStatus: string | null;

  @Column({ type: 'varchar', length: 8 })
  toStatus: string;

  /** `principal:<name>`, `agent`, `system`, `manager:<instance>` or `operator:<name>`. */
  @Column({ type: 'varchar', length: 128 })
  who: string;

  @Column({ type: 'varchar', length: 2048, default: '' })
  why: string;
}
