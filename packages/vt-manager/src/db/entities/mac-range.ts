import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A MAC address pool (ocf-behaviour.md B1 MacRange). Addresses stored as 48-bit integers. */
@Entity('mac_range')
export class MacRange {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64, unique: true })
  name: string;

  @Column({ type: 'bigint', transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) } })
  startAddress: number;

  @Column({ type: 'bigint', transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) } })
  endAddress: number;
}
