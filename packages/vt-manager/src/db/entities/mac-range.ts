import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { ADDRESS_COLUMN } from '../column-types.js';

/** A MAC address pool (docs/ocf-behaviour.md B1 MacRange). Addresses stored as 48-bit integers. */
@Entity('mac_range')
export class MacRange {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64, unique: true })
  name: string;

  @Column(ADDRESS_COLUMN)
  startAddress: number;

  @Column(ADDRESS_COLUMN)
  endAddress: number;
}
