import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/**
 * GENI allocation states we store (docs/geni-v3.md §5.2): `allocated` (a reservation, no VM yet), `provisioned`
 * (the VM was created through the normal create action), `unallocated` (Delete or expiry issued; the row goes
 * once the VM is gone).
 */
export type GeniAllocationState = 'allocated' | 'provisioned' | 'unallocated';

/**
 * One GENI sliver = one VM (docs/geni-v3.md §5.1, decision record 022). An `allocated` sliver reserves capacity on
 * its server (counted by repositories/allocation-repository.ts like a VM) and its management IPv4 address (an
 * `ipv4_slot` owned by `vmUuid`) until Provision turns it into a VM row of the same uuid, or it expires.
 */
@Entity('geni_sliver')
export class GeniSliver {
  @PrimaryGeneratedColumn()
  id: number;

  /** `urn:publicid:IDN+<auth>:vtam:<server>:<slice-leaf>+sliver+<client_id>` (§4.3); resolved by exact lookup. */
  @Column({ type: 'varchar', length: 512, unique: true })
  sliverUrn: string;

  @Index()
  @Column({ type: 'varchar', length: 512 })
  sliceUrn: string;

  @Column({ type: 'varchar', length: 512 })
  sliceHrn: string;

  /** The request's `client_id`: the VM's name. */
  @Column({ type: 'varchar', length: 64 })
  clientId: string;

  @Index()
  @Column()
  serverId: number;

  @Column({ type: 'varchar', length: 16 })
  allocationState: GeniAllocationState;

  @Index()
  @Column({ type: 'datetime' })
  expiresAt: Date;

  /** Template the VM is created from (resolved from `disk_image`). */
  @Column({ type: 'varchar', length: 64 })
  template: string;

  /** The request's `sliver_type@name`, as sent (recorded only). */
  @Column({ type: 'varchar', length: 64, nullable: true })
  sliverType: string | null;

  @Column({ type: 'integer' })
  memoryMb: number;

  @Column({ type: 'integer' })
  vcpus: number;

  /** System disk size in GiB; null: the template's own size. */
  @Column({ type: 'integer', nullable: true })
  diskGb: number | null;

  /** The management address reserved at Allocate (null when the server has no management bridge). */
  @Column({ type: 'varchar', length: 15, nullable: true })
  reservedIp: string | null;

  /** The `geni_users` given at Provision: JSON `[{"name": "jdoe", "keys": ["ssh-ed25519 …"]}]`; null before. */
  @Column({ type: 'text', nullable: true })
  users: string | null;

  /** The VM's uuid: chosen at Allocate (it owns the reserved address); the VM row exists once provisioned. */
  @Column({ type: 'varchar', length: 36, unique: true })
  vmUuid: string;

  /** The create action issued by Provision. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  createActionId: string | null;

  /** A start is wanted once the create succeeded (autoStartAfterProvision, or geni_start during the create). */
  @Column({ type: 'boolean', default: false })
  startWanted: boolean;

  /** Delete/expiry is wanted: the delete action is issued as soon as the VM is not busy. */
  @Column({ type: 'boolean', default: false })
  deleteWanted: boolean;

  /** The credential owner that allocated the sliver. */
  @Column({ type: 'varchar', length: 512 })
  ownerUrn: string;

  /** Why the sliver failed (create refused or FAILED), shown by `vtctl geni slivers`; '' otherwise. */
  @Column({ type: 'varchar', length: 1024, default: '' })
  failure: string;

  @CreateDateColumn()
  createdAt: Date;

  @UpdateDateColumn()
  updatedAt: Date;
}
