import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { SEALED } from '../secret-columns.js';

/** Manager action statuses: QUEUED → ONGOING → SUCCESS | FAILED (docs/architecture.md decision 6). */
export type ActionState = 'QUEUED' | 'ONGOING' | 'SUCCESS' | 'FAILED';

/** A provisioning action requested by a client (docs/ocf-behaviour.md B1 Action), kept as a record with a deadline. */
@Entity('action')
export class ActionRecord {
  @PrimaryGeneratedColumn()
  id: number;

  /** The requester's action id (`<action id>`); unique. */
  @Column({ type: 'varchar', length: 64, unique: true })
  uuid: string;

  /** create, start, stop, hardStop, reboot, delete, modify. */
  @Column({ type: 'varchar', length: 16 })
  type: string;

  @Index()
  @Column({ type: 'varchar', length: 8 })
  status: ActionState;

  /** Reason of a FAILED (or detail of a SUCCESS), ≤ 2048 characters. */
  @Column({ type: 'varchar', length: 2048, default: '' })
  description: string;

  /** The VM the action is about. */
  @Index()
  @Column({ type: 'varchar', length: 36 })
  vmUuid: string;

  /** Callback URL given with the request (used when the VM record is gone or never existed). Encrypted at rest. */
  @Column({ type: 'varchar', length: 2048, transformer: SEALED })
  callbackUrl: string;

  /** modify: the memory (MiB) and vCPUs asked for, applied to the VM record on SUCCESS. */
  @Column({ type: 'integer', nullable: true })
  requestedMemoryMb: number | null;

  @Column({ type: 'integer', nullable: true })
  requestedVcpus: number | null;

  /** create: the disk asked for, in MiB (hd-size-mb plus data disks), counted by the capacity accounting. */
  @Column({ type: 'integer', nullable: true })
  requestedDiskMb: number | null;

  /**
   * create: the placement decision as JSON (services/placement/placement-service.ts `PlacementDecision`): the
   * host chosen, the policy (or `pinned`), and each candidate's free memory for VMs. Null for other actions.
   */
  @Column({ type: 'varchar', length: 2048, nullable: true })
  placement: string | null;

  /** When a non-terminal action is failed for silence. */
  @Column({ type: 'datetime' })
  deadline: Date;

  /**
   * Lease on the hand-over to the agent (several managers on one database): the manager instance that may send
   * the action to the agent, until `leaseExpiresAt`. Taken at insert, renewed/taken over by a conditional UPDATE
   * (only one manager wins); set to the deadline once the agent accepted the action.
   */
  @Column({ type: 'varchar', length: 64, nullable: true })
  leaseOwner: string | null;

  @Index()
  @Column({ type: 'datetime', nullable: true })
  leaseExpiresAt: Date | null;

  /** How many times a manager started sending the action to the agent (a create is never sent twice). */
  @Column({ type: 'integer', default: 0 })
  sendAttempts: number;

  @CreateDateColumn()
  createdAt: Date;

  @UpdateDateColumn()
  updatedAt: Date;
}
