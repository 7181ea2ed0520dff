/**
 * Overlapping ranges are refused also when admins add them at the same time (issue 10 "Inventory changes without
 * SQL"): adds of one kind take turns on the `inventory_lock` row, so the overlap check and the insert of one add
 * are never interleaved with another's. On MySQL/MariaDB each add runs on its own pooled connection at READ
 * COMMITTED, where the old check-then-insert let several overlapping ranges in.
 */
import assert from 'node:assert/strict';
import { ConflictError } from '@kvm-crm/shared';
import { openWorld } from '../../dist/testing/fakes.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';

const ADDS = 12;

forEachEngine('concurrent overlapping IPv4 and MAC range adds: exactly one of each is stored, the others get the overlap reason', async (t, engine) => {
  const w = await openWorld(t, { engine });
  for (let round = 0; round < 3; round++) {
    const v4 = await Promise.allSettled(
      Array.from({ length: ADDS }, (_, i) => w.inventory.addIpv4Range({ name: `r${round}-${i}`, start: `10.${round}.0.${1 + i}`, end: `10.${round}.0.200`, netmask: '255.255.255.0' })),
    );
    const mac = await Promise.allSettled(
      Array.from({ length: ADDS }, (_, i) => w.inventory.addMacRange({ name: `m${round}-${i}`, start: `02:00:0${round}:00:00:${(1 + i).toString(16).padStart(2, '0')}`, end: `02:00:0${round}:00:00:f0` })),
    );
    for (const [what, results] of [['IPv4', v4], ['MAC', mac]] as const) {
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `${what} round ${round}: exactly one add succeeds`);
      for (const r of results) {
        if (r.status === 'rejected') {
          assert.ok(r.reason instanceof ConflictError, String(r.reason));
          assert.match((r.reason as Error).message, /^range overlaps [rm]\d+-\d+$/);
        }
      }
    }
  }
  const listed = await w.inventory.listRanges(w.tx.manager);
  assert.equal(listed.length, 6);
});
