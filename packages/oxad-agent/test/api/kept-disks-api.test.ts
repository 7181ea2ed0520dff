/**
 * The agent's `list_kept_disks(password)` and `purge_kept_disks(password, id)` extensions (decision record 021) over
 * a real VmStore and KeptDisksService in a temporary storage root (removed afterwards), through the XML-RPC codec so
 * the answers are known to be encodable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { AuthenticationError, createLogger, InputError, NotFoundError, parseMethodResponse, serialiseMethodResponse } from '@kvm-crm/shared';
import { agentApi } from '../../dist/api/agent-api.js';
import { QemuImg } from '../../dist/adapters/qemu-img.js';
import { VmStore } from '../../dist/adapters/vm-store.js';
import { KeptDisksService } from '../../dist/services/kept-disks-service.js';

test('list_kept_disks lists the kept folders with sizes; purge_kept_disks removes one; bad ids and passwords are refused', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-kept-api-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const store = new VmStore(root);
  const qemuImg = new QemuImg();
  const api = agentApi({
    password: 'pw', provisioning: { submit: () => undefined }, monitoring: { submit: () => undefined },
    templates: { list: async () => [], resolve: async () => { throw new Error('none'); } }, domains: { listAll: async () => [] }, domainPrefix: 'x-',
    host: { get: async () => { throw new Error('none'); } }, keptDisks: new KeptDisksService(store, qemuImg, createLogger({ component: 'test', silent: true })),
  });
  // Every answer goes through the XML-RPC encoder and decoder, as on the wire.
  const call = async (method: string, params: unknown[]): Promise<unknown> => {
    const decoded = await parseMethodResponse(serialiseMethodResponse(await api[method]!(params, {} as never)));
    if (!('value' in decoded)) throw new Error(`fault ${decoded.fault.faultString}`);
    return decoded.value;
  };

  assert.deepEqual(await call('list_kept_disks', ['pw']), []);
  const vm = randomUUID();
  await store.create(vm);
  await qemuImg.createVolume(store.paths(vm).disk, 100);
  await store.keepDisks(vm, { vmName: 'web01' });

  const listed = (await call('list_kept_disks', ['pw'])) as Array<Record<string, unknown>>;
  assert.equal(listed.length, 1);
  assert.deepEqual({ ...listed[0], keptAt: typeof listed[0]!.keptAt }, {
    id: vm, vmUuid: vm, vmName: 'web01', keptAt: 'string', actualSizeMiB: listed[0]!.actualSizeMiB,
    files: [{ name: 'disk.qcow2', virtualSizeMiB: 100, actualSizeMiB: (listed[0]!.files as Array<{ actualSizeMiB: number }>)[0]!.actualSizeMiB }],
  });

  await assert.rejects(call('list_kept_disks', ['nope']), AuthenticationError);
  await assert.rejects(call('purge_kept_disks', ['nope', vm]), AuthenticationError);
  await assert.rejects(call('purge_kept_disks', ['pw', '../vms']), InputError);
  await assert.rejects(call('purge_kept_disks', ['pw', randomUUID()]), NotFoundError);
  assert.deepEqual(await call('purge_kept_disks', ['pw', vm]), { id: vm, files: ['disk.qcow2'] });
  assert.equal(existsSync(path.join(root, 'kept-disks', vm)), false);
  assert.deepEqual(await call('list_kept_disks', ['pw']), []);
});

test('without keptDisks the methods are not offered', () => {
  const api = agentApi({
    password: 'pw', provisioning: { submit: () => undefined }, monitoring: { submit: () => undefined },
    templates: { list: async () => [], resolve: async () => { throw new Error('none'); } }, domains: { listAll: async () => [] }, domainPrefix: 'x-',
    host: { get: async () => { throw new Error('none'); } },
  });
  assert.equal(api['list_kept_disks'], undefined);
  assert.equal(api['purge_kept_disks'], undefined);
});
