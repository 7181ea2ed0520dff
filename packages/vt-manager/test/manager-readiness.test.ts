/**
 * The manager's readiness checks (manager-observability.ts) on a real database, both engines: `migrations` reads the
 * migrations table and compares it with the build's list (never creating the table, unlike typeorm's
 * showMigrations()); `database` and `migrations` carry generic failure classes for anonymous `/readyz` callers.
 */
import assert from 'node:assert/strict';
import { MIGRATIONS_TABLE } from '../dist/db/data-source.js';
import { managerReadinessChecks } from '../dist/manager-observability.js';
import { forEachEngine, openTestDatabase } from '../dist/testing/test-databases.js';

forEachEngine('readiness migrations check: ok when all applied; a missing row or a missing table fails "not migrated" and the table is not created', async (t, engine) => {
  const ds = await openTestDatabase(t, engine);
  const tls = { current: { certificate: { commonName: 'm', notAfter: new Date(Date.now() + 3600_000) } } } as unknown as Parameters<typeof managerReadinessChecks>[1];
  const checks = managerReadinessChecks(ds, tls);
  const migrations = checks.find((c) => c.name === 'migrations')!;
  assert.equal(migrations.failure, 'not migrated');
  assert.equal(checks.find((c) => c.name === 'database')?.failure, 'unreachable');
  await migrations.run();
  const table = ds.driver.escape(MIGRATIONS_TABLE);
  const last = ds.migrations.at(-1)!.name!;
  await ds.query(`DELETE FROM ${table} WHERE name = ?`, [last]);
  await assert.rejects(migrations.run(), new RegExp(`1 database migration\\(s\\) pending \\(${last}`));
  await ds.query(`DROP TABLE ${table}`);
  await assert.rejects(migrations.run());
  const runner = ds.createQueryRunner();
  try {
    assert.equal(await runner.hasTable(MIGRATIONS_TABLE), false, 'the check did not create the table');
  } finally {
    await runner.release();
  }
});
