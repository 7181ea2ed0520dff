import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Lock rows that serialise inventory changes whose check and write must not interleave across requests and
 * manager processes: `ipv4_range` and `mac_range` (overlap check, then insert). A transaction locks the row first
 * (`SELECT … FOR UPDATE` on MySQL/MariaDB; SQLite transactions are serialised already). Seeded by the migration.
 */
@Entity('inventory_lock')
export class InventoryLock {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  name: string;

  /** Free text for people reading the table. */
  @Column({ type: 'varchar', length: 255, default: '' })
  purpose: string;
}
