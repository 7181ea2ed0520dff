import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One taken MAC address (allocated or excluded); unique, like {@link Ipv4Slot}. */
@Entity('mac_slot')
export class MacSlot {
  @PrimaryGeneratedColumn()
  id: number;

  @Index()
  @Column()
  rangeId: number;

  @Index({ unique: true })
  @Column({ type: 'bigint', transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) } })
  address: number;

  /** UUID of the VM that owns the address; null for an excluded address. */
  @Index()
  @Column({ type: 'varchar', length: 36, nullable: true })
  vmUuid: string | null;

  @Column({ type: 'boolean', default: false })
  excluded: boolean;
}
