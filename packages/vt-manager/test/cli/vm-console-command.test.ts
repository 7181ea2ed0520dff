/**
 * vtctl vm console's pure parts (src/cli/vm-console-command.ts): the console URL made from the admin URL, and the
 * detach key (Ctrl-]) splitting what was typed. The session itself runs as a process in test/e2e/vm-console.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consoleUrl, DETACH_BYTE, splitAtDetach } from '../../dist/cli/vm-console-command.js';

test('console URL: same host and port as the admin URL, wss, path /console, vm and force in the query, no credentials', () => {
  assert.equal(consoleUrl('https://u:p@mgr.example:8445/xmlrpc/admin', 'web 01', false).toString(), 'wss://mgr.example:8445/console?vm=web+01');
  assert.equal(consoleUrl('https://127.0.0.1:9/xmlrpc/admin?x=1', '0a0a0a0a-1111-4222-8333-444444444444', true).toString(), 'wss://127.0.0.1:9/console?vm=0a0a0a0a-1111-4222-8333-444444444444&force=1');
  assert.throws(() => consoleUrl('http://127.0.0.1:9/xmlrpc/admin', 'x', false), /must be https/);
});

test('Ctrl-] detaches: the bytes before it are sent, the rest is dropped', () => {
  assert.equal(DETACH_BYTE, 0x1d);
  assert.deepEqual(splitAtDetach(Buffer.from('ls\r')), { send: Buffer.from('ls\r'), detach: false });
  assert.deepEqual(splitAtDetach(Buffer.from('ab\x1dcd')), { send: Buffer.from('ab'), detach: true });
  assert.deepEqual(splitAtDetach(Buffer.from('\x1d')), { send: Buffer.alloc(0), detach: true });
});
