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

  /**
   * Next-free cursor (decision 032): every address in [startAddress, nextFree) is taken, so allocation searches from
   * here. Null: the start of the range. Kept by SlotRepository (raised by an allocation, lowered by a release).
   */
  @Column({ ...ADDRESS_COLUMN, nullable: true })
  nextFree: number | null;
}
