/**
 * The MariaDB (or MySQL) test server of the multi-process e2e tests: where it is (scripts/setup-mariadb.sh writes
 * its settings), connections to it, and a fresh database per test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';

/** Where the test server is and who the tests are on it. */
export interface MysqlSettings {
  host: string;
  port: number;
  username: string;
  password: string;
}

/**
 * The test server: `KVMCRM_TEST_MYSQL_URL` (`mysql://user:password@host:port`), else the settings file
 * (`$KVMCRM_TEST_MYSQL_CONFIG`, default `/var/lib/kvm-crm-test/mariadb.json`); or, as a string, why there is none.
 */
export function mysqlSettings(): MysqlSettings | string {
  const url = process.env['KVMCRM_TEST_MYSQL_URL'];
  if (url) {
    const u = new URL(url);
    return { host: u.hostname || '127.0.0.1', port: Number(u.port || 3306), username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  }
  const file = process.env['KVMCRM_TEST_MYSQL_CONFIG'] ?? '/var/lib/kvm-crm-test/mariadb.json';
  if (!existsSync(file)) return `no ${file} (scripts/setup-mariadb.sh)`;
  const s = JSON.parse(readFileSync(file, 'utf8')) as MysqlSettings;
  return { ...s, port: Number(s.port ?? 3306) };
}

/** A connection to the test server, to `options.database` when given (else none selected). */
export function connectMysql(settings: MysqlSettings, options: { database?: string; connectTimeout?: number } = {}): Promise<mysql.Connection> {
  return mysql.createConnection({ host: settings.host, port: settings.port, user: settings.username, password: settings.password, ...options });
}

/** A database made by {@link createTestDatabase}. */
export interface TestDatabase {
  /** `kvmcrm_test_<time>_<random>`. */
  name: string;
  /** The `database` section of a manager configuration that uses it. */
  config: { type: 'mysql'; host: string; port: number; username: string; password: string; database: string };
  /** Drops the database and closes the connection it was made on (errors ignored: this runs in clean-ups). */
  drop(): Promise<void>;
}

/**
 * Creates an empty database (utf8mb4, binary collation) on `admin`, a connection to the server of `settings`; its
 * `drop()` also closes `admin`. @throws the server's error (`admin` closed then).
 */
export async function createTestDatabase(admin: mysql.Connection, settings: MysqlSettings): Promise<TestDatabase> {
  const name = `kvmcrm_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } catch (err) {
    await admin.end().catch(() => undefined);
    throw err;
  }
  return {
    name,
    config: { type: 'mysql', host: settings.host, port: settings.port, username: settings.username, password: settings.password, database: name },
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
      await admin.end().catch(() => undefined);
    },
  };
}

/** What {@link testDatabaseOrSkip} gives a test that may run. */
export interface TestDatabaseOnServer {
  settings: MysqlSettings;
  database: TestDatabase;
}

/**
 * The opening of a MariaDB test: a fresh database on the test server. The caller drops it with
 * `t.after(() => database.drop())` registered once whatever uses the database has registered its own clean-up
 * (node:test runs after-hooks in the order they were registered: the managers must be stopped before the drop).
 * Without a reachable server the test is skipped and `undefined` returned, unless `CI` or
 * `KVMCRM_TEST_REQUIRE_MYSQL` is set: then it fails with the reason.
 * @throws AssertionError (through node:assert) when the server is required and missing; the server's error when
 *   the database cannot be created (the connection is closed then).
 */
export async function testDatabaseOrSkip(t: { skip(message?: string): void }): Promise<TestDatabaseOnServer | undefined> {
  const settings = mysqlSettings();
  let admin: mysql.Connection | undefined;
  let why = typeof settings === 'string' ? settings : '';
  if (typeof settings !== 'string') {
    try {
      admin = await connectMysql(settings, { connectTimeout: 3000 });
    } catch (err) {
      why = `MySQL at ${settings.host}:${settings.port} as ${settings.username}: ${(err as Error).message}`;
    }
  }
  if (typeof settings === 'string' || !admin) {
    if (process.env['CI'] || process.env['KVMCRM_TEST_REQUIRE_MYSQL']) assert.fail(`MySQL/MariaDB is required and is not reachable: ${why}`);
    t.skip(`no MySQL/MariaDB: ${why} (run scripts/setup-mariadb.sh as root)`);
    return undefined;
  }
  return { settings, database: await createTestDatabase(admin, settings) };
}
