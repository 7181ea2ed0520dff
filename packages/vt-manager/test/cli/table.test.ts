/**
 * vtctl's table printer (src/cli/table.ts) and the `host capacity` table (src/cli/host-commands.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capacityTable } from '../../dist/cli/host-commands.js';
import { formatRecords, formatTable } from '../../dist/cli/table.js';

test('tables: aligned columns, numbers right-aligned, empty cells as -, (none) without rows', () => {
  assert.equal(formatTable(['NAME', 'SIZE', 'NOTE'], [['a', 1, 'x'], ['long-name', 1234, null]]), 'NAME       SIZE  NOTE\na             1  x\nlong-name  1234  -\n');
  assert.equal(formatTable(['A'], []), '(none)\n');
});

test('host capacity table: one line per host and a TOTAL line; an unknown total shows -', () => {
  const t = (total: number | null, used: number, available: number | null) => ({ total, used, available });
  const text = capacityTable([
    { host: 'kvm1', state: 'up', vms: 2, cpus: t(8, 2, 6), memoryMiB: t(4096, 512, 3584), diskGiB: t(100, 16, 84) },
    { host: 'kvm2', state: 'disabled', vms: 1, cpus: t(8, 1, 7), memoryMiB: t(4096, 256, 3840), diskGiB: t(100, 8, 92) },
  ]);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0] ?? '', /^HOST\s+STATE\s+VMS\s+VCPUS\s+USED\s+AVAIL\s+MEM MiB\s+USED\s+AVAIL\s+DISK GiB\s+USED\s+AVAIL$/);
  assert.deepEqual(lines[3]?.split(/\s+/), ['TOTAL', '-', '3', '16', '3', '13', '8192', '768', '7424', '200', '24', '176']);
  assert.equal(new Set(lines.map((l) => l.length)).size <= 2, true, 'aligned');
  const unknown = capacityTable([{ host: 'old', state: 'up', vms: 0, cpus: t(null, 0, null), memoryMiB: t(null, 0, null), diskGiB: t(null, 0, null) }]);
  assert.deepEqual(unknown.trimEnd().split('\n')[1]?.split(/\s+/), ['old', 'up', '0', '-', '0', '-', '-', '0', '-', '-', '0', '-']);
});

test('keyed rows (VM, inventory and generic lists): left-aligned, blank empty cells, lists joined, objects as JSON, one line per cell', () => {
  const rows = [
    { name: 'web01', memoryMb: 512, bridges: ['br-mgmt', 'br-data'], ip: null, note: 'two\nlines' },
    { name: 'db', memoryMb: 16384, bridges: [], ip: '10.0.0.5', note: { a: 1 } },
  ];
  assert.equal(
    formatRecords(rows, ['name', { key: 'memoryMb', header: 'MEMORY(MIB)' }, 'bridges', 'ip', 'note']),
    'NAME   MEMORY(MIB)  BRIDGES          IP        NOTE\n' +
      'web01  512          br-mgmt,br-data            two lines\n' +
      'db     16384                         10.0.0.5  {"a":1}\n',
  );
  assert.equal(formatRecords([], ['name']), '(none)\n');
  assert.equal(formatRecords([{ n: 5 }], [{ key: 'n', right: true }]), 'N\n5\n');
});
