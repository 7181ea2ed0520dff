/**
 * TransactionRunner on MySQL/MariaDB (a fresh database per test, testing/test-databases.ts): READ COMMITTED, so a
 * transaction sees rows committed after its first read (what the IPAM's range lock relies on), and a deadlock
 * victim is run again. On SQLite transactions are queued in-process, so neither case can arise there; units queued
 * behind a running transaction share the next one (group commit), each in its own savepoint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrincipalRecord } from '../../dist/db/entities/principal.js';
import { engineAvailable, openTestDatabase } from '../../dist/testing/test-databases.js';
import { isDeadlock, TransactionRunner } from '../../dist/db/transaction-runner.js';

test('[mysql] a transaction sees rows other connections committed after its first read (READ COMMITTED)', async (t) => {
  if (!(await engineAvailable(t, 'mysql'))) return;
  const ds = await openTestDatabase(t, 'mysql');
  const tx = new TransactionRunner(ds);
  const seen = await tx.run(async (em) => {
    const before = await em.count(PrincipalRecord);
    await ds.manager.insert(PrincipalRecord, { name: 'late', roles: 'admin', passwordScrypt: null }); // another pooled connection, autocommit
    const after = await em.count(PrincipalRecord);
    return [before, after];
  });
  assert.deepEqual(seen, [0, 1], 'under REPEATABLE READ the second count would still be 0');
});

test('[mysql] a deadlock victim is rolled back and run again; both transactions end committed', async (t) => {
  if (!(await engineAvailable(t, 'mysql'))) return;
  const ds = await openTestDatabase(t, 'mysql');
  const tx = new TransactionRunner(ds);
  await ds.manager.insert(PrincipalRecord, [{ name: 'a', roles: 'admin', passwordScrypt: null }, { name: 'b', roles: 'admin', passwordScrypt: null }]);
  let firstLocks = 0;
  let release!: () => void;
  const bothHoldOneRow = new Promise<void>((r) => (release = r));
  const attempts = { ab: 0, ba: 0 };
  const cross = (first: string, second: string, key: 'ab' | 'ba') =>
    tx.run(async (em) => {
      attempts[key]++;
      await em.update(PrincipalRecord, { name: first }, { roles: `admin,${key}` });
      if (++firstLocks === 2) release();
      await bothHoldOneRow;
      await em.update(PrincipalRecord, { name: second }, { roles: `clearinghouse,${key}` });
      return key;
    });
  const results = await Promise.allSettled([cross('a', 'b', 'ab'), cross('b', 'a', 'ba')]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled']);
  assert.equal(attempts.ab + attempts.ba, 3, 'exactly one of the two ran twice');
  const rows = await ds.manager.find(PrincipalRecord, { order: { name: 'ASC' } });
  const winner = attempts.ab === 2 ? 'ab' : 'ba';
  assert.deepEqual(rows.map((r) => r.roles.split(',')[1]), [winner, winner], 'the retried transaction committed last, whole');
});

test('isDeadlock recognises InnoDB error 1213, raw or wrapped by typeorm, and nothing else', () => {
  assert.equal(isDeadlock({ errno: 1213, code: 'ER_LOCK_DEADLOCK' }), true);
  assert.equal(isDeadlock({ driverError: { errno: 1213 } }), true);
  assert.equal(isDeadlock({ code: 'ER_DUP_ENTRY', errno: 1062 }), false);
  assert.equal(isDeadlock(new Error('Deadlock found')), false);
  assert.equal(isDeadlock(undefined), false);
});

test('[sqlite] units queued while a transaction runs share the next one (group commit), each in its own savepoint', async (t) => {
  const ds = await openTestDatabase(t, 'sqlite');
  const tx = new TransactionRunner(ds);
  const unit = (name: string, fail = false) =>
    tx.run(async (em) => {
      await em.insert(PrincipalRecord, { name, roles: 'admin', passwordScrypt: null });
      if (fail) throw new Error(`${name} refused`);
      return { name, em, seen: (await em.find(PrincipalRecord, { order: { name: 'ASC' } })).map((p) => p.name) };
    });
  // a runs alone (nothing was waiting); b, c, d queue up behind it and run together.
  const results = await Promise.allSettled([unit('a'), unit('b'), unit('c', true), unit('d')]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  const [a, b, , d] = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
  assert.equal((results[2] as PromiseRejectedResult).reason.message, 'c refused');
  assert.equal(b!.em, d!.em, 'b and d ran in one transaction');
  assert.notEqual(a!.em, b!.em, 'a ran before them, in its own');
  assert.deepEqual(d!.seen, ['a', 'b', 'd'], 'd sees b (same transaction) and not c (rolled back to its savepoint)');
  assert.deepEqual((await ds.manager.find(PrincipalRecord, { order: { name: 'ASC' } })).map((p) => p.name), ['a', 'b', 'd'], 'committed: all but the failed unit');
  assert.deepEqual(await tx.run(async (em) => em.count(PrincipalRecord)), 3, 'the runner goes on after a group');
});

test('[sqlite] a unit whose error made SQLite roll back the whole shared transaction: the group rejects with that error as the cause, not "no such savepoint"', async (t) => {
  const ds = await openTestDatabase(t, 'sqlite');
  const tx = new TransactionRunner(ds);
  let release: (() => void) | undefined;
  const first = tx.run(async () => new Promise<void>((r) => { release = r; })); // holds the runner so the next three group up
  while (!release) await new Promise((r) => setTimeout(r, 5));
  const unit = (name: string, abort = false) =>
    tx.run(async (em) => {
      await em.insert(PrincipalRecord, { name, roles: 'admin', passwordScrypt: null });
      if (abort) {
        // What SQLite does itself on SQLITE_FULL or an I/O error: the whole transaction is rolled back.
        await em.query('ROLLBACK');
        throw new Error('database or disk is full');
      }
      return name;
    });
  const queued = Promise.allSettled([unit('b'), unit('c', true), unit('d')]);
  release();
  await first;
  const results = await queued;
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
  const [b, c, d] = results.map((r) => (r as PromiseRejectedResult).reason as Error);
  assert.equal(c!.message, 'database or disk is full', 'the failing unit gets its own error');
  for (const e of [b!, d!]) {
    assert.match(e.message, /rolled back by the database after a unit failed \(database or disk is full\)/);
    assert.equal((e.cause as Error).message, 'database or disk is full');
  }
  assert.equal(await ds.manager.count(PrincipalRecord), 0, 'nothing of the group stored');
  assert.equal(await tx.run(async (em) => em.count(PrincipalRecord)), 0, 'the runner goes on');
});
