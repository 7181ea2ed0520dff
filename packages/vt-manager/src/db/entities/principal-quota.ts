import { Column, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/**
 * A principal's resource quota (docs/decisions/015-quotas-and-intake-limits.md), set with `vtctl user set-quota`:
 * the most VMs, vCPUs, guest memory (MiB) and IPv4 addresses the VMs of the projects it owns may hold together. A
 * null limit is no limit; a principal without a row has no quota at all. Kept apart from `principal`, so config
 * principals (which have no `principal` row) can have a quota too.
 */
@Entity('principal_quota')
export class PrincipalQuota {
  @PrimaryGeneratedColumn()
  id: number;

  /** The principal's name (as in `principal.name` or the config's `users`). */
  @Column({ type: 'varchar', length: 100, unique: true })
  principal: string;

  @Column({ type: 'integer', nullable: true })
  maxVms: number | null;

  @Column({ type: 'integer', nullable: true })
  maxVcpus: number | null;

  @Column({ type: 'integer', nullable: true })
  maxMemoryMib: number | null;

  @Column({ type: 'integer', nullable: true })
  maxAddresses: number | null;

  @UpdateDateColumn()
  updatedAt: Date;
}
