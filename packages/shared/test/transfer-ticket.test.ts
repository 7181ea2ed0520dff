/**
 * The transfer ticket of an offline migration (shared/src/transfer-ticket.ts, decision record 025): shape, bounds,
 * names from the closed set only, expiry, and the wire form (sizes as decimal strings).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ticketBytes, validateTransferTicket, wireBytes, wireTicket } from '../dist/index.js';

const SHA = 'a'.repeat(64);
const now = new Date('2026-12-05T00:00:00Z');
const good = {
  id: 'f'.repeat(64), vmUuid: '3F2C1A9E-5B7D-4C1E-9A2B-0123456789AB', source: 'kvm1', target: 'kvm2', template: 'tiny',
  expiresAt: '2026-12-05T01:00:00Z',
  files: [{ name: 'disk.qcow2', sizeBytes: 5 * 1024 ** 3, sha256: SHA }, { name: 'seed.iso', sizeBytes: 4096, sha256: SHA }],
};

test('a good ticket validates (uuid lower-cased), survives its wire form (sizes above 2^31 as strings), and sums its bytes', () => {
  const t = validateTransferTicket(good, now);
  assert.equal(t.vmUuid, good.vmUuid.toLowerCase());
  const wire = wireTicket(t);
  assert.equal((wire.files as Array<{ sizeBytes: unknown }>)[0]!.sizeBytes, String(5 * 1024 ** 3));
  assert.deepEqual(validateTransferTicket(wire, now), t);
  assert.equal(ticketBytes(t), 5 * 1024 ** 3 + 4096);
  assert.equal(wireBytes('12'), 12);
  assert.ok(Number.isNaN(wireBytes('-1')));
});

test('refusals name what is wrong', () => {
  const bad = (patch: Record<string, unknown>, re: RegExp) => assert.throws(() => validateTransferTicket({ ...good, ...patch }, now), re);
  bad({ id: 'xyz' }, /invalid id/);
  bad({ target: 'kvm1' }, /same host/);
  bad({ expiresAt: '2026-12-04T23:59:59Z' }, /expired/);
  bad({ expiresAt: '2026-12-07T00:00:00Z' }, /too far ahead/);
  bad({ files: [] }, /1 to 20 files/);
  bad({ files: [{ name: '../disk.qcow2', sizeBytes: 1, sha256: SHA }] }, /invalid name/);
  bad({ files: [{ name: 'console.log', sizeBytes: 1, sha256: SHA }] }, /invalid name/);
  bad({ files: [{ name: 'seed.iso', sizeBytes: 1, sha256: SHA }] }, /disk\.qcow2 is missing/);
  bad({ files: [{ name: 'disk.qcow2', sizeBytes: -1, sha256: SHA }] }, /invalid size/);
  bad({ files: [{ name: 'disk.qcow2', sizeBytes: 1, sha256: 'zz' }] }, /invalid sha256/);
  bad({ files: [good.files[0], good.files[0]] }, /named twice/);
  bad({ template: '../t' }, /invalid template/);
});
