/**
 * Decision 039: the intake batcher group-commits the rows of concurrent sends (one write for the sends of one tick,
 * the next write for those that arrived while it ran), keeps each send's rows together and in arrival order, caps a
 * write's rows, and rejects every send of a failed write (and only those). The write is a fake (test code): it
 * records its batches and hands out ids.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { IntakeBatcher } from '../../dist/services/provisioning/intake-batcher.js';

/** A fake write (test only): records each batch, answers ids counting from 1, fails the batches `fail` picks. */
function recorder(fail: (batch: readonly string[]) => boolean = () => false) {
  const batches: string[][] = [];
  let next = 1;
  let release: (() => void) | undefined;
  let hold = false;
  const write = async (rows: readonly string[]) => {
    batches.push([...rows]);
    if (hold) await new Promise<void>((r) => (release = r));
    if (fail(rows)) throw new Error('disk full');
    return rows.map(() => next++);
  };
  return { batches, write, holdNext: () => (hold = true), release: () => { hold = false; release?.(); } };
}

test('the sends of one tick share one write; each gets its own ids in order', async () => {
  const r = recorder();
  const b = new IntakeBatcher<string>(r.write);
  const ids = await Promise.all([b.add(['a1', 'a2']), b.add(['b1']), b.add(['c1', 'c2', 'c3'])]);
  assert.deepEqual(r.batches, [['a1', 'a2', 'b1', 'c1', 'c2', 'c3']]);
  assert.deepEqual(ids, [[1, 2], [3], [4, 5, 6]]);
  assert.equal(b.busy, false);
});

test('sends arriving while a write runs go together into the next write', async () => {
  const r = recorder();
  const b = new IntakeBatcher<string>(r.write);
  r.holdNext();
  const first = b.add(['a']);
  await new Promise((res) => setImmediate(res));
  assert.equal(r.batches.length, 1, 'the first write started');
  assert.equal(b.busy, true);
  const later = [b.add(['b']), b.add(['c'])];
  await new Promise((res) => setImmediate(res));
  assert.equal(r.batches.length, 1, 'one write at a time');
  r.release();
  assert.deepEqual(await first, [1]);
  assert.deepEqual(await Promise.all(later), [[2], [3]]);
  assert.deepEqual(r.batches, [['a'], ['b', 'c']]);
});

test('a failed write rejects every send of its batch, and only those', async () => {
  const r = recorder((rows) => rows.includes('bad'));
  const b = new IntakeBatcher<string>(r.write);
  const batch = [b.add(['ok1']), b.add(['bad']), b.add(['ok2'])];
  const results = await Promise.allSettled(batch);
  assert.deepEqual(results.map((x) => x.status), ['rejected', 'rejected', 'rejected']);
  for (const x of results) assert.equal((x as PromiseRejectedResult).reason.message, 'disk full');
  assert.deepEqual(await b.add(['after']), [1], 'the next write goes on');
});

test('a write takes whole sends up to the row cap; a send larger than the cap is written alone, never split', async () => {
  const r = recorder();
  const b = new IntakeBatcher<string>(r.write, { maxRows: 4 });
  const ids = await Promise.all([b.add(['a1', 'a2', 'a3']), b.add(['b1', 'b2']), b.add(['c1']), b.add(['d1', 'd2', 'd3', 'd4', 'd5', 'd6'])]);
  assert.deepEqual(r.batches, [['a1', 'a2', 'a3'], ['b1', 'b2', 'c1'], ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']]);
  assert.deepEqual(ids, [[1, 2, 3], [4, 5], [6], [7, 8, 9, 10, 11, 12]]);
});

test('a write returning the wrong number of ids rejects its sends', async () => {
  const b = new IntakeBatcher<string>(async () => [1]);
  await assert.rejects(Promise.all([b.add(['a']), b.add(['b'])]), /returned 1 ids for 2 rows/);
});
