/**
 * Crash proof (docs/architecture.md decision 6), on MariaDB and on SQLite. MariaDB: two vt-manager processes on one database, a legacy OCF agent
 * (test/python/legacy_agent.py, in-memory VMs) and a test clearinghouse. 20 creates are sent to manager A, which is
 * killed with SIGKILL while they are in flight, then restarted. Every action must reach a terminal status, every
 * status must reach the clearinghouse exactly once (except a status A was delivering at the very moment of the kill:
 * acknowledged by the clearinghouse but not yet deleted from the outbox, it is delivered once more), and the
 * addresses must be consistent (one IPv4 and one MAC per surviving VM, none leaked, none shared).
 *
 * SQLite: the same proof with one manager process on a SQLite file (SQLite holds one manager per file, so no manager
 * B); the test reads the file with its own read-only better-sqlite3 connection and the same SQL.
 *
 * The MariaDB variant needs the MariaDB test server (scripts/setup-mariadb.sh, /var/lib/kvm-crm-test/mariadb.json or
 * KVMCRM_TEST_MYSQL_URL); skipped without one unless KVMCRM_TEST_REQUIRE_MYSQL or CI is set.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { connectMysql, createQuery, startManagerProcesses, testDatabaseOrSkip, type ManagerName } from '@kvm-crm/harness';
import { serialiseRspec, parseRspec } from '@kvm-crm/shared';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs SQL against the manager's database, returns the rows. */
type Query = (sql: string) => Promise<Array<Record<string, unknown>>>;

/** What the crash proof needs from a database engine. */
interface CrashEngine {
  /** The `database` section of the manager configuration. */
  database: Record<string, unknown>;
  /** The manager processes to run on the database (the first one migrates and is killed). */
  managers: ManagerName[];
  /** Opens the test's own connection (after the first manager migrated). */
  connect(): Promise<{ query: Query; close(): Promise<void> | void }>;
}

/** Minimal shape of better-sqlite3 used here (the package ships no types). */
interface SqliteDatabase {
  prepare(sql: string): { all(): unknown[] };
  close(): void;
}
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string, options: { readonly: boolean; fileMustExist: boolean }) => SqliteDatabase;

test('kill -9 a manager with 20 creates in flight, restart it: all terminal, each status once, addresses consistent', { timeout: 5 * 60_000 }, async (t) => {
  const db = await testDatabaseOrSkip(t);
  if (!db) return;
  const { settings, database } = db;
  try {
    await crashProof(t, {
      database: database.config,
      managers: ['a', 'b'],
      async connect() {
        const db = await connectMysql(settings, { database: database.name });
        return {
          query: async (sql) => (await db.query<mysql.RowDataPacket[]>(sql))[0] as Array<Record<string, unknown>>,
          close: () => db.end(),
        };
      },
    });
  } finally {
    t.after(() => database.drop()); // after the managers' own clean-up (after-hooks run in registration order)
  }
});

test('SQLite: kill -9 the manager with 20 creates in flight, restart it: all terminal, each status once, addresses consistent', { timeout: 2 * 60_000 }, async (t) => {
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-crash-sqlite-'));
  t.after(() => rm(dbDir, { recursive: true, force: true }));
  const file = path.join(dbDir, 'manager.sqlite');
  await crashProof(t, {
    database: { type: 'sqlite', path: file },
    managers: ['a'],
    connect() {
      const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
      return Promise.resolve({
        query: (sql) => Promise.resolve(db.prepare(sql).all() as Array<Record<string, unknown>>),
        close: () => db.close(),
      });
    },
  });
});

async function crashProof(t: TestContext, engine: CrashEngine): Promise<void> {
  // The legacy agent: 1.5 s of "work" per action, so actions are in flight when the manager is killed.
  const bed = await startManagerProcesses(t, {
    dirPrefix: 'kvmcrm-crash-',
    database: engine.database,
    managers: engine.managers,
    agentDelay: '1.5',
    config: { actionTimeoutSeconds: 25, actionLeaseSeconds: 3 },
  });
  const { clearinghouse } = bed;
  // A first (it migrates), then B (MariaDB only).
  let managerA = await bed.start('a');
  for (const name of engine.managers.slice(1)) await bed.start(name);

  const { serverUuid } = await bed.registerLegacyServer({
    ipv4: { start: '10.77.0.10', end: '10.77.0.59', netmask: '255.255.255.0', gateway: '10.77.0.1', excluded: [] },
    mac: { start: '02:fe:77:00:00:00', end: '02:fe:77:00:00:ff' },
  });

  // 20 creates in one message to A (processed in order: some reach the agent before the kill, some do not).
  const creates = Array.from({ length: 20 }, (_, i) => createQuery({ serverUuid, name: `vm${i}`, template: 'tpl' }));
  const actions = creates.map((c) => parseRspec(c.xml).query!.provisioning!.actions[0]!);
  const xml = serialiseRspec({ query: { provisioning: { actions } } }, { dialect: 'manager' });
  await bed.plugin.a.call('send', [clearinghouse.callbackUrl, xml]);

  const db = await engine.connect();
  t.after(() => db.close());
  const count = async (sql: string): Promise<number> => Number((await db.query(sql))[0]!['n']);
  // Kill A once some (not all) actions reached the agent.
  const killUntil = Date.now() + 30_000;
  while ((await count('SELECT COUNT(*) AS n FROM action WHERE sendAttempts > 0')) < 5) {
    if (Date.now() > killUntil) assert.fail('the actions did not reach the agent');
    await sleep(20);
  }
  managerA.kill('SIGKILL');
  await new Promise((r) => managerA.once('exit', r));
  const atKill = await count('SELECT COUNT(*) AS n FROM action WHERE status IN (\'QUEUED\', \'ONGOING\')');
  // Statuses A was delivering when it died (claimed, not yet deleted): the clearinghouse may have acknowledged one
  // before the kill, and it is delivered once more after A's claim lapses (decision 011: the only duplicate possible).
  const claimed = (await db.query('SELECT rspec FROM notification WHERE attempts > 0')) as Array<{ rspec: string }>;
  const inDeliveryAtKill = new Set(
    claimed.map((r) => {
      const act = parseRspec(r.rspec).response!.provisioning!.actions[0]!;
      return `${act.id}/${act.status}`;
    }),
  );
  t.diagnostic(`statuses in delivery at the kill: ${inDeliveryAtKill.size}`);
  t.diagnostic(`at the kill: ${atKill} of 20 actions not terminal, ${await count('SELECT COUNT(*) AS n FROM action WHERE sendAttempts > 0')} sent`);
  assert.ok(atKill > 0, 'actions were in flight at the kill');
  await sleep(1000);
  managerA = await bed.start('a');

  // Every action terminal (agent report, recovery by a lease take-over, or the deadline sweep) and its statuses
  // delivered from the outbox.
  for (const c of creates) await clearinghouse.waitForTerminal(c.actionId, 120_000, 0);
  const outboxUntil = Date.now() + 30_000;
  while ((await count('SELECT COUNT(*) AS n FROM notification')) > 0) {
    if (Date.now() > outboxUntil) assert.fail('notifications left undelivered');
    await sleep(200);
  }
  await sleep(1500); // a duplicate would show up now
  assert.equal(await count("SELECT COUNT(*) AS n FROM action WHERE status NOT IN ('SUCCESS', 'FAILED')"), 0);

  const rows = (await db.query('SELECT uuid, status FROM action')) as Array<{ uuid: string; status: string }>;
  let succeeded = 0;
  for (const c of creates) {
    const received = clearinghouse.statuses(c.actionId).map((s) => s.status);
    for (const status of new Set(received)) {
      const times = received.filter((s) => s === status).length;
      const allowed = inDeliveryAtKill.has(`${c.actionId}/${status}`) ? 2 : 1;
      assert.ok(times <= allowed, `${c.actionId}: ${status} received ${times} times (${received.join(',')})`);
    }
    const terminal = [...new Set(received.filter((s) => s === 'SUCCESS' || s === 'FAILED'))];
    assert.equal(terminal.length, 1, `${c.actionId}: one terminal outcome, got ${received.join(',')}`);
    const row = rows.find((r) => r.uuid === c.actionId);
    assert.equal(row?.status, terminal[0], 'the client saw the stored outcome');
    if (terminal[0] === 'SUCCESS') succeeded++;
  }
  t.diagnostic(`${succeeded} of 20 creates succeeded; the others failed with a reason`);

  // Addresses: one IPv4 and one MAC per VM that exists, none without a VM, none shared.
  const vms = await count('SELECT COUNT(*) AS n FROM virtual_machine');
  assert.equal(vms, succeeded);
  assert.equal(await count('SELECT COUNT(*) AS n FROM ipv4_slot WHERE vmUuid IS NOT NULL'), vms);
  assert.equal(await count('SELECT COUNT(*) AS n FROM mac_slot WHERE vmUuid IS NOT NULL'), vms);
  assert.equal(await count('SELECT COUNT(*) AS n FROM ipv4_slot s LEFT JOIN virtual_machine v ON v.uuid = s.vmUuid WHERE s.vmUuid IS NOT NULL AND v.id IS NULL'), 0);
  assert.equal(await count('SELECT COUNT(DISTINCT ip) AS n FROM vm_interface WHERE ip IS NOT NULL'), vms);
  assert.equal(await count('SELECT COUNT(DISTINCT mac) AS n FROM vm_interface'), vms);
}
