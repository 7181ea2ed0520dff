/**
 * The agent's snapshot and backup extensions (decision record 026) as XML-RPC methods, over recording fakes of the
 * services: the password is checked first, parameters are checked before the service is called, and every answer
 * goes through the XML-RPC encoder and decoder (so it is known to be encodable: no undefined, no null).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AuthenticationError, InputError, parseMethodResponse, serialiseMethodResponse } from '@kvm-crm/shared';
import { agentApi } from '../../dist/api/agent-api.js';

test('snapshot_* and backup methods: password first, uuid and struct checks, answers encodable', async () => {
  const calls: unknown[][] = [];
  const snap = { name: 's1', createdAt: '2026-12-05T00:00:00.000Z', disks: ['disk.qcow2'], complete: true };
  const api = agentApi({
    password: 'pw', provisioning: { submit: () => undefined }, monitoring: { submit: () => undefined },
    templates: { list: async () => [], resolve: async () => { throw new Error('none'); } }, domains: { listAll: async () => [] }, domainPrefix: 'x-',
    host: { get: async () => { throw new Error('none'); } },
    snapshots: {
      create: async (...a: unknown[]) => (calls.push(['create', ...a]), snap),
      list: async (...a: unknown[]) => (calls.push(['list', ...a]), [snap]),
      revert: async (...a: unknown[]) => (calls.push(['revert', ...a]), snap),
      delete: async (...a: unknown[]) => (calls.push(['delete', ...a]), { name: 's1', disks: ['disk.qcow2'] }),
    } as never,
    backups: {
      backup: async (...a: unknown[]) => (calls.push(['backup', ...a]), { path: '/b/x', vmUuid: 'u', vmName: 'n', backedUpAt: 't', disks: ['disk.qcow2'], sizeBytes: 1, removed: [], elapsedMs: 2 }),
      list: async (...a: unknown[]) => (calls.push(['list', ...a]), []),
      inspect: async (...a: unknown[]) => (calls.push(['inspect', ...a]), { vmUuid: 'u', record: { name: 'n' }, nothing: undefined }),
      restore: async (...a: unknown[]) => (calls.push(['restore', ...a]), { vmUuid: 'u', vmName: 'n', domain: 'x-u', bytes: 3, elapsedMs: 4, notes: [] }),
    } as never,
  });
  const call = async (method: string, params: unknown[]): Promise<unknown> => {
    const decoded = await parseMethodResponse(serialiseMethodResponse(await api[method]!(params, {} as never)));
    if (!('value' in decoded)) throw new Error(`fault ${decoded.fault.faultString}`);
    return decoded.value;
  };
  const vm = randomUUID().toUpperCase();
  await assert.rejects(call('snapshot_create', ['wrong', vm, 's1']), AuthenticationError);
  await assert.rejects(call('backup_vm', ['wrong', vm, { dir: '/b' }]), AuthenticationError);
  assert.equal(calls.length, 0, 'nothing ran for a wrong password');
  await assert.rejects(call('snapshot_create', ['pw', '../etc', 's1']), InputError);
  await assert.rejects(call('backup_vm', ['pw', vm, '/b']), /must be a struct/);
  await assert.rejects(call('backup_vm', ['pw', vm, { dir: '/b', keep: '2' }]), /keep must be an integer/);
  assert.equal(calls.length, 0);

  assert.deepEqual(await call('snapshot_create', ['pw', vm, 's1']), snap);
  assert.deepEqual(calls.at(-1), ['create', vm.toLowerCase(), 's1'], 'the uuid reaches the service in lower case');
  assert.deepEqual(await call('snapshot_list', ['pw', vm]), [snap]);
  assert.deepEqual(await call('snapshot_delete', ['pw', vm, 's1']), { name: 's1', disks: ['disk.qcow2'] });
  const b = (await call('backup_vm', ['pw', vm, { dir: '/b', keep: 2, record: { name: 'n' } }])) as { path: string };
  assert.equal(b.path, '/b/x');
  assert.deepEqual(calls.at(-1), ['backup', vm.toLowerCase(), '/b', { keep: 2, record: { name: 'n' } }]);
  assert.deepEqual(await call('list_backups', ['pw', { vmUuid: vm }]), []);
  assert.deepEqual(calls.at(-1), ['list', { vmUuid: vm }]);
  assert.deepEqual(await call('inspect_backup', ['pw', '/b/x']), { vmUuid: 'u', record: { name: 'n' } });
  assert.deepEqual(await call('restore_backup', ['pw', '/b/x']), { vmUuid: 'u', vmName: 'n', domain: 'x-u', bytes: 3, elapsedMs: 4, notes: [] });
});
