import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { ADDRESS_COLUMN } from '../column-types.js';

/** An IPv4 pool (docs/ocf-behaviour.md B1 Ip4Range). Addresses are stored as unsigned 32-bit integers. */
@Entity('ipv4_range')
export class Ipv4Range {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64, unique: true })
  name: string;

  /** First assignable address, inclusive (uint32). */
  @Column(ADDRESS_COLUMN)
  startAddress: number;

  /** Last assignable address, inclusive (uint32). */
  @Column(ADDRESS_COLUMN)
  endAddress: number;

  /**
   * Next-free cursor (decision 032): every address in [startAddress, nextFree) is taken, so allocation searches from
   * here. Null: the start of the range. Kept by SlotRepository (raised by an allocation, lowered by a release).
   */
  @Column({ ...ADDRESS_COLUMN, nullable: true })
  nextFree: number | null;

  /** Dotted netmask, e.g. 255.255.255.0. */
  @Column({ type: 'varchar', length: 15 })
  netmask: string;

  @Column({ type: 'varchar', length: 15, nullable: true })
  gateway: string | null;

  @Column({ type: 'varchar', length: 15, nullable: true })
  dns1: string | null;

  @Column({ type: 'varchar', length: 15, nullable: true })
  dns2: string | null;
}
