import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { ADDRESS_COLUMN } from '../column-types.js';

/**
 * One taken IPv4 address: allocated to a VM NIC, or excluded by the admin (gateway, DNS, reserved). The unique
 * index on `address` makes double allocation impossible, across requests and across manager processes
 * (docs/architecture.md decision 7). Free addresses have no row.
 */
@Entity('ipv4_slot')
export class Ipv4Slot {
  @PrimaryGeneratedColumn()
  id: number;

  @Index()
  @Column()
  rangeId: number;

  @Index({ unique: true })
  @Column(ADDRESS_COLUMN)
  address: number;

  /** UUID of the VM that owns the address; null for an excluded address. */
  @Index()
  @Column({ type: 'varchar', length: 36, nullable: true })
  vmUuid: string | null;

  @Column({ type: 'boolean', default: false })
  excluded: boolean;

  @Column({ type: 'varchar', length: 255, nullable: true })
  comment: string | null;
}
