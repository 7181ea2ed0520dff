import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { ADDRESS_COLUMN } from '../column-types.js';

/** One taken MAC address (allocated or excluded); unique, like {@link Ipv4Slot}. */
@Entity('mac_slot')
export class MacSlot {
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
}
