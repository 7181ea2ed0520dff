/**
 * The triggers that keep the inventory version (decision 031) and the per-server listing versions (035), and a check that they all exist. A SQLite table
 * rebuild (typeorm's `temporary_` copy, drop, rename, e.g. to change a column) drops the table's triggers without a
 * word, and listResources would then serve a stale document for ever; the manager refuses to start without them
 * (manager-app.ts) and a test checks them after all migrations on both engines.
 */
import type { DataSource } from 'typeorm';

/** The tables whose listed columns the triggers watch (migrations 1796440000000-inventory-version.ts, 1796450000000-server-listing-version.ts). */
export const LISTED_TABLES = ['server', 'server_bridge', 'virtual_machine', 'vm_interface', 'project_owner'] as const;

/**
 * Every trigger name the listing versions need: `inventory_version_<table>_<insert|update|delete>` (031), then the
 * per-server version's `server_version_<table>_<insert|update|delete>` (decision 035; no `server_version_server_delete`:
 * a deleted server leaves the document, its rows stay).
 */
export const LISTING_TRIGGERS: readonly string[] = [
  ...LISTED_TABLES.flatMap((t) => ['insert', 'update', 'delete'].map((w) => `inventory_version_${t}_${w}`)),
  ...LISTED_TABLES.flatMap((t) => ['insert', 'update', 'delete'].map((w) => `server_version_${t}_${w}`)).filter((n) => n !== 'server_version_server_delete'),
];

/**
 * The listing triggers missing from the database of `ds` (SQLite `sqlite_master`; MySQL/MariaDB
 * `information_schema.TRIGGERS` of the current schema), in {@link LISTING_TRIGGERS} order; empty when all exist.
 * @throws the driver's error.
 */
export async function missingListingTriggers(ds: DataSource): Promise<string[]> {
  const type = ds.options.type;
  const sql = type === 'mysql' || type === 'mariadb'
    ? 'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()'
    : "SELECT name FROM sqlite_master WHERE type = 'trigger'";
  const present = new Set(((await ds.query(sql)) as Array<{ name: string }>).map((r) => r.name));
  return LISTING_TRIGGERS.filter((n) => !present.has(n));
}

/**
 * Throws unless every listing trigger exists.
 * @throws Error naming the missing triggers and what to do; the driver's error.
 */
export async function assertListingTriggers(ds: DataSource): Promise<void> {
  const missing = await missingListingTriggers(ds);
  if (missing.length > 0) {
    throw new Error(
      `the database lacks ${missing.length} listing-version trigger(s) (${missing.join(', ')}), so listResources would serve stale documents; ` +
        'a migration that rebuilt a listed table dropped them: it must recreate them (docs/decisions/031, 035)',
    );
  }
}
