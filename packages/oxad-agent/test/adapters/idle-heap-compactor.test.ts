/**
 * Unit tests of the IdleHeapCompactor (decision 036, amended 2026-12-05): when it collects (quiet loop, old space
 * grown ≥ minGrowthMiB over its baseline) and when not, with fakes of the GC, the old-space statistics and the loop
 * utilisation (test doubles, here only). And one test against real V8: `gc()` in a child `node` started with
 * AGENT_NODE_FLAGS (`--expose-gc --compact-on-every-full-gc`) shrinks a sparse old space, where the same `gc()`
 * without `--compact-on-every-full-gc` leaves most of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@kvm-crm/shared';
import { IdleHeapCompactor } from '../../dist/adapters/idle-heap-compactor.js';
import { AGENT_NODE_FLAGS } from '../../dist/node-flags.js';

const logger = createLogger({ component: 'test', silent: true });
const MiB = 1024 * 1024;

/** A compactor over fake statistics: `space.size` in MiB is what the next check sees; `gc` sets it to `afterGc`. */
function fakeCompactor(opts: { sizeMiB: number; afterGcMiB: number; loop?: number }) {
  const state = { size: opts.sizeMiB, loop: opts.loop ?? 0, gcs: 0, afterGc: opts.afterGcMiB };
  const c = new IdleHeapCompactor(
    () => {
      state.gcs++;
      state.size = state.afterGc;
    },
    { logger, oldSpace: () => ({ size: state.size * MiB, used: state.size * MiB }), loopUtilisation: () => state.loop },
  );
  return { c, state };
}

test('a quiet agent whose old space grew by 2 MiB or more collects once, then not again until it grows again', () => {
  const { c, state } = fakeCompactor({ sizeMiB: 17, afterGcMiB: 17 });
  assert.equal(c.check(), 'small');
  state.size = 18.9;
  assert.equal(c.check(), 'small', 'less than 2 MiB over the baseline');
  state.size = 24;
  assert.equal(c.check(), 'collected');
  assert.equal(state.gcs, 1);
  assert.equal(c.collections, 1);
  assert.equal(c.check(), 'small', 'the size after the GC is the new baseline');
  state.size = 20;
  state.afterGc = 19.5; // live data grew: the GC gives little back
  assert.equal(c.check(), 'collected');
  assert.equal(c.check(), 'small', 'no GC after GC while nothing grows');
  assert.equal(state.gcs, 2);
});

test('a busy event loop defers the collection to a quiet check', () => {
  const { c, state } = fakeCompactor({ sizeMiB: 17, afterGcMiB: 17, loop: 0.4 });
  state.size = 25;
  assert.equal(c.check(), 'busy');
  assert.equal(c.check(), 'busy');
  assert.equal(state.gcs, 0);
  state.loop = 0.01;
  assert.equal(c.check(), 'collected');
  assert.equal(state.gcs, 1);
});

test('the baseline follows V8 shrinking the old space by itself (its memory reducer after start-up)', () => {
  const { c, state } = fakeCompactor({ sizeMiB: 20, afterGcMiB: 16.5 });
  state.size = 16.8; // V8 compacted the start-up garbage
  assert.equal(c.check(), 'small');
  state.size = 19;
  assert.equal(c.check(), 'collected', '19 ≥ 16.8 + 2: grown over the smallest size seen, not over the 20 at start');
});

test('without --expose-gc there is no compactor (and nothing throws)', () => {
  assert.equal(typeof globalThis.gc, 'undefined', 'this test process runs without --expose-gc');
  assert.equal(IdleHeapCompactor.start({ logger }), undefined);
});

test('gc() with AGENT_NODE_FLAGS compacts a sparse old space in real V8; without --compact-on-every-full-gc it does not', async () => {
  const module = fileURLToPath(new URL('../../dist/adapters/idle-heap-compactor.js', import.meta.url));
  // Three quarters of ~40 MiB of promoted objects become garbage, spread over every page.
  const code = `
    const { v8OldSpace } = await import(${JSON.stringify(module)});
    const keep = []; let junk = [];
    for (let i = 0; i < 300000; i++) { const o = { a: i, b: 'x' + i, c: [i, i + 1] }; if (i % 4 === 0) keep.push(o); else junk.push(o); }
    gc();
    junk = null;
    gc();
    console.log(JSON.stringify({ ...v8OldSpace(), kept: keep.length }));`;
  const run = async (flags: readonly string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, '--input-type=module', '-e', code]);
    return JSON.parse(stdout) as { size: number; used: number; kept: number };
  };
  assert.ok(AGENT_NODE_FLAGS.includes('--expose-gc') && AGENT_NODE_FLAGS.includes('--compact-on-every-full-gc'));
  const plain = await run(AGENT_NODE_FLAGS.filter((f) => f !== '--compact-on-every-full-gc'));
  const compacted = await run(AGENT_NODE_FLAGS);
  assert.equal(compacted.kept, 75000);
  assert.ok(plain.size > 2 * plain.used, `gc() alone leaves the old space sparse (${(plain.size / MiB).toFixed(1)} MiB for ${(plain.used / MiB).toFixed(1)} used)`);
  assert.ok(compacted.size < 1.3 * compacted.used, `compacted: ${(compacted.size / MiB).toFixed(1)} MiB for ${(compacted.used / MiB).toFixed(1)} used`);
  assert.ok(compacted.size < plain.size / 2);
});
