/** `vtctl host kept-disks` rendering (src/cli/kept-disks-commands.ts): one aligned row per kept folder. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keptDisksTable } from '../../dist/cli/kept-disks-commands.js';

test('kept-disks table: header, one row per folder, summed sizes, unknown name as -, unreadable image marked ?', () => {
  const text = keptDisksTable([
    { id: 'aaaaaaaa-0000-4000-8000-000000000001', vmUuid: 'aaaaaaaa-0000-4000-8000-000000000001', vmName: 'web01', keptAt: '2026-12-05T00:00:00.000Z', actualSizeMiB: 5,
      files: [{ name: 'data-vdb.qcow2', virtualSizeMiB: 1024, actualSizeMiB: 1 }, { name: 'disk.qcow2', virtualSizeMiB: 2048, actualSizeMiB: 4 }] },
    { id: 'aaaaaaaa-0000-4000-8000-000000000001-1', vmUuid: 'aaaaaaaa-0000-4000-8000-000000000001', vmName: '', keptAt: '2026-12-05T01:00:00.000Z', actualSizeMiB: 0,
      files: [{ name: 'disk.qcow2', error: 'qemu-img: Could not open' }] },
  ]);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^ID\s+VM\s+NAME\s+KEPT AT\s+FILES\s+VIRTUAL MiB\s+ACTUAL MiB$/);
  assert.match(lines[1]!, /^aaaaaaaa-0000-4000-8000-000000000001 {4}aaaaaaaa-\S+\s+web01\s+2026-12-05T00:00:00.000Z\s+data-vdb.qcow2,disk.qcow2\s+3072\s+5$/);
  assert.match(lines[2]!, /-1\s+aaaaaaaa-\S+\s+-\s+\S+\s+disk.qcow2\?\s+0\s+0$/);
  assert.equal(lines[0]!.indexOf('NAME'), lines[1]!.indexOf('web01'), 'columns aligned');
  assert.equal(keptDisksTable([]), '(none)\n');
});
