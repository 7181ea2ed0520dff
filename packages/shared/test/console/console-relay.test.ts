/**
 * relayConsole (decision record 027) with in-memory endpoints (fakes, for this unit test only): bytes both ways,
 * one close with the same code and reason on the other side, the idle timeout, the byte rate (the sender is paused,
 * nothing dropped), a slow reader pausing its writer, and close codes that cannot be sent on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE_CLOSE, CONSOLE_MAX_BUFFERED_BYTES, clipCloseReason, relayConsole, sendableCloseCode, type ConsoleEndpoint } from '../../dist/console/console-relay.js';

/** A fake endpoint: records what it is sent and how it is closed; `emit`/`end` play its peer. */
interface FakeEndpoint {
  sent: Buffer[];
  closes: Array<[number, string]>;
  pauses: number;
  resumes: number;
  queued: number;
  emit(s: string | Buffer): void;
  end(code: number, reason: string): void;
  endpoint: ConsoleEndpoint;
}
function fakeEndpoint(): FakeEndpoint {
  let onData: (b: Buffer) => void = () => undefined;
  let onClose: (code: number, reason: string) => void = () => undefined;
  const fake: FakeEndpoint = {
    sent: [] as Buffer[],
    closes: [] as Array<[number, string]>,
    pauses: 0,
    resumes: 0,
    queued: 0,
    emit: (s: string | Buffer) => onData(Buffer.isBuffer(s) ? s : Buffer.from(s)),
    end: (code: number, reason: string) => onClose(code, reason),
    endpoint: {
      send: (b: Buffer) => void fake.sent.push(b),
      close: (code: number, reason: string) => void fake.closes.push([code, reason]),
      pause: () => void fake.pauses++,
      resume: () => void fake.resumes++,
      buffered: () => fake.queued,
      onData: (l: (b: Buffer) => void) => void (onData = l),
      onClose: (l: (code: number, reason: string) => void) => void (onClose = l),
    },
  };
  return fake;
}
const text = (bs: Buffer[]) => Buffer.concat(bs).toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('bytes go both ways; the client detaching closes the guest side once, with its code and reason', async () => {
  const client = fakeEndpoint();
  const guest = fakeEndpoint();
  const relay = relayConsole(client.endpoint, guest.endpoint, { idleTimeoutSeconds: 60, bytesPerSecond: 1 << 20 });
  client.emit('ls\r');
  guest.emit('bin  etc\r\n');
  assert.equal(text(guest.sent), 'ls\r');
  assert.equal(text(client.sent), 'bin  etc\r\n');
  client.end(CONSOLE_CLOSE.detached, 'detached');
  guest.end(CONSOLE_CLOSE.serialClosed, 'late'); // a second end changes nothing
  const outcome = await relay.done;
  assert.deepEqual(guest.closes, [[1000, 'detached']]);
  assert.deepEqual(client.closes, []);
  assert.deepEqual([outcome.code, outcome.endedBy, outcome.bytesIn, outcome.bytesOut], [1000, 'client', 3, 10]);
});

test('the guest side ending tells the client why; data after the end is not forwarded', async () => {
  const client = fakeEndpoint();
  const guest = fakeEndpoint();
  const relay = relayConsole(client.endpoint, guest.endpoint, { idleTimeoutSeconds: 60, bytesPerSecond: 1 << 20 });
  guest.end(CONSOLE_CLOSE.serialClosed, 'the serial console closed: the VM stopped');
  client.emit('too late');
  assert.deepEqual(client.closes, [[4003, 'the serial console closed: the VM stopped']]);
  assert.equal(guest.sent.length, 0);
  assert.equal((await relay.done).endedBy, 'guest');
});

test('no byte either way for the idle timeout ends both sides with 4002; traffic keeps it open', async () => {
  const client = fakeEndpoint();
  const guest = fakeEndpoint();
  const relay = relayConsole(client.endpoint, guest.endpoint, { idleTimeoutSeconds: 0.3, bytesPerSecond: 1 << 20 });
  for (let i = 0; i < 4; i++) {
    await sleep(150);
    guest.emit('tick');
  }
  assert.deepEqual(client.closes, [], 'still open after 600 ms of traffic');
  const outcome = await relay.done;
  assert.equal(outcome.code, CONSOLE_CLOSE.idle);
  assert.match(outcome.reason, /idle for 0.3 s/);
  assert.equal(client.closes[0]![0], 4002);
  assert.equal(guest.closes[0]![0], 4002);
});

test('over the byte rate the sender is paused, then resumed; nothing is dropped', async () => {
  const client = fakeEndpoint();
  const guest = fakeEndpoint();
  const relay = relayConsole(client.endpoint, guest.endpoint, { idleTimeoutSeconds: 60, bytesPerSecond: 1000 });
  guest.emit(Buffer.alloc(1500, 0x41)); // 500 bytes over the one-second burst: paused for ~0.5 s
  assert.equal(guest.pauses, 1);
  assert.equal(guest.resumes, 0);
  assert.equal(Buffer.concat(client.sent).length, 1500, 'forwarded, not dropped');
  await sleep(300);
  assert.equal(guest.resumes, 0, 'still paused after 0.3 s');
  await sleep(400);
  assert.equal(guest.resumes, 1, 'resumed after ~0.5 s');
  relay.close(CONSOLE_CLOSE.shutdown, 'bye');
  assert.deepEqual([client.closes, guest.closes], [[[1001, 'bye']], [[1001, 'bye']]]);
  await relay.done;
});

test('a slow reader (more than 1 MiB queued) pauses the writer until it drains', async () => {
  const client = fakeEndpoint();
  const guest = fakeEndpoint();
  const relay = relayConsole(client.endpoint, guest.endpoint, { idleTimeoutSeconds: 60, bytesPerSecond: 64 << 20 });
  client.queued = CONSOLE_MAX_BUFFERED_BYTES + 1;
  guest.emit('x');
  assert.equal(guest.pauses, 1);
  await sleep(120);
  assert.equal(guest.resumes, 0);
  client.queued = 0;
  await sleep(120);
  assert.equal(guest.resumes, 1);
  relay.close(1000, 'done');
  await relay.done;
});

test('close codes that cannot be sent become 4004; reasons are clipped to 123 bytes', () => {
  assert.equal(sendableCloseCode(1006), CONSOLE_CLOSE.lost);
  assert.equal(sendableCloseCode(1005), CONSOLE_CLOSE.lost);
  assert.equal(sendableCloseCode(4001), 4001);
  assert.equal(sendableCloseCode(1000), 1000);
  assert.equal(Buffer.byteLength(clipCloseReason('é'.repeat(100))), 122);
});
