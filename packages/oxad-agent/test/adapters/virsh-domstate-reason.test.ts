/** `virsh domstate --reason` output as libvirt 9.0 prints it (seen on this project's test host, decision record 021). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDomStateReason } from '../../dist/adapters/virsh.js';

test('parseDomStateReason splits the state and the reason in parentheses', () => {
  assert.deepEqual(parseDomStateReason('shut off (destroyed)\n\n'), { state: 'shut off', reason: 'destroyed' });
  assert.deepEqual(parseDomStateReason('shut off (shutdown)\n'), { state: 'shut off', reason: 'shutdown' });
  assert.deepEqual(parseDomStateReason('shut off (unknown)'), { state: 'shut off', reason: 'unknown' });
  assert.deepEqual(parseDomStateReason('running (booted)\n'), { state: 'running', reason: 'booted' });
  assert.deepEqual(parseDomStateReason('paused (user)'), { state: 'paused', reason: 'user' });
  assert.deepEqual(parseDomStateReason('in shutdown (user)'), { state: 'in shutdown', reason: 'user' });
  assert.deepEqual(parseDomStateReason('running\n'), { state: 'running', reason: '' });
});
