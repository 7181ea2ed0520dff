import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * When the manager deletes every VM of a slice (`slice.setExpiry`, docs/ocf-behaviour.md §7): the expiry sweep issues a
 * normal delete action for each of the slice's VMs, and a create in an expired slice is refused. A cleared expiry
 * keeps its row (expiresAt null) so who cleared it, and when, stays on record.
 */
@Entity('slice_expiry')
export class SliceExpiry {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64, unique: true })
  sliceId: string;

  /** null: never (cleared). */
  @Column({ type: 'datetime', nullable: true })
  expiresAt: Date | null;

  /**
   * The sweep's claim: when the sweep next looks at the slice (expiresAt when set; moved forward by the manager that
   * issues the deletes, so of several managers only one does, and VMs whose delete failed are tried again later).
   */
  @Index()
  @Column({ type: 'datetime', nullable: true })
  nextSweepAt: Date | null;

  /** The admin principal who set or cleared the expiry. */
  @Column({ type: 'varchar', length: 100 })
  setBy: string;

  @Column({ type: 'datetime' })
  setAt: Date;
}
