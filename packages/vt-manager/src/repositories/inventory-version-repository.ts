/**
 * The `inventory_version` table (decision 031): the version of what `listResources` shows, kept by database
 * triggers in the transaction of every listed change (see db/entities/inventory-version.ts). Read only.
 */
import type { EntityManager } from 'typeorm';
import { InventoryVersion } from '../db/entities/inventory-version.js';

/** The inventory version in the transaction (or plain manager) `em`. */
export class InventoryVersionRepository {
  constructor(private readonly em: EntityManager) {}

  /** The current version: the sum of the shards, as a decimal string (it only grows; one indexed read of 16 rows). */
  async current(): Promise<string> {
    const row = await this.em.createQueryBuilder(InventoryVersion, 'v').select('SUM(v.version)', 'version').getRawOne<{ version: string | number | null }>();
    return String(row?.version ?? 0);
  }
}
