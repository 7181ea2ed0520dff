/**
 * Shared column options for the entities.
 */
import type { ColumnOptions } from 'typeorm';

/**
 * An unsigned integer of up to 48 bits (an IPv4 or MAC address) in a `bigint` column. Drivers return bigint
 * columns as strings (mysql2) or numbers (better-sqlite3); the entity always sees a JS number, which holds
 * 48 bits exactly.
 */
export const ADDRESS_COLUMN: ColumnOptions = {
  type: 'bigint',
  transformer: { to: (v: number) => v, from: (v: string | number | null) => (v === null ? v : Number(v)) },
};
