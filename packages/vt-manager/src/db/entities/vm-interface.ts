import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { VirtualMachine } from './virtual-machine.js';

/** A VM NIC: one per server bridge, mgmt first (docs/ocf-behaviour.md B2 step 5). Addresses are copies of the slots'. */
@Entity('vm_interface')
@Index(['vmId', 'name'], { unique: true })
export class VmInterface {
  @PrimaryGeneratedColumn()
  id: number;

  @Column()
  vmId: number;

  @ManyToOne(() => VirtualMachine, (v) => v.interfaces, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'vmId' })
  vm: Relation<VirtualMachine>;

  /** `eth0`, `eth1`… in (mgmt first, bridge order) order. */
  @Column({ type: 'varchar', length: 15 })
  name: string;

  @Column({ type: 'integer' })
  position: number;

  @Column({ type: 'boolean' })
  isMgmt: boolean;

  /** Lower-case colon MAC. */
  @Column({ type: 'varchar', length: 17 })
  mac: string;

  @Column({ type: 'varchar', length: 15, nullable: true })
  ip: string | null;

  @Column({ type: 'varchar', length: 15, nullable: true })
  netmask: string | null;

  @Column({ type: 'varchar', length: 15, nullable: true })
  gateway: string | null;

  @Column({ type: 'varchar', length: 15, nullable: true })
  dns1: string | null;

  @Column({ type: 'varchar', length: 15, nullable: true })
  dns2: string | null;

  /** Host bridge (`switch-id`). */
  @Column({ type: 'varchar', length: 15 })
  bridge: string;
}
