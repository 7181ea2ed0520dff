/**
 * Databases for tests (test-only; nothing in production imports this): every DB test runs on SQLite and on
 * MySQL/MariaDB (docs/architecture.md decision 8).
 *
 * The MySQL server comes from `KVMCRM_TEST_MYSQL_URL` (`mysql://user:password@host:port`), else from the settings
 * file that `scripts/setup-mariadb.sh` writes (`$KVMCRM_TEST_MYSQL_CONFIG`, default
 * `/var/lib/kvm-crm-test/mariadb.json`: `{"host","port","username","password"}`). Each test gets a fresh database
 * `kvmcrm_test_<time>_<random>`, dropped when the test ends, passed or failed; databases of runs that were killed
 * are dropped by the next run after {@link STALE_AFTER_MS}.
 *
 * {@link forEachEngine} registers a test once per engine (`[sqlite] …`, `[mysql] …`). When no MySQL server is
 * reachable the `[mysql]` variant fails if `CI` or `KVMCRM_TEST_REQUIRE_MYSQL` is set (scripts/test.sh sets the
 * latter once MariaDB is up), and is skipped with the reason otherwise.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import mysql from 'mysql2/promise';
import type { DataSource } from 'typeorm';
import { openDatabase, type DatabaseOptions, type OpenDatabaseOptions } from '../db/data-source.js';

/** The database engines every DB test runs on. */
export type Engine = 'sqlite' | 'mysql';
export const ENGINES: readonly Engine[] = ['sqlite', 'mysql'];

/** A MySQL/MariaDB server the tests may create `kvmcrm_test_%` databases on. */
export interface MysqlServerSettings {
  host: string;
  port: number;
  username: string;
  password: string;
}

/** Where scripts/setup-mariadb.sh writes the test server's settings (overridden by `$KVMCRM_TEST_MYSQL_CONFIG`). */
export const DEFAULT_SETTINGS_FILE = '/var/lib/kvm-crm-test/mariadb.json';
const DB_PREFIX = 'kvmcrm_test_';
/** Test databases older than this (by the time in their name) are leftovers of a killed run. */
export const STALE_AFTER_MS = 6 * 3600 * 1000;

/**
 * Where the tests' MySQL server is, or why there is none configured.
 * @throws Error when `KVMCRM_TEST_MYSQL_URL` or the settings file is malformed (a broken setup must not pass as "skipped").
 */
export function mysqlTestSettings(): MysqlServerSettings | { missing: string } {
  const url = process.env['KVMCRM_TEST_MYSQL_URL'];
  if (url) {
    const u = new URL(url);
    if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new Error(`KVMCRM_TEST_MYSQL_URL must be mysql://user:password@host:port, got protocol ${u.protocol}`);
    return { host: u.hostname || '127.0.0.1', port: Number(u.port || 3306), username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  }
  const file = process.env['KVMCRM_TEST_MYSQL_CONFIG'] ?? DEFAULT_SETTINGS_FILE;
  if (!existsSync(file)) return { missing: `neither KVMCRM_TEST_MYSQL_URL nor ${file} (written by scripts/setup-mariadb.sh) is there` };
  let s: Partial<MysqlServerSettings>;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as Partial<MysqlServerSettings>;
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  if (typeof s.host !== 'string' || typeof s.username !== 'string' || typeof s.password !== 'string') {
    throw new Error(`${file} must hold {"host","port","username","password"}`);
  }
  return { host: s.host, port: Number(s.port ?? 3306), username: s.username, password: s.password };
}

async function adminConnection(s: MysqlServerSettings): Promise<mysql.Connection> {
  return mysql.createConnection({ host: s.host, port: s.port, user: s.username, password: s.password, connectTimeout: 3000 });
}

let server: Promise<MysqlServerSettings | { missing: string }> | undefined;

/**
 * The tests' MySQL server once it answered (checked once per process; stale test databases are dropped then), or
 * why it cannot be used.
 */
export function mysqlTestServer(): Promise<MysqlServerSettings | { missing: string }> {
  server ??= (async () => {
    const s = mysqlTestSettings();
    if ('missing' in s) return s;
    let c: mysql.Connection;
    try {
      c = await adminConnection(s);
    } catch (err) {
      return { missing: `MySQL at ${s.host}:${s.port} as ${s.username}: ${(err as Error).message}` };
    }
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>(`SHOW DATABASES LIKE 'kvmcrm\\_test\\_%'`);
      for (const r of rows) {
        const name = String(Object.values(r)[0]);
        const born = parseInt(name.slice(DB_PREFIX.length).split('_')[0] ?? '', 36);
        if (Number.isFinite(born) && Date.now() - born > STALE_AFTER_MS) await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      }
    } finally {
      await c.end();
    }
    return s;
  })();
  return server;
}

/** Whether `s` is usable server settings (not the reason there are none). */
export function isServer(s: MysqlServerSettings | { missing: string }): s is MysqlServerSettings {
  return !('missing' in s);
}

/**
 * Creates an empty database `kvmcrm_test_<time>_<random>` (utf8mb4, binary collation) on the tests' server.
 * @throws Error when no server is reachable.
 */
export async function createMysqlTestDatabase(): Promise<{ options: Extract<DatabaseOptions, { type: 'mysql' }>; drop: () => Promise<void> }> {
  const s = await mysqlTestServer();
  if (!isServer(s)) throw new Error(`no MySQL/MariaDB for tests: ${s.missing}`);
  const name = `${DB_PREFIX}${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const c = await adminConnection(s);
  try {
    await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await c.end();
  }
  return {
    options: { type: 'mysql', host: s.host, port: s.port, username: s.username, password: s.password, database: name },
    drop: async () => {
      const d = await adminConnection(s);
      try {
        await d.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await d.end();
      }
    },
  };
}

/**
 * A fresh, migrated database on `engine` (SQLite `:memory:`, or a new MySQL database), closed (and dropped) when
 * test `t` ends, also when it fails.
 */
export async function openTestDatabase(t: Pick<TestContext, 'after'>, engine: Engine, open: OpenDatabaseOptions = {}): Promise<DataSource> {
  if (engine === 'sqlite') {
    const ds = await openDatabase({ type: 'sqlite', path: ':memory:' }, open);
    t.after(() => ds.destroy());
    return ds;
  }
  const db = await createMysqlTestDatabase();
  let ds: DataSource;
  try {
    ds = await openDatabase(db.options, open);
  } catch (err) {
    await db.drop();
    throw err;
  }
  t.after(async () => {
    if (ds.isInitialized) await ds.destroy();
    await db.drop();
  });
  return ds;
}

/**
 * Skips test `t` with the reason, or fails it when `CI` or `KVMCRM_TEST_REQUIRE_MYSQL` is set, when `engine` is
 * MySQL and no server is reachable. Returns false when the test must not go on.
 */
export async function engineAvailable(t: TestContext, engine: Engine): Promise<boolean> {
  if (engine === 'sqlite') return true;
  const s = await mysqlTestServer();
  if (isServer(s)) return true;
  const why = process.env['CI'] ? 'CI is set' : process.env['KVMCRM_TEST_REQUIRE_MYSQL'] ? 'KVMCRM_TEST_REQUIRE_MYSQL is set' : undefined;
  if (why) throw new Error(`MySQL/MariaDB is required (${why}) and is not reachable: ${s.missing}. Run scripts/setup-mariadb.sh or set KVMCRM_TEST_MYSQL_URL.`);
  t.skip(`no MySQL/MariaDB: ${s.missing} (run scripts/setup-mariadb.sh as root)`);
  return false;
}

/**
 * Registers `fn` as one test per engine, named `[sqlite] <name>` and `[mysql] <name>`; see {@link engineAvailable}
 * for the MySQL variant without a server.
 */
export function forEachEngine(name: string, fn: (t: TestContext, engine: Engine) => Promise<void>, options: { timeout?: number } = {}): void {
  for (const engine of ENGINES) {
    test(`[${engine}] ${name}`, options, async (t) => {
      if (!(await engineAvailable(t, engine))) return;
      await fn(t, engine);
    });
  }
}
