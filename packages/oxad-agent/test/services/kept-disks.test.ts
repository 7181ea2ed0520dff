/**
 * Kept disks (decision record 021): VmStore's kept-disks folders against a temporary storage root (removed
 * afterwards) and KeptDisksService with the real qemu-img reading the sizes of small qcow2 images.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, InputError, NotFoundError } from '@kvm-crm/shared';
import { QemuImg } from '../../dist/adapters/qemu-img.js';
import { KEPT_DISKS_ID_PATTERN, VmStore } from '../../dist/adapters/vm-store.js';
import { KeptDisksService } from '../../dist/services/kept-disks-service.js';

const logger = createLogger({ component: 'test', silent: true });
const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function setup() {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kept-disks-test-'));
  roots.push(root);
  const store = new VmStore(root);
  await store.ensureRoot();
  const qemuImg = new QemuImg();
  /** A VM folder with a 64 MiB system disk, a 32 MiB data disk and the files keepDisks drops. */
  const vm = async (vmUuid: string) => {
    await store.create(vmUuid);
    await qemuImg.createVolume(store.paths(vmUuid).disk, 64);
    await qemuImg.createVolume(store.dataDiskPath(vmUuid, 0), 32);
    await store.writeFile(vmUuid, 'serialLog', 'boot\n');
    await store.writeFile(vmUuid, 'domainXml', '<domain/>');
  };
  return { root, store, qemuImg, vm, service: new KeptDisksService(store, qemuImg, logger) };
}

test('keepDisks records the VM; listKept and list give id, VM, time and sizes in MiB; purge removes only that folder', async () => {
  const { root, store, vm, service } = await setup();
  const a = randomUUID();
  const b = randomUUID();
  await vm(a);
  assert.equal(await store.keepDisks(a, { vmName: 'web01' }), path.join(root, 'kept-disks', a));
  await vm(a); // the same uuid deleted again with keep-disks: a second folder
  assert.equal(await store.keepDisks(a), path.join(root, 'kept-disks', `${a}-1`));
  await vm(b);
  await store.keepDisks(b, { vmName: 'db01' });
  assert.deepEqual((await readdir(path.join(root, 'kept-disks', a))).sort(), ['data-vdb.qcow2', 'disk.qcow2', 'kept.json']);

  const listed = await service.list();
  assert.deepEqual(listed.map((e) => [e.id, e.vmUuid, e.vmName]).sort(), [[a, a, 'web01'], [`${a}-1`, a, ''], [b, b, 'db01']].sort());
  const first = listed.find((e) => e.id === a)!;
  assert.deepEqual(first.files.map((f) => [f.name, f.virtualSizeMiB]), [['data-vdb.qcow2', 32], ['disk.qcow2', 64]]);
  assert.ok(first.files.every((f) => typeof f.actualSizeMiB === 'number' && f.actualSizeMiB >= 1 && f.actualSizeMiB < 16), 'thin images: a few MiB allocated');
  assert.equal(first.actualSizeMiB, first.files.reduce((s, f) => s + f.actualSizeMiB!, 0));
  assert.ok(Math.abs(Date.parse(first.keptAt) - Date.now()) < 60_000);
  for (let i = 1; i < listed.length; i++) assert.ok(listed[i - 1]!.keptAt <= listed[i]!.keptAt, 'oldest first');

  assert.deepEqual(await service.purge(`${a}-1`), { id: `${a}-1`, files: ['data-vdb.qcow2', 'disk.qcow2'] });
  assert.deepEqual((await service.list()).map((e) => e.id).sort(), [a, b].sort());
  await assert.rejects(service.purge(`${a}-1`), NotFoundError, 'a second purge finds nothing');
});

test('purge refuses every id that is not <uuid> or <uuid>-<n> before touching a path', async () => {
  const { root, store, vm } = await setup();
  const a = randomUUID();
  await vm(a);
  await store.keepDisks(a);
  const victim = path.join(root, 'vms');
  for (const bad of ['..', '.', '', '../vms', `${a}/..`, `${a}/disk.qcow2`, `../kept-disks/${a}`, a.toUpperCase(), `${a}-0`, `${a}-01`, `${a}-x`, `/${a}`, `${a} `, `${a}\n`, 'kept.json', '*']) {
    await assert.rejects(store.purgeKept(bad), InputError, JSON.stringify(bad));
  }
  await assert.rejects(store.purgeKept(randomUUID()), NotFoundError);
  assert.ok((await stat(victim)).isDirectory());
  assert.ok((await stat(path.join(root, 'kept-disks', a))).isDirectory(), 'the real folder is still there');
  assert.ok(KEPT_DISKS_ID_PATTERN.test(`${a}-12`));
});

test('listKept: no kept-disks/ is an empty list; stray entries are skipped; a folder without kept.json uses its name and time', async () => {
  const { root, store } = await setup();
  assert.deepEqual(await store.listKept(), []);
  const kept = path.join(root, 'kept-disks');
  await mkdir(kept);
  await writeFile(path.join(kept, 'notes.txt'), 'x');
  await mkdir(path.join(kept, 'not-a-uuid'));
  const old = randomUUID();
  await mkdir(path.join(kept, old));
  await writeFile(path.join(kept, old, 'disk.qcow2'), 'x');
  await writeFile(path.join(kept, old, 'console.log'), 'x');
  const when = new Date('2026-01-02T03:04:05Z');
  await utimes(path.join(kept, old), when, when);
  const listed = await store.listKept();
  assert.deepEqual(listed.map((f) => ({ id: f.id, vmUuid: f.vmUuid, keptAt: f.keptAt.toISOString(), files: f.files.map((x) => path.basename(x)) })), [
    { id: old, vmUuid: old, keptAt: when.toISOString(), files: ['disk.qcow2'] },
  ]);
  assert.equal(listed[0]!.vmName, undefined);
});
