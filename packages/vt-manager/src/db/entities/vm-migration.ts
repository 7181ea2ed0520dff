import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { ADDRESS_COLUMN } from '../column-types.js';

/** The steps of an offline migration, in order (decision record 025); `rollback` and `done` end it. */
export const MIGRATION_STEPS = ['export', 'accept', 'copy', 'import', 'commit', 'release', 'done', 'rollback'] as const;
export type MigrationStep = (typeof MIGRATION_STEPS)[number];

/**
 * One offline migration (`vtctl vm migrate`, decision record 025): the durable record of its `migrate` action's
 * steps, so a manager that takes the action over after a crash knows how far it got (before `commit`: roll back;
 * from `commit` on: finish). One row per migrate action.
 */
@Entity('vm_migration')
export class VmMigration {
  @PrimaryGeneratedColumn()
  id: number;

  /** The `migrate` action (`action.uuid`). */
  @Column({ type: 'varchar', length: 64, unique: true })
  actionUuid: string;

  @Index()
  @Column({ type: 'varchar', length: 36 })
  vmUuid: string;

  @Column()
  sourceServerId: number;

  @Column()
  targetServerId: number;

  /** Copy a standalone image (`qemu-img convert`) instead of the overlay. */
  @Column({ type: 'boolean', default: false })
  flatten: boolean;

  /** The stop action run first (`--stop`), `''` when the VM was already stopped. */
  @Column({ type: 'varchar', length: 64, default: '' })
  stopActionUuid: string;

  /** The transfer ticket's id (64 hex), set at the export step. */
  @Column({ type: 'varchar', length: 64, default: '' })
  ticketId: string;

  /** The step reached (see {@link MIGRATION_STEPS}). */
  @Column({ type: 'varchar', length: 16 })
  step: MigrationStep;

  /** Bytes of the files to copy, and copied so far (file lengths: thin qcow2 files move their allocated bytes). */
  @Column({ ...ADDRESS_COLUMN, default: 0 })
  totalBytes: number;

  @Column({ ...ADDRESS_COLUMN, default: 0 })
  copiedBytes: number;

  /** When the copy step started and ended (null until then), for the measured figures. */
  @Column({ type: 'datetime', nullable: true })
  copyStartedAt: Date | null;

  @Column({ type: 'datetime', nullable: true })
  copyEndedAt: Date | null;

  @CreateDateColumn()
  createdAt: Date;

  @UpdateDateColumn()
  updatedAt: Date;
}
