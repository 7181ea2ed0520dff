/**
 * Unit tests of the StatusOutbox (durable status messages, retried until the manager accepts them) and the
 * ActionJournal. The StatusSender is an in-memory fake for unit tests that can be "down" or refuse; the files are
 * real, under a temporary folder removed afterwards.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, XmlRpcFaultError } from '@kvm-crm/shared';
import { ActionJournal } from '../../dist/services/action-journal.js';
import { OutboxFullError, StatusOutbox } from '../../dist/services/status-outbox.js';
import type { StatusSender } from '../../dist/services/ports.js';

const logger = createLogger({ component: 'test', silent: true });
const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'outbox-test-'));
  roots.push(d);
  return path.join(d, 'outbox');
}

/** A fake manager for unit tests: records accepted messages and attempt times; `down` makes every call fail. */
class FakeSender implements StatusSender {
  readonly accepted: Array<{ url: string; xml: string }> = [];
  readonly attempts: Array<{ xml: string; at: number }> = [];
  down = false;
  /** Messages (by xml) the manager refuses with an XML-RPC fault. */
  readonly refuse = new Set<string>();
  delayMs = 0;
  async sendOnce(url: string, xml: string): Promise<void> {
    this.attempts.push({ xml, at: Date.now() });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (this.refuse.has(xml)) throw new XmlRpcFaultError(1, 'not allowed', 'sendAsync');
    this.accepted.push({ url, xml });
  }
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const A = 'https://u:secret@manager-a:8445/xmlrpc/agent';
const B = 'https://u:secret@manager-b:8445/xmlrpc/agent';

test('delivers in enqueue order per URL and deletes each file once accepted', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.delayMs = 5;
  const outbox = await StatusOutbox.open(dir, sender, { logger });
  // Not awaited one by one: the order is the order of the calls.
  await Promise.all(['a1', 'a2', 'a3'].map((x) => outbox.enqueue(A, x)).concat(['b1', 'b2'].map((x) => outbox.enqueue(B, x))));
  await outbox.idle();
  assert.deepEqual(sender.accepted.filter((m) => m.url === A).map((m) => m.xml), ['a1', 'a2', 'a3']);
  assert.deepEqual(sender.accepted.filter((m) => m.url === B).map((m) => m.xml), ['b1', 'b2']);
  assert.deepEqual(await readdir(dir), [], 'every delivered file is deleted');
  assert.equal(outbox.pending, 0);
  await outbox.close();
});

test('the next message goes without waiting for the delivered file to be deleted; idle() waits for the deletions', async () => {
  const dir = await tempDir();
  let written!: () => void;
  const bothWritten = new Promise<void>((r) => (written = r));
  const filesAtCall: string[][] = [];
  const sender: StatusSender = {
    sendOnce: async () => {
      if (filesAtCall.length === 0) await bothWritten;
      // Read at the moment of the call (synchronously), before anything else of the outbox runs.
      filesAtCall.push(readdirSync(dir).filter((f) => f.endsWith('.json')));
    },
  };
  const outbox = await StatusOutbox.open(dir, sender, { logger });
  await Promise.all([outbox.enqueue(A, 'first'), outbox.enqueue(A, 'second')]);
  written();
  await outbox.idle();
  assert.equal(filesAtCall.length, 2);
  assert.equal(filesAtCall[0]!.length, 2, 'both files on disk at the first call');
  // The first file is still there when the second message is sent: its deletion runs in the background.
  assert.deepEqual(filesAtCall[1], filesAtCall[0], 'both files still on disk at the second call');
  assert.deepEqual(await readdir(dir), [], 'idle() returned after both deletions');
  await outbox.close();
});

test('a message added after the queue ran empty is sent in the same turn, not after the deletions before it', async () => {
  const dir = await tempDir();
  let outbox: StatusOutbox | undefined;
  let loopTurned = false;
  let resultSentBeforeNextTurn: boolean | undefined;
  const sender: StatusSender = {
    sendOnce: async (_url, xml) => {
      if (xml === 'result') resultSentBeforeNextTurn = !loopTurned;
      // The next status (a start's SUCCESS after the Started event) comes once the event was delivered and the
      // queue is empty, while the event's file is still being written and deleted (I/O, later turns).
      if (xml === 'event') {
        setImmediate(() => {
          setTimeout(() => (loopTurned = true), 0);
          void outbox!.enqueue(A, 'result', undefined, 'result');
        });
      }
    },
  };
  outbox = await StatusOutbox.open(dir, sender, { logger });
  await outbox.enqueue(A, 'event', undefined, 'event');
  await waitFor('the result sent', () => resultSentBeforeNextTurn !== undefined);
  await outbox.idle();
  assert.equal(resultSentBeforeNextTurn, true, 'sent without waiting for the event file\'s write and deletion');
  assert.deepEqual(await readdir(dir), [], 'both files deleted once idle');
  await outbox.close();
});

test('files are 0600 in a 0700 folder and hold URL, document and attempt count; deleted only after success', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.down = true;
  const outbox = await StatusOutbox.open(dir, sender, { logger, initialDelayMs: 20, maxDelayMs: 20 });
  await outbox.enqueue(A, '<rspec>ONGOING</rspec>', 'action 1 ONGOING');
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^\d{17}\.json$/);
  assert.equal((await stat(path.join(dir, files[0]!))).mode & 0o777, 0o600);
  await waitFor('three failed attempts', () => sender.attempts.length >= 3);
  await new Promise((r) => setTimeout(r, 30));
  const stored = JSON.parse(await readFile(path.join(dir, files[0]!), 'utf8')) as { callbackUrl: string; rspecXml: string; attempts: number };
  assert.equal(stored.callbackUrl, A);
  assert.equal(stored.rspecXml, '<rspec>ONGOING</rspec>');
  assert.ok(stored.attempts >= 2, `attempt count saved (${stored.attempts})`);
  assert.ok((await readdir(dir)).includes(files[0]!), 'still on disk while the manager is down');
  sender.down = false;
  await waitFor('delivery', () => sender.accepted.length === 1);
  await outbox.idle();
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.json')), []);
  await outbox.close();
});

test('retries with exponential backoff up to the cap, with no attempt limit', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.down = true;
  const outbox = await StatusOutbox.open(dir, sender, { logger, initialDelayMs: 10, maxDelayMs: 80 });
  await outbox.enqueue(A, 'x');
  await waitFor('12 attempts', () => sender.attempts.length >= 12, 10_000);
  const gaps = sender.attempts.slice(1).map((a, i) => a.at - sender.attempts[i]!.at);
  // 10, 20, 40, 80, 80, … (timers fire late, never early)
  assert.ok(gaps[0]! >= 9 && gaps[1]! >= 19 && gaps[2]! >= 39 && gaps[3]! >= 79, `growing delays: ${gaps.join(',')}`);
  assert.ok(gaps.slice(4).every((g) => g >= 79 && g < 400), `capped delays: ${gaps.join(',')}`);
  assert.equal(outbox.pending, 1, 'never given up');
  sender.down = false;
  await waitFor('delivery', () => sender.accepted.length === 1, 2000);
  await outbox.close();
});

test('a later message to the same URL waits for the earlier one (ONGOING before SUCCESS)', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.down = true;
  const outbox = await StatusOutbox.open(dir, sender, { logger, initialDelayMs: 10, maxDelayMs: 10 });
  await outbox.enqueue(A, 'ONGOING');
  await outbox.enqueue(A, 'SUCCESS');
  await waitFor('retries', () => sender.attempts.length >= 4);
  assert.ok(sender.attempts.every((a) => a.xml === 'ONGOING'), 'SUCCESS is not tried before ONGOING is accepted');
  sender.down = false;
  await outbox.idle();
  assert.deepEqual(sender.accepted.map((m) => m.xml), ['ONGOING', 'SUCCESS']);
  await outbox.close();
});

test('pending messages survive a restart (new instance) and are delivered in order; new ones sort after them', async () => {
  const dir = await tempDir();
  const down = new FakeSender();
  down.down = true;
  const first = await StatusOutbox.open(dir, down, { logger, initialDelayMs: 1000 });
  await first.enqueue(A, 'm1');
  await first.enqueue(A, 'm2');
  await first.enqueue(B, 'n1');
  await first.close();
  // A writer killed mid-write leaves a temporary file: ignored and removed.
  await writeFile(path.join(dir, '.tmp-00000000000000001.json-abcd'), '{"trunc');

  const sender = new FakeSender();
  const second = await StatusOutbox.open(dir, sender, { logger, now: () => 1000 /* a clock gone backwards */ });
  await second.enqueue(A, 'm3');
  await second.idle();
  assert.deepEqual(sender.accepted.filter((m) => m.url === A).map((m) => m.xml), ['m1', 'm2', 'm3']);
  assert.deepEqual(sender.accepted.filter((m) => m.url === B).map((m) => m.xml), ['n1']);
  assert.deepEqual(await readdir(dir), []);
  await second.close();
});

test('an unreadable file is set aside in rejected/ at load', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  (await StatusOutbox.open(dir, sender, { logger })).close();
  await writeFile(path.join(dir, '00000000000000001.json'), 'not json');
  const outbox = await StatusOutbox.open(dir, sender, { logger });
  assert.equal(outbox.pending, 0);
  assert.deepEqual(await readdir(path.join(dir, 'rejected')), ['00000000000000001.json']);
  await outbox.close();
});

test('a message the manager refuses (XML-RPC fault) maxRefusals times is set aside and the queue moves on', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.refuse.add('poison');
  const outbox = await StatusOutbox.open(dir, sender, { logger, initialDelayMs: 5, maxDelayMs: 5, maxRefusals: 3 });
  await outbox.enqueue(A, 'poison');
  await outbox.enqueue(A, 'next');
  await outbox.idle();
  assert.equal(sender.attempts.filter((a) => a.xml === 'poison').length, 3);
  assert.deepEqual(sender.accepted.map((m) => m.xml), ['next']);
  assert.equal((await readdir(path.join(dir, 'rejected'))).length, 1);
  await outbox.close();
});

test('bounded: beyond maxMessages a new message is refused and the oldest are kept', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.down = true;
  const outbox = await StatusOutbox.open(dir, sender, { logger, maxMessages: 2, initialDelayMs: 1000 });
  await outbox.enqueue(A, 'one');
  await outbox.enqueue(A, 'two');
  await assert.rejects(outbox.enqueue(A, 'three'), OutboxFullError);
  assert.equal(await outbox.asReporter().report(A, 'four'), false);
  assert.equal(outbox.pending, 2);
  await outbox.close();
  const left = await StatusOutbox.open(dir, new FakeSender(), { logger });
  await left.idle();
  assert.equal(left.deliveredCount, 2);
  await left.close();
});

test('close() stops retrying at once; enqueue after close throws', async () => {
  const dir = await tempDir();
  const sender = new FakeSender();
  sender.down = true;
  const outbox = await StatusOutbox.open(dir, sender, { logger, initialDelayMs: 60_000 });
  await outbox.enqueue(A, 'x');
  await waitFor('first attempt', () => sender.attempts.length === 1);
  const t = Date.now();
  await outbox.close();
  assert.ok(Date.now() - t < 1000);
  await assert.rejects(outbox.enqueue(A, 'y'));
});

test('ActionJournal: record, list, remove; files 0600; damaged entries skipped', async () => {
  const dir = await tempDir();
  const journal = new ActionJournal(dir, logger);
  await journal.open();
  await journal.record({ actionId: 'a-2', type: 'start', callbackUrl: A, started: '2026-01-01T00:00:02Z', vmUuid: '00000000-0000-4000-8000-000000000002' });
  await journal.record({ actionId: 'a-1', type: 'create', callbackUrl: A, started: '2026-01-01T00:00:01Z' });
  await writeFile(path.join(dir, 'junk.json'), '{');
  assert.equal((await stat(path.join(dir, 'a-1.json'))).mode & 0o777, 0o600);
  assert.deepEqual((await journal.list()).map((e) => e.actionId), ['a-1', 'a-2']);
  await journal.remove('a-1');
  await journal.remove('a-1');
  assert.deepEqual((await journal.list()).map((e) => [e.actionId, e.vmUuid]), [['a-2', '00000000-0000-4000-8000-000000000002']]);
  await assert.rejects(journal.record({ actionId: '../x', type: 'start', callbackUrl: A, started: '' }));
});
