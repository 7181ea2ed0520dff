import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A server's subscription to an IPv4 or MAC range: VMs on the server draw addresses from it, in `priority` order. */
@Entity('range_subscription')
@Index(['serverId', 'kind', 'rangeId'], { unique: true })
export class RangeSubscription {
  @PrimaryGeneratedColumn()
  id: number;

  @Column()
  serverId: number;

  @Column({ type: 'varchar', length: 8 })
  kind: 'ipv4' | 'mac';

  @Column()
  rangeId: number;

  @Column({ type: 'integer', default: 0 })
  priority: number;
}
