/**
 * Unit tests of the StatusOutbox's delivery order by message kind (decision 038): an action's terminal status
 * (`result`) overtakes the libvirt events (`event`) queued after the status queued before it, and nothing else.
 * The StatusSender is an in-memory fake for unit tests that records what it accepted and can be "down"; the files
 * are real, under a temporary folder removed afterwards.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@kvm-crm/shared';
import { StatusOutbox } from '../../dist/services/status-outbox.js';
import type { StatusKind } from '../../dist/services/ports.js';
import type { StatusSender } from '../../dist/services/ports.js';

const logger = createLogger({ component: 'test', silent: true });
const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'outbox-order-test-'));
  roots.push(d);
  return path.join(d, 'outbox');
}

/** A fake manager for unit tests: records the documents it accepted, in order; `down` makes every call fail. */
class FakeSender implements StatusSender {
  readonly accepted: string[] = [];
  down = false;
  async sendOnce(_url: string, xml: string): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    this.accepted.push(xml);
  }
}

const URL_A = 'https://u:secret@manager-a:8445/xmlrpc/agent';

/** Queues `[document, kind]` pairs one after the other (each on disk before the next is queued). */
async function queueAll(outbox: StatusOutbox, messages: Array<[string, StatusKind]>): Promise<void> {
  for (const [xml, kind] of messages) await outbox.enqueue(URL_A, xml, xml, kind);
}

test('a result overtakes the events queued after its ONGOING, never the ONGOING nor earlier events', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.down = true; // everything waits, so that the order is chosen from a full queue
  const outbox = await StatusOutbox.open(dir, sender, { logger, initialDelayMs: 10, maxDelayMs: 10 });
  await queueAll(outbox, [['E0 Stopped (before the action)', 'event'], ['ONGOING', 'progress'], ['E1 Resumed', 'event'], ['E2 Started', 'event'], ['SUCCESS', 'result']]);
  sender.down = false;
  await outbox.idle();
  assert.deepEqual(sender.accepted, ['E0 Stopped (before the action)', 'ONGOING', 'SUCCESS', 'E1 Resumed', 'E2 Started']);
  assert.deepEqual(await readdir(dir), [], 'every delivered file is deleted');
  await outbox.close();
});

test("a result waits for the events queued before the status queued just before it (another action's)", async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.down = true;
  const outbox = await StatusOutbox.open(dir, sender, { logger, initialDelayMs: 10, maxDelayMs: 10 });
  await queueAll(outbox, [['ONGOING 1', 'progress'], ['E1', 'event'], ['ONGOING 2', 'progress'], ['E2', 'event'], ['SUCCESS 1', 'result'], ['E3', 'event']]);
  sender.down = false;
  await outbox.idle();
  assert.deepEqual(sender.accepted, ['ONGOING 1', 'E1', 'ONGOING 2', 'SUCCESS 1', 'E2', 'E3']);
  await outbox.close();
});

test('progress messages and results without a status before them keep the full order', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.down = true;
  const outbox = await StatusOutbox.open(dir, sender, { logger, initialDelayMs: 10, maxDelayMs: 10 });
  // No status was queued to this URL before: the result has no barrier and goes in its place.
  await queueAll(outbox, [['E1', 'event'], ['FAILED', 'result'], ['E2', 'event'], ['event as progress', 'progress'], ['E3', 'event']]);
  sender.down = false;
  await outbox.idle();
  assert.deepEqual(sender.accepted, ['E1', 'FAILED', 'E2', 'event as progress', 'E3']);
  await outbox.close();
});

test('kind and barrier are kept on disk: after a restart the order is the same', async () => {
  const dir = await tempDir();
  const down = new FakeSender();
  down.down = true;
  const first = await StatusOutbox.open(dir, down, { logger, initialDelayMs: 10, maxDelayMs: 10 });
  await queueAll(first, [['ONGOING', 'progress'], ['E1', 'event'], ['SUCCESS', 'result']]);
  await first.close();
  const stored = await Promise.all((await readdir(dir)).sort().map(async (f) => JSON.parse(await readFile(path.join(dir, f), 'utf8')) as { kind?: string; barrier?: string }));
  const names = (await readdir(dir)).sort();
  assert.deepEqual(stored.map((m) => m.kind), [undefined, 'event', 'result'], 'progress is the default and not written');
  assert.equal(stored[2]!.barrier, names[0], "the result's barrier is the ONGOING's file");
  const up = new FakeSender();
  const second = await StatusOutbox.open(dir, up, { logger, initialDelayMs: 10, maxDelayMs: 10 });
  await second.idle();
  assert.deepEqual(up.accepted, ['ONGOING', 'SUCCESS', 'E1']);
  await second.close();
});

test('delivery starts while the file is still being written; the file is deleted once both are done', async () => {
  const dir = await tempDir();
  let queued = false;
  const seenAtSend: boolean[] = [];
  const sender: StatusSender = {
    async sendOnce() {
      seenAtSend.push(queued);
    },
  };
  const outbox = await StatusOutbox.open(dir, sender, { logger });
  await outbox.enqueue(URL_A, 'SUCCESS', 'SUCCESS', 'result').then(() => (queued = true));
  await outbox.idle();
  assert.deepEqual(seenAtSend, [false], 'sent before enqueue resolved (the durable write was still going on)');
  assert.deepEqual(await readdir(dir), [], 'the file written after the call is still deleted');
  assert.equal(outbox.pending, 0);
  await outbox.close();
});
