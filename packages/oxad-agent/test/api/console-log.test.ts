/**
 * The agent's `get_console_log(password, vmUuid, offset)` extension (decision 020) over a real VmStore in a
 * temporary storage root: chunks of at most 64 KiB from an offset, base64 with the next offset and the size; an
 * absent log reads empty; a wrong password, a bad uuid or offset, and a VM without a folder are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuthenticationError, InputError, NotFoundError } from '@kvm-crm/shared';
import { agentApi, CONSOLE_LOG_CHUNK_BYTES } from '../../dist/api/agent-api.js';
import { VmStore } from '../../dist/adapters/vm-store.js';

const VM = 'c0ffee00-1234-4abc-8def-0123456789ab';

test('get_console_log returns the serial log in chunks of at most 64 KiB from an offset', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-console-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const store = new VmStore(root);
  const api = agentApi({
    password: 'pw', provisioning: { submit: () => undefined }, monitoring: { submit: () => undefined },
    templates: { list: async () => [], resolve: async () => { throw new Error('none'); } }, domains: { listAll: async () => [] }, domainPrefix: 'x-',
    host: { get: async () => { throw new Error('none'); } }, vmFiles: store,
  });
  const call = (params: unknown[]) => Promise.resolve(api['get_console_log']!(params, {} as never)) as Promise<{ data: string; offset: number; nextOffset: number; size: number }>;

  await assert.rejects(call(['pw', VM, 0]), NotFoundError, 'no VM folder');
  await store.create(VM);
  assert.deepEqual(await call(['pw', VM, 0]), { data: '', offset: 0, nextOffset: 0, size: 0 }, 'no log yet');
  const log = Buffer.concat([Buffer.from('kvm-crm-guest ready\r\n\x1b[0m'), Buffer.alloc(CONSOLE_LOG_CHUNK_BYTES + 100, 0x61)]);
  writeFileSync(store.paths(VM).serialLog, log);
  const first = await call(['pw', VM.toUpperCase(), 0]);
  assert.deepEqual([first.offset, first.nextOffset, first.size], [0, CONSOLE_LOG_CHUNK_BYTES, log.length]);
  const second = await call(['pw', VM, first.nextOffset]);
  assert.deepEqual(Buffer.concat([Buffer.from(first.data, 'base64'), Buffer.from(second.data, 'base64')]), log);
  assert.equal(second.nextOffset, log.length);
  assert.deepEqual(await call(['pw', VM, log.length + 5]), { data: '', offset: log.length + 5, nextOffset: log.length + 5, size: log.length }, 'past the end');
  await assert.rejects(call(['nope', VM, 0]), AuthenticationError);
  await assert.rejects(call(['pw', '../etc', 0]), InputError);
  await assert.rejects(call(['pw', VM, -1]), InputError);
  await assert.rejects(call(['pw', VM, '0']), InputError);
});
