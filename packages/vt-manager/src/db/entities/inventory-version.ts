import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The inventory version (decision 031): a counter in 16 shard rows (0–15), seeded by the migration, that database
 * triggers bump in the same transaction as every change of what `listResources` shows: rows inserted into or
 * deleted from `server`, `server_bridge`, `virtual_machine`, `vm_interface` and `project_owner`, and updates of their
 * listed columns. The version is the sum of the shards; it only grows. A shard is chosen by the changed row's id
 * (`id % 16`), so concurrent writers rarely wait on the same row. Nothing in the code writes it.
 */
@Entity('inventory_version')
export class InventoryVersion {
  @PrimaryColumn({ type: 'integer' })
  shard: number;

  /** Changes counted in this shard. */
  @Column({ type: 'bigint', default: 0 })
  version: string;
}
