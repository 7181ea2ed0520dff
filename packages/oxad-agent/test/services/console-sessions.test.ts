/**
 * ConsoleSessions (decision record 027) with a fake serial port and fake clients (unit-test fakes): one session per
 * VM, a second refused, `force` takes over (old client gets 4001), the host-wide limit, errors of the serial side
 * free the slot, closeAll ends everything with 1001.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, createLogger, type ConsoleEndpoint } from '@kvm-crm/shared';
import { ConsoleSessions } from '../../dist/services/console-sessions.js';

const VM_A = '0a0a0a0a-1111-4222-8333-444444444444';
const VM_B = '0b0b0b0b-1111-4222-8333-444444444444';
const logger = createLogger({ component: 'test', silent: true });

/** An endpoint that records closes and lets the test end it from its side. */
function fakeEnd() {
  let onClose: (code: number, reason: string) => void = () => undefined;
  const f = {
    closes: [] as Array<[number, string]>,
    end: (code: number, reason: string) => onClose(code, reason),
    endpoint: {
      send: () => undefined,
      close: (code: number, reason: string) => void f.closes.push([code, reason]),
      pause: () => undefined,
      resume: () => undefined,
      buffered: () => 0,
      onData: () => undefined,
      onClose: (l: (code: number, reason: string) => void) => void (onClose = l),
    } satisfies ConsoleEndpoint,
  };
  return f;
}

function setup(maxSessions = 4, failFor?: string) {
  const guests: Array<ReturnType<typeof fakeEnd>> = [];
  const serial = {
    connect: async (uuid: string) => {
      if (uuid === failFor) throw new ConflictError(`VM ${uuid} is shut off: its serial console can be opened only while it runs`);
      const g = fakeEnd();
      guests.push(g);
      return g.endpoint;
    },
  };
  return { sessions: new ConsoleSessions(serial, { maxSessions, idleTimeoutSeconds: 60, bytesPerSecond: 65536, logger }), guests };
}

test('one session per VM: a second is refused, force takes over and the first client gets 4001', async () => {
  const { sessions, guests } = setup();
  const first = fakeEnd();
  const done1 = (await sessions.reserve(VM_A, false, 'manager')).attach(first.endpoint);
  await assert.rejects(sessions.reserve(VM_A, false, 'manager'), /in use by another session; --force takes it over/);
  assert.equal(sessions.count, 1);
  const second = fakeEnd();
  const reserved = await sessions.reserve(VM_A, true, 'manager');
  assert.equal((await done1).code, 4001);
  assert.deepEqual(first.closes, [[4001, 'console taken over by another session (--force)']]);
  assert.equal(guests[0]!.closes[0]![0], 4001, 'the old serial connection was closed before the new one');
  const done2 = reserved.attach(second.endpoint);
  second.end(1000, 'detached');
  assert.equal((await done2).code, 1000);
  assert.equal(sessions.count, 0);
});

test('the host-wide limit refuses one more session; a closed one frees its slot', async () => {
  const { sessions } = setup(1);
  const a = fakeEnd();
  const done = (await sessions.reserve(VM_A, false, 'manager')).attach(a.endpoint);
  await assert.rejects(sessions.reserve(VM_B, false, 'manager'), /too many console sessions on this host \(1\)/);
  a.end(1000, 'detached');
  await done;
  const b = await sessions.reserve(VM_B, false, 'manager');
  b.release();
  assert.equal(sessions.count, 0);
});

test('a serial side that cannot be opened is refused with its reason and leaves no slot', async () => {
  const { sessions } = setup(4, VM_A);
  await assert.rejects(sessions.reserve(VM_A, false, 'manager'), /shut off/);
  assert.equal(sessions.count, 0);
});

test('closeAll ends every session with 1001', async () => {
  const { sessions } = setup();
  const a = fakeEnd();
  const done = (await sessions.reserve(VM_A, false, 'manager')).attach(a.endpoint);
  await sessions.reserve(VM_B, false, 'manager'); // reserved, never attached
  await sessions.closeAll();
  assert.deepEqual(a.closes, [[1001, 'the agent is shutting down']]);
  assert.equal((await done).code, 1001);
  assert.equal(sessions.count, 0);
});
