/**
 * The manager's typeorm DataSource: SQLite (better-sqlite3) by default, MySQL/MariaDB through mysql2.
 *
 * The schema is managed by typeorm migrations (docs/architecture.md decision 8, docs/decisions/008): one list per engine
 * in `migrations/`, applied by {@link openDatabase} at start and by `vt-manager migrate`. `synchronize` is never
 * used; {@link pendingSchemaChanges} reports what the entities expect beyond the migrated schema (a test keeps
 * that empty on both engines).
 */
import 'reflect-metadata';
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { ActionRecord } from './entities/action.js';
import { Ipv4Range } from './entities/ipv4-range.js';
import { Ipv4Slot } from './entities/ipv4-slot.js';
import { MacRange } from './entities/mac-range.js';
import { MacSlot } from './entities/mac-slot.js';
import { RangeSubscription } from './entities/range-subscription.js';
import { ServerBridge } from './entities/server-bridge.js';
import { Server } from './entities/server.js';
import { VirtualMachine } from './entities/virtual-machine.js';
import { VmInterface } from './entities/vm-interface.js';
import { PrincipalRecord } from './entities/principal.js';
import { ProjectOwner } from './entities/project-owner.js';
import { ActionEvent } from './entities/action-event.js';
import { NotificationRecord } from './entities/notification.js';
import { SliceExpiry } from './entities/slice-expiry.js';
import { PrincipalQuota } from './entities/principal-quota.js';
import { CallbackPolicyRecord } from './entities/callback-policy.js';
import { InventoryLock } from './entities/inventory-lock.js';
import { GeniSliver } from './entities/geni-sliver.js';
import { VmMigration } from './entities/vm-migration.js';
import { BackupTarget } from './entities/backup-target.js';
import { InventoryVersion } from './entities/inventory-version.js';
import { MYSQL_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations/index.js';

/** Every entity the manager stores. */
export const ENTITIES = [Server, ServerBridge, Ipv4Range, Ipv4Slot, MacRange, MacSlot, RangeSubscription, VirtualMachine, VmInterface, ActionRecord, PrincipalRecord, ProjectOwner, ActionEvent, NotificationRecord, SliceExpiry, PrincipalQuota, CallbackPolicyRecord, InventoryLock, GeniSliver, VmMigration, BackupTarget, InventoryVersion];

/** The table typeorm records applied migrations in. */
export const MIGRATIONS_TABLE = 'migrations';

/** Database settings (manager config `database`). */
export type DatabaseOptions =
  | { type: 'sqlite'; /** SQLite file path, or `:memory:`. */ path: string }
  | { type: 'mysql'; host: string; port?: number; username: string; password: string; database: string };

/** What {@link openDatabase} does besides connecting. */
export interface OpenDatabaseOptions {
  /** Apply pending migrations (default true). `false` connects to the schema as it is (tools, tests of migrations). */
  migrate?: boolean;
  /** Told the name of every migration applied. */
  onMigration?: (name: string) => void;
}

/** Which server a `mysql` database is: typeorm reads MariaDB's information_schema differently (column defaults). */
export type MysqlFlavour = 'mysql' | 'mariadb';

/** Asks the server (`SELECT VERSION()`) whether it is MariaDB or MySQL. @throws the driver's error. */
export async function detectMysqlFlavour(options: Extract<DatabaseOptions, { type: 'mysql' }>): Promise<MysqlFlavour> {
  const c = await mysql.createConnection({ host: options.host, port: options.port ?? 3306, user: options.username, password: options.password, connectTimeout: 10_000 });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    return /mariadb/i.test(String(rows[0]?.['v'] ?? '')) ? 'mariadb' : 'mysql';
  } finally {
    await c.end();
  }
}

/**
 * Prepared statements typeorm keeps for SQLite (its one query runner's FIFO cache; typeorm's default 100). The
 * manager issues a few hundred distinct statements, so with 100 the intake's were evicted before they came round
 * again and each was prepared anew (`prepare` was ~3 % of the manager's busy time under `send` load; decision 032).
 */
export const SQLITE_STATEMENT_CACHE = 2000;

/**
 * A DataSource for `options`, not yet initialised, with the engine's migrations. MySQL: typeorm driver `flavour`
 * (see {@link detectMysqlFlavour}; {@link openDatabase} asks the server), utf8mb4 connection, dates in UTC (several
 * managers in different time zones agree on deadlines), a pool of 10 connections, no stack trace captured per query,
 * no prepared-statement cache (typeorm does not prepare statements on MySQL).
 */
export function createDataSource(options: DatabaseOptions, flavour: MysqlFlavour = 'mysql'): DataSource {
  if (options.type === 'sqlite') {
    return new DataSource({
      type: 'better-sqlite3', database: options.path, entities: ENTITIES, synchronize: false,
      migrations: SQLITE_MIGRATIONS, migrationsTableName: MIGRATIONS_TABLE, enableWAL: options.path !== ':memory:',
      statementCacheSize: SQLITE_STATEMENT_CACHE,
    });
  }
  return new DataSource({
    type: flavour, host: options.host, port: options.port ?? 3306, username: options.username, password: options.password,
    database: options.database, entities: ENTITIES, synchronize: false, migrations: MYSQL_MIGRATIONS, migrationsTableName: MIGRATIONS_TABLE,
    charset: 'utf8mb4_bin', timezone: 'Z', poolSize: 10,
    // mysql2 captures a stack trace per query by default (4 % of the manager's CPU under `send` load, decision 034);
    // its errors still carry the server's code and message. `maxPreparedStatements`: mysql2 gives every pooled
    // connection a prepared-statement LRU allocated at its full size up front (four 16,000-slot arrays, ~0.5 MiB of
    // V8 heap per connection, ~5 MiB for the pool, live for the process's life); typeorm's MySQL driver sends every
    // statement with `query`, never `execute`, so the cache stays empty: one slot (decision 035, amended).
    extra: { trace: false, maxPreparedStatements: 1 },
  });
}

/**
 * A second, read-only connection to the SQLite file `path` for reads that must see only committed rows (decision
 * 031: listResources). The manager's DataSource has ONE connection shared by every caller, so a plain read there
 * runs inside whatever (group-commit) transaction is open and sees its uncommitted rows. In WAL mode a read
 * transaction on another connection sees the last commit as one snapshot and neither blocks nor is blocked by the
 * writer. Initialised; the caller destroys it.
 * @throws Error when the database is not in WAL mode (the manager's DataSource sets it for every file; `:memory:`
 *   cannot be opened twice); the driver's error when the file cannot be opened.
 */
export async function openSqliteReader(path: string): Promise<DataSource> {
  if (path === ':memory:') throw new Error('an in-memory SQLite database has no second connection');
  const ds = new DataSource({ type: 'better-sqlite3', database: path, readonly: true, entities: ENTITIES, synchronize: false, statementCacheSize: SQLITE_STATEMENT_CACHE });
  await ds.initialize();
  const [row] = (await ds.query('PRAGMA journal_mode')) as Array<{ journal_mode: string }>;
  if (row?.journal_mode !== 'wal') {
    await ds.destroy();
    throw new Error(`SQLite database ${path} is in journal mode ${row?.journal_mode ?? '?'}, not WAL: a reader could not see a committed snapshot beside the writer`);
  }
  return ds;
}

/**
 * Makes sure the SQLite file at `file` exists with mode 0600 before the driver opens it: created 0600 when missing,
 * narrowed to 0600 when group or others may read it (it holds password hashes and sealed secrets; SQLite gives its
 * `-wal` and `-shm` files the database file's mode). `:memory:` is left alone.
 * @throws the file system's error when the file cannot be created or changed.
 */
export function secureSqliteFile(file: string): void {
  if (file === ':memory:') return;
  closeSync(openSync(file, 'a', 0o600));
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
}

/**
 * Opens the database and applies the pending migrations (unless `open.migrate === false`). A SQLite file is made
 * 0600 first ({@link secureSqliteFile}).
 * @throws the driver's error when the database cannot be opened, or a migration's error (the DataSource is closed).
 */
export async function openDatabase(options: DatabaseOptions, open: OpenDatabaseOptions = {}): Promise<DataSource> {
  if (options.type === 'sqlite') secureSqliteFile(options.path);
  const ds = createDataSource(options, options.type === 'mysql' ? await detectMysqlFlavour(options) : undefined);
  await ds.initialize();
  if (open.migrate !== false) {
    try {
      const result = await migrate(ds);
      for (const name of result.applied) open.onMigration?.(name);
    } catch (err) {
      await ds.destroy();
      throw err;
    }
  }
  return ds;
}

/** What {@link migrate} did. */
export interface MigrationResult {
  /** Names of the migrations applied (or recorded, when `adopted`), oldest first. */
  applied: string[];
  /**
   * The database had the tables but no migration history (made by a kvm-crm version that used `synchronize`) and
   * its schema is exactly the entities': the migrations were recorded as applied without running them.
   */
  adopted: boolean;
}

/**
 * The MySQL/MariaDB named lock that serialises the migrations of `database`: `kvmcrm_migrations:` + the database
 * name, cut to MySQL's 64-character limit for lock names (two databases whose names share their first 46
 * characters then share a lock: they migrate one after the other, which is safe).
 */
export function migrationLockName(database: string): string {
  return `kvmcrm_migrations:${database}`.slice(0, 64);
}

/**
 * Applies the pending migrations, each in its own transaction (on MySQL DDL commits implicitly, so a failed
 * migration may leave part of its statements applied: the error names it). On MySQL a named lock
 * (`GET_LOCK('kvmcrm_migrations:<database>')`, {@link migrationLockName}) makes managers that start together on one
 * database migrate one after the other; named locks are server-wide, so the name carries the database and managers
 * of other databases on the same server do not wait for them (SQLite serves one manager per file). A database created by `synchronize` (no migration history) is adopted when its schema is
 * exactly what the entities expect.
 * @throws Error when a database without history differs from the entities, or a migration fails.
 */
export async function migrate(ds: DataSource): Promise<MigrationResult> {
  const run = async (): Promise<MigrationResult> => {
    if (await needsAdoption(ds)) {
      const changes = await pendingSchemaChanges(ds);
      const [first] = changes.up;
      if (first) {
        throw new Error(
          `the database has kvm-crm tables but no ${MIGRATIONS_TABLE} table, and its schema differs from this version's in ` +
            `${changes.up.length} statement(s) (first: ${first.query.slice(0, 200)}); migrate it by hand or start from an empty database`,
        );
      }
      const names = await pendingMigrations(ds);
      await ds.runMigrations({ fake: true });
      return { applied: names, adopted: true };
    }
    return { applied: (await ds.runMigrations({ transaction: 'each' })).map((m) => m.name), adopted: false };
  };
  if (ds.options.type !== 'mysql' && ds.options.type !== 'mariadb') return run();
  const lock = ds.createQueryRunner();
  const name = migrationLockName(String(ds.options.database ?? ''));
  try {
    const [row] = (await lock.query(`SELECT GET_LOCK(?, 120) AS got`, [name])) as Array<{ got: number | string | null }>;
    if (Number(row?.got) !== 1) throw new Error(`another process held the migration lock (${name}) for 120 s`);
    try {
      return await run();
    } finally {
      await lock.query(`SELECT RELEASE_LOCK(?)`, [name]);
    }
  } finally {
    await lock.release();
  }
}

/** True when the database has our tables but no migration history (it was made with `synchronize`). */
async function needsAdoption(ds: DataSource): Promise<boolean> {
  const qr = ds.createQueryRunner();
  try {
    return !(await qr.hasTable(MIGRATIONS_TABLE)) && (await qr.hasTable('server')) && (await qr.hasTable('action'));
  } finally {
    await qr.release();
  }
}

/** Names of the engine's migrations that the database has not applied yet, oldest first. */
export async function pendingMigrations(ds: DataSource): Promise<string[]> {
  const qr = ds.createQueryRunner();
  try {
    const applied = new Set<string>();
    if (await qr.hasTable(MIGRATIONS_TABLE)) {
      for (const r of (await qr.query(`SELECT name FROM ${MIGRATIONS_TABLE}`)) as Array<{ name: string }>) applied.add(r.name);
    }
    return ds.migrations.map((m) => m.name ?? m.constructor.name).filter((n) => !applied.has(n));
  } finally {
    await qr.release();
  }
}

/**
 * The statements typeorm would run to make the database match the entities (empty when the migrations and the
 * entities agree). `down` holds the reverse statements, in the order typeorm produced them.
 */
export async function pendingSchemaChanges(ds: DataSource): Promise<{ up: Array<{ query: string; parameters?: unknown[] }>; down: Array<{ query: string; parameters?: unknown[] }> }> {
  const log = await ds.driver.createSchemaBuilder().log();
  return { up: log.upQueries.map((q) => ({ query: q.query, parameters: q.parameters })), down: log.downQueries.map((q) => ({ query: q.query, parameters: q.parameters })) };
}
