import { Column, CreateDateColumn, Entity, Index, OneToMany, PrimaryGeneratedColumn, UpdateDateColumn, type Relation } from 'typeorm';
import { VmInterface } from './vm-interface.js';
import { SEALED } from '../secret-columns.js';

/** Manager VM states, as the clearinghouse shows them (docs/ocf-protocol.md §5.3). */
export type VmState =
  | 'on queue'
  | 'creating...'
  | 'created (stopped)'
  | 'starting...'
  | 'running'
  | 'stopping...'
  | 'stopped'
  | 'rebooting...'
  | 'deleting...'
  | 'failed'
  | 'unknown';

/** A VM, as requested by a clearinghouse (docs/ocf-behaviour.md B1 VirtualMachine / KVMVM). */
@Entity('virtual_machine')
export class VirtualMachine {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 36, unique: true })
  uuid: string;

  @Column({ type: 'varchar', length: 64 })
  name: string;

  @Index()
  @Column()
  serverId: number;

  @Index()
  @Column({ type: 'varchar', length: 64 })
  projectId: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  projectName: string | null;

  @Index()
  @Column({ type: 'varchar', length: 64 })
  sliceId: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  sliceName: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  operatingSystemType: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  operatingSystemVersion: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  operatingSystemDistribution: string | null;

  /** Guest memory in MiB. */
  @Column({ type: 'integer' })
  memoryMb: number;

  /** Virtual CPUs. */
  @Column({ type: 'integer', default: 1 })
  vcpus: number;

  /**
   * System disk size in MiB as requested (OCF `hd-size-mb`, `vtctl vm create --disk`): the agent grows the overlay
   * to it (thin; never shrunk; a template bigger than this fails the create). Null: the template's size.
   */
  @Column({ type: 'integer', nullable: true })
  hdSizeMb: number | null;

  /** The memory in MiB the guest may grow to while it runs (kvm-crm `max-memory-mb`); null: the boot memory. */
  @Column({ type: 'integer', nullable: true })
  maxMemoryMb: number | null;

  /** Sizes in MiB of the extra empty data disks (vdb, vdc, …), as a JSON array; null: none. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  dataDisksMb: string | null;

  /** OpenSSH public keys for the guest's cloud-init (kvm-crm `ssh-keys`), as a JSON array; null: none. */
  @Column({ type: 'text', nullable: true })
  sshKeys: string | null;

  /** Guest login names (OCF `<users>`, `vtctl vm create --user`), as a JSON array; null: none. Passwords are never stored. */
  @Column({ type: 'varchar', length: 1024, nullable: true })
  guestUsers: string | null;

  /** Guest host name for cloud-init (kvm-crm `<hostname>`, a manifest's `hostname`; decision 024); null: the VM name. */
  @Column({ type: 'varchar', length: 253, nullable: true })
  guestHostname: string | null;

  /** Set when a delete that keeps the disk images is stored (`vtctl vm delete --keep-disks`); sent with that delete. */
  @Column({ type: 'boolean', default: false })
  keepDisksOnDelete: boolean;

  /** Template reference, e.g. `kvm-crm-test/kvm-crm-test.qcow2`. */
  @Column({ type: 'varchar', length: 255 })
  hdOriginPath: string;

  @Column({ type: 'varchar', length: 32, default: 'file-image' })
  hdSetupType: string;

  @Column({ type: 'varchar', length: 32, default: 'hvm' })
  virtualizationSetupType: string;

  @Column({ type: 'varchar', length: 24 })
  state: VmState;

  /** Where every status about this VM goes (stored at creation, docs/ocf-protocol.md §9 item 11). Encrypted at rest. */
  @Column({ type: 'varchar', length: 2048, transformer: SEALED })
  callbackUrl: string;

  /** Why the VM is in its state when that is not the result of an action (e.g. `domain vanished from host`). */
  @Column({ type: 'varchar', length: 255, default: '' })
  stateNote: string;

  /** When the manager deletes the VM (a normal delete action, statuses to `callbackUrl`); null: never. */
  @Index()
  @Column({ type: 'datetime', nullable: true })
  expiresAt: Date | null;

  @OneToMany(() => VmInterface, (i) => i.vm, { cascade: true })
  interfaces: Relation<VmInterface[]>;

  @CreateDateColumn()
  createdAt: Date;

  @UpdateDateColumn()
  updatedAt: Date;
}
