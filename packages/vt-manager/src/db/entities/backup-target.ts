import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { Server } from './server.js';

/**
 * A named backup target (`vtctl backup target add`, decision record 026 §3): a folder on the agent hosts that
 * `vtctl vm backup --target NAME` writes to. `serverId` null: the same path on every host (a shared NFS mount);
 * set: the path is on that host only (removing the host forgets the target). The agent still confines every
 * backup to its `backupRoots`; the manager cannot check those when a target is added.
 */
@Entity('backup_target')
export class BackupTarget {
  @PrimaryGeneratedColumn()
  id: number;

  /** Unique; a letter or digit, then letters, digits, `.`, `_`, `-` (at most 64). */
  @Column({ type: 'varchar', length: 64, unique: true })
  name: string;

  /** Absolute, normalised folder on the host(s) (no `..`, no trailing `/`). */
  @Column({ type: 'varchar', length: 1024 })
  path: string;

  /** The host the path is pinned to; null: every host. */
  @Column({ type: 'integer', nullable: true })
  serverId: number | null;

  @ManyToOne(() => Server, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'serverId' })
  server?: Relation<Server> | null;

  @CreateDateColumn()
  createdAt: Date;
}
