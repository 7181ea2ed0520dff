/**
 * Schema migrations, on SQLite and on MySQL/MariaDB (a fresh database per test, see testing/test-databases.ts): the
 * migrated schema is exactly what the entities expect (an entity changed without a migration fails here), the
 * migrations apply once, revert, and apply again, concurrent managers migrate once, the unique constraints the
 * domain needs exist, and `vt-manager migrate` applies and reports.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createDataSource, detectMysqlFlavour, migrate, migrationLockName, MIGRATIONS_TABLE, openDatabase, pendingMigrations, pendingSchemaChanges, type DatabaseOptions } from '../../dist/db/data-source.js';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { Ipv4Slot } from '../../dist/db/entities/ipv4-slot.js';
import { MacSlot } from '../../dist/db/entities/mac-slot.js';
import { ProjectOwner } from '../../dist/db/entities/project-owner.js';
import { PrincipalRecord } from '../../dist/db/entities/principal.js';
import { Server } from '../../dist/db/entities/server.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { MYSQL_MIGRATIONS, SQLITE_MIGRATIONS } from '../../dist/db/migrations/index.js';
import { createMysqlTestDatabase, engineAvailable, forEachEngine, openTestDatabase, type Engine } from '../../dist/testing/test-databases.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const run = promisify(execFile);

async function tables(ds: DataSource): Promise<string[]> {
  const rows = (await ds.query(
    ds.options.type !== 'better-sqlite3'
      ? 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME'
      : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  )) as Array<{ name: string }>;
  return rows.map((r) => r.name);
}

const ALL_TABLES = [
  'action', 'action_event', 'callback_policy', 'geni_sliver', 'inventory_lock', 'ipv4_range', 'ipv4_slot', 'mac_range', 'mac_slot', MIGRATIONS_TABLE, 'notification', 'principal', 'principal_quota', 'project_owner', 'range_subscription', 'server',
  'server_bridge', 'slice_expiry', 'virtual_machine', 'vm_interface',
  'vm_migration',
  'backup_target',
  'inventory_version',
  'server_listing_version',
  'action_intake',
].sort();

/** A database options object for a fresh, empty (unmigrated) database on `engine`; removed when `t` ends. */
async function emptyDatabase(t: { after: (fn: () => Promise<void> | void) => void }, engine: Engine): Promise<DatabaseOptions> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'kvmcrm-migrate-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return { type: 'sqlite', path: join(dir, 'manager.sqlite') };
  }
  const db = await createMysqlTestDatabase();
  t.after(db.drop);
  return db.options;
}

forEachEngine('the migrated schema is exactly what the entities expect: typeorm finds nothing to change', async (t, engine) => {
  const ds = await openTestDatabase(t, engine);
  const changes = await pendingSchemaChanges(ds);
  assert.deepEqual(changes.up.map((q) => q.query), [], 'an entity changed without a migration: run make-migration.js (docs/decisions/008)');
  assert.deepEqual(await pendingMigrations(ds), []);
  assert.deepEqual(await tables(ds), ALL_TABLES);
  const applied = (await ds.query(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)) as Array<{ name: string }>;
  const expected = (engine === 'sqlite' ? SQLITE_MIGRATIONS : MYSQL_MIGRATIONS).map((m) => new m().name);
  assert.deepEqual(applied.map((r) => r.name), expected);
});

forEachEngine('migrations apply once, revert to an empty schema, and apply again', async (t, engine) => {
  const options = await emptyDatabase(t, engine);
  const ds = await openDatabase(options, { migrate: false });
  t.after(() => (ds.isInitialized ? ds.destroy() : undefined));
  assert.deepEqual(await tables(ds), [], 'nothing before the first migration');
  const all = (engine === 'sqlite' ? SQLITE_MIGRATIONS : MYSQL_MIGRATIONS).map((m) => new m().name);
  assert.deepEqual(await pendingMigrations(ds), all);
  assert.deepEqual((await migrate(ds)).applied, all);
  assert.deepEqual((await migrate(ds)).applied, [], 'a second run applies nothing');
  for (let i = 0; i < all.length; i++) await ds.undoLastMigration({ transaction: 'each' });
  assert.deepEqual(await tables(ds), [MIGRATIONS_TABLE], 'down removes every table it created');
  assert.deepEqual((await migrate(ds)).applied, all, 'and up works again after down');
  assert.deepEqual((await pendingSchemaChanges(ds)).up, []);
  await ds.destroy();

  // openDatabase migrates by default and reports what it applied; a reopen applies nothing.
  const seen: string[] = [];
  const again = await openDatabase(options, { onMigration: (n) => seen.push(n) });
  await again.destroy();
  assert.deepEqual(seen, []);
});

forEachEngine('openDatabase on an empty database applies every migration and says so', async (t, engine) => {
  const options = await emptyDatabase(t, engine);
  const seen: string[] = [];
  const ds = await openDatabase(options, { onMigration: (n) => seen.push(n) });
  t.after(() => ds.destroy());
  assert.deepEqual(seen, (engine === 'sqlite' ? SQLITE_MIGRATIONS : MYSQL_MIGRATIONS).map((m) => new m().name));
  assert.equal(ds.options.synchronize, false, 'never synchronize');
});

// SQLite serves one manager per file; several managers share a MySQL database (docs/architecture.md decision 8).
test('[mysql] three managers starting together on one database migrate it once (GET_LOCK)', async (t) => {
  if (!(await engineAvailable(t, 'mysql'))) return;
  const engine: Engine = 'mysql';
  const options = await emptyDatabase(t, engine);
  assert.equal(options.type, 'mysql');
  const flavour = await detectMysqlFlavour(options as Extract<DatabaseOptions, { type: 'mysql' }>);
  const sources = [createDataSource(options, flavour), createDataSource(options, flavour), createDataSource(options, flavour)];
  t.after(async () => {
    for (const s of sources) if (s.isInitialized) await s.destroy();
  });
  for (const s of sources) await s.initialize();
  const results = await Promise.all(sources.map((s) => migrate(s)));
  const all = MYSQL_MIGRATIONS.map((m) => new m().name);
  assert.deepEqual(results.flatMap((r) => r.applied).sort(), [...all].sort(), 'every migration applied exactly once in total');
  const rows = (await sources[0]!.query(`SELECT name FROM ${MIGRATIONS_TABLE}`)) as unknown[];
  assert.equal(rows.length, all.length);
});

// Named locks are server-wide: the lock carries the database, so managers of another database are not held up.
test('[mysql] the migration lock is per database: a held lock of database B holds B\'s migration, not A\'s', async (t) => {
  if (!(await engineAvailable(t, 'mysql'))) return;
  const [a, b] = [await emptyDatabase(t, 'mysql'), await emptyDatabase(t, 'mysql')] as Array<Extract<DatabaseOptions, { type: 'mysql' }>>;
  const flavour = await detectMysqlFlavour(a!);
  const [dsA, dsB, holder] = [createDataSource(a!, flavour), createDataSource(b!, flavour), createDataSource(a!, flavour)];
  t.after(async () => {
    for (const s of [dsA, dsB, holder]) if (s.isInitialized) await s.destroy();
  });
  for (const s of [dsA, dsB, holder]) await s.initialize();
  const side = holder.createQueryRunner();
  t.after(() => side.release());
  const [got] = (await side.query('SELECT GET_LOCK(?, 0) AS got', [migrationLockName(b!.database)])) as Array<{ got: number | string }>;
  assert.equal(Number(got!.got), 1, 'the side connection holds B\'s lock');
  let bDone = false;
  const migratingB = migrate(dsB).finally(() => (bDone = true));
  const resultA = await migrate(dsA);
  assert.ok(resultA.applied.length > 0, 'A migrated while B\'s lock was held');
  assert.equal(bDone, false, 'B waits for its lock');
  const tablesB = (await dsB.query('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [b!.database, MIGRATIONS_TABLE])) as Array<{ n: number | string }>;
  assert.equal(Number(tablesB[0]!.n), 0, 'nothing of B migrated yet');
  await side.query('SELECT RELEASE_LOCK(?)', [migrationLockName(b!.database)]);
  assert.deepEqual((await migratingB).applied, resultA.applied, 'B migrates once its lock is free');
});

test('the migration lock name carries the database and stays within MySQL\'s 64 characters', () => {
  assert.equal(migrationLockName('kvmcrm'), 'kvmcrm_migrations:kvmcrm');
  assert.equal(migrationLockName('d'.repeat(64)).length, 64);
});

forEachEngine('the database itself refuses a second owner of an address, a duplicate action id, VM uuid, server name or uuid', async (t, engine) => {
  const ds = await openTestDatabase(t, engine);
  const m = ds.manager;
  const dup = /UNIQUE constraint failed|Duplicate entry/;
  await m.insert(Ipv4Slot, { rangeId: 1, address: 167772161, vmUuid: randomUUID(), excluded: false });
  await assert.rejects(m.insert(Ipv4Slot, { rangeId: 1, address: 167772161, vmUuid: randomUUID(), excluded: false }), dup);
  await assert.rejects(m.insert(Ipv4Slot, { rangeId: 2, address: 167772161, vmUuid: null, excluded: true }), dup, 'not even as an excluded address');
  await m.insert(MacSlot, { rangeId: 1, address: 0x02000a000001, vmUuid: randomUUID(), excluded: false });
  await assert.rejects(m.insert(MacSlot, { rangeId: 1, address: 0x02000a000001, vmUuid: randomUUID(), excluded: false }), dup);
  const action = () => ({ uuid: 'a-1', type: 'create', status: 'QUEUED' as const, description: '', vmUuid: randomUUID(), callbackUrl: 'https://x/', deadline: new Date() });
  await m.insert(ActionRecord, action());
  await assert.rejects(m.insert(ActionRecord, action()), dup);
  // (insert() writes the generated id into the object it is given: every call gets its own object.)
  const serverUuid = randomUUID();
  const server = (over: Partial<Server> = {}) => ({ uuid: serverUuid, name: 'host1', agentUrl: 'https://h/', agentPassword: 'pw', ...over });
  await m.insert(Server, server());
  await assert.rejects(m.insert(Server, server({ uuid: randomUUID() })), dup, 'server name');
  await assert.rejects(m.insert(Server, server({ name: 'host2' })), dup, 'server uuid');
  await m.insert(Server, server({ uuid: randomUUID(), name: 'HOST1' })); // names compare case-sensitively on both engines
  const vmUuid = randomUUID();
  const vm = (name: string) => ({
    uuid: vmUuid, name, serverId: 1, projectId: 'p', sliceId: 's', memoryMb: 128, hdOriginPath: 't', state: 'on queue' as const, callbackUrl: 'https://x/',
  });
  await m.insert(VirtualMachine, vm('vm'));
  await assert.rejects(m.insert(VirtualMachine, vm('other')), dup);
  await m.insert(ProjectOwner, { projectId: 'p', principal: 'alice' });
  await assert.rejects(m.insert(ProjectOwner, { projectId: 'p', principal: 'mallory' }), dup);
  await m.insert(PrincipalRecord, { name: 'alice', roles: 'admin', passwordScrypt: null });
  await assert.rejects(m.insert(PrincipalRecord, { name: 'alice', roles: 'clearinghouse', passwordScrypt: null }), dup);
});

forEachEngine('a database made by synchronize (the previous version) is adopted: migrations recorded, data kept; a drifted one is refused', async (t, engine) => {
  const options = await emptyDatabase(t, engine);
  const flavour = options.type === 'mysql' ? await detectMysqlFlavour(options) : undefined;
  const old = createDataSource(options, flavour);
  old.setOptions({ synchronize: true, migrations: [] });
  await old.initialize();
  await old.manager.insert(PrincipalRecord, { name: 'kept', roles: 'admin', passwordScrypt: null });
  await old.destroy();
  const all = (engine === 'sqlite' ? SQLITE_MIGRATIONS : MYSQL_MIGRATIONS).map((m) => new m().name);
  const ds = await openDatabase(options, { migrate: false });
  t.after(() => (ds.isInitialized ? ds.destroy() : undefined));
  assert.deepEqual(await migrate(ds), { applied: all, adopted: true });
  assert.deepEqual(await migrate(ds), { applied: [], adopted: false });
  assert.equal((await ds.manager.findOneByOrFail(PrincipalRecord, { name: 'kept' })).roles, 'admin');

  // Drift: no history and a schema that is not the entities' → refused with the reason, nothing recorded.
  await ds.query(`DROP TABLE ${MIGRATIONS_TABLE}`);
  await ds.query(engine === 'sqlite' ? 'ALTER TABLE "principal" ADD COLUMN "extra" integer' : 'ALTER TABLE `principal` ADD `extra` int NULL');
  await assert.rejects(migrate(ds), /no migrations table, and its schema differs from this version's in \d+ statement\(s\)/);
  assert.equal(await ds.createQueryRunner().hasTable(MIGRATIONS_TABLE), false);
});

forEachEngine('strings outside the BMP and dates survive a round trip', async (t, engine) => {
  const ds = await openTestDatabase(t, engine);
  const description = 'failed: disk 💾 full — ünïcödé';
  const deadline = new Date('2026-11-22T10:11:12.000Z');
  await ds.manager.insert(ActionRecord, { uuid: 'a-2', type: 'create', status: 'FAILED', description, vmUuid: randomUUID(), callbackUrl: 'https://x/', deadline });
  const got = await ds.manager.findOneByOrFail(ActionRecord, { uuid: 'a-2' });
  assert.equal(got.description, description);
  assert.equal(got.deadline.toISOString(), deadline.toISOString());
});

forEachEngine('`vt-manager migrate --config f` applies the pending migrations, prints them, and exits; a second run applies none', async (t, engine) => {
  const database = await emptyDatabase(t, engine);
  const dir = mkdtempSync(join(tmpdir(), 'kvmcrm-migrate-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'manager.json');
  writeFileSync(config, JSON.stringify({
    publicUrl: 'https://vtam.example:8445', tls: { caFile: 'ca.pem', certFile: 'manager.pem', keyFile: 'manager.key' },
    agentCallback: { user: 'agent', password: 'agent-callback-password' }, database,
  }));
  const all = (engine === 'sqlite' ? SQLITE_MIGRATIONS : MYSQL_MIGRATIONS).map((m) => new m().name);
  const first = await run(process.execPath, [MAIN, 'migrate', '--config', config]);
  for (const name of all) assert.match(first.stdout, new RegExp(`^applied: ${name}$`, 'm'));
  assert.match(first.stdout, new RegExp(`^done: ${all.length} migration\\(s\\) applied$`, 'm'));
  assert.doesNotMatch(first.stdout + first.stderr, /agent-callback-password|"password"/);
  const second = await run(process.execPath, [MAIN, '--config', config, '--migrate-only']);
  assert.match(second.stdout, /^done: the schema is up to date$/m);
  assert.doesNotMatch(second.stdout, /applied:/);
  if (database.type === 'mysql') assert.doesNotMatch(first.stdout + second.stdout, new RegExp(database.password));
  const ds = await openDatabase(database, { migrate: false });
  t.after(() => ds.destroy());
  assert.deepEqual(await pendingMigrations(ds), []);
});

forEachEngine('`vt-manager migrate` with an unreachable database exits 1 with a one-line reason', async (t, engine) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmcrm-migrate-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'manager.json');
  writeFileSync(join(dir, 'a-file'), '');
  const database = engine === 'sqlite'
    ? { type: 'sqlite', path: join(dir, 'a-file', 'm.sqlite') }
    : { type: 'mysql', host: '127.0.0.1', port: 1, username: 'x', password: 'y', database: 'kvmcrm_test_none' };
  writeFileSync(config, JSON.stringify({
    publicUrl: 'https://vtam.example:8445', tls: { caFile: 'ca.pem', certFile: 'manager.pem', keyFile: 'manager.key' },
    agentCallback: { user: 'agent', password: 'agent-callback-password' }, database,
  }));
  await assert.rejects(run(process.execPath, [MAIN, 'migrate', '--config', config]), (err: { code?: number; stderr?: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr ?? '', /^vt-manager migrate: .+\n$/);
    return true;
  });
});
