/**
 * The progress line of `vtctl vm migrate --wait` and `server drain --migrate` (cli/migration-commands.ts): the step
 * while it runs, the terminal status at the end, bytes in MiB when known. The commands themselves run as processes
 * in test/e2e/vm-migrate.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressLine } from '../../dist/cli/migration-commands.js';

test('progress line: step and MiB copied while running, the status at the end, no bytes before they are known', () => {
  assert.equal(progressLine('vm1', { target: 'kvm2', step: 'copy', copiedBytes: '524288', totalBytes: '1073741824', status: 'ONGOING' }, 7), 'migrate vm1 → kvm2: copy 0.5/1024.0 MiB 7s');
  assert.equal(progressLine('vm1', { target: 'kvm2', step: 'export', copiedBytes: '0', totalBytes: '0', status: 'ONGOING' }, 0), 'migrate vm1 → kvm2: export 0s');
  assert.equal(progressLine('vm1', { target: 'kvm2', step: 'rollback', copiedBytes: '10', totalBytes: '4294967296', status: 'FAILED' }, 12), 'migrate vm1 → kvm2: FAILED 0.0/4096.0 MiB 12s');
});
