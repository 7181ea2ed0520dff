/**
 * The SQLite database holds hashes and sealed secrets: its file is created 0600, and an existing file that group
 * or others can read is narrowed to 0600 when the manager opens it (issue 9 "Also"; docs/security.md).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../../dist/db/data-source.js';

test('a new SQLite database file is created 0600, an existing 0644 one is narrowed to 0600', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-sqlite-mode-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const previous = process.umask(0o022);
  t.after(() => process.umask(previous));

  const fresh = path.join(dir, 'fresh.sqlite');
  const ds = await openDatabase({ type: 'sqlite', path: fresh });
  await ds.query('SELECT 1');
  await ds.destroy();
  assert.equal(statSync(fresh).mode & 0o777, 0o600);

  const old = path.join(dir, 'old.sqlite');
  writeFileSync(old, '');
  chmodSync(old, 0o644);
  const ds2 = await openDatabase({ type: 'sqlite', path: old });
  await ds2.destroy();
  assert.equal(statSync(old).mode & 0o777, 0o600);
});
