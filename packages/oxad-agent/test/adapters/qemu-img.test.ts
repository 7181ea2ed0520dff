import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ConflictError, InputError } from '@kvm-crm/shared';
import { QemuImg, QemuImgError, parseImageInfo } from '../../dist/adapters/qemu-img.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-qemu-img-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('overlay of a qcow2 template: info shows the backing file and format', async (t) => {
  const dir = await tempDir(t);
  const template = path.join(dir, 'template.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', template, '64M']);
  const q = new QemuImg();
  const overlay = path.join(dir, 'disk.qcow2');
  const started = performance.now();
  await q.createOverlay({ backingPath: template, backingFormat: 'qcow2', overlayPath: overlay });
  t.diagnostic(`createOverlay took ${(performance.now() - started).toFixed(1)} ms`);
  const info = await q.info(overlay);
  assert.equal(info.format, 'qcow2');
  assert.equal(info.virtualSizeBytes, 64 * 1024 * 1024);
  assert.ok(info.actualSizeBytes > 0);
  assert.equal(info.backingFilename, template);
  assert.equal(info.backingFormat, 'qcow2');
  assert.equal(info.dataFile, undefined);
  const tinfo = await q.info(template, 'qcow2');
  assert.equal(tinfo.backingFilename, undefined);
});

test('overlay with sizeMiB: made at that virtual size over its backing file, in one qemu-img run; a bad size is refused', async (t) => {
  const dir = await tempDir(t);
  const template = path.join(dir, 'template.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', template, '64M']);
  const q = new QemuImg();
  const overlay = path.join(dir, 'grown.qcow2');
  await q.createOverlay({ backingPath: template, backingFormat: 'qcow2', overlayPath: overlay, sizeMiB: 200 });
  const info = await q.info(overlay);
  assert.equal(info.virtualSizeBytes, 200 * 1024 * 1024);
  assert.equal(info.backingFilename, template);
  assert.equal(info.backingFormat, 'qcow2');
  for (const sizeMiB of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(q.createOverlay({ backingPath: template, backingFormat: 'qcow2', overlayPath: path.join(dir, 'bad.qcow2'), sizeMiB }), InputError, String(sizeMiB));
  }
  assert.deepEqual((await readdir(dir)).sort(), ['grown.qcow2', 'template.qcow2'], 'nothing left by the refused ones');
});

test('overlay of a raw template, and a full clone with convert', async (t) => {
  const dir = await tempDir(t);
  const raw = path.join(dir, 'template.raw');
  await execa('qemu-img', ['create', '-q', '-f', 'raw', raw, '16M']);
  const q = new QemuImg();
  await q.createOverlay({ backingPath: raw, backingFormat: 'raw', overlayPath: path.join(dir, 'o.qcow2') });
  assert.equal((await q.info(path.join(dir, 'o.qcow2'))).backingFormat, 'raw');
  const clone = path.join(dir, 'clone.qcow2');
  await q.convert(path.join(dir, 'o.qcow2'), clone, 'qcow2', { sourceFormat: 'qcow2' });
  const info = await q.info(clone);
  assert.equal(info.format, 'qcow2');
  assert.equal(info.backingFilename, undefined, 'a full clone has no backing file');
  assert.equal(info.virtualSizeBytes, 16 * 1024 * 1024);
});

test('refuses to overwrite, cleans up after failures, reports stderr', async (t) => {
  const dir = await tempDir(t);
  const q = new QemuImg();
  const template = path.join(dir, 't.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', template, '1M']);
  const overlay = path.join(dir, 'disk.qcow2');
  await q.createOverlay({ backingPath: template, backingFormat: 'qcow2', overlayPath: overlay });
  const before = (await stat(overlay)).mtimeMs;
  await assert.rejects(q.createOverlay({ backingPath: template, backingFormat: 'qcow2', overlayPath: overlay }), ConflictError);
  assert.equal((await stat(overlay)).mtimeMs, before);
  await assert.rejects(q.convert(template, overlay, 'qcow2'), ConflictError);

  const missing = path.join(dir, 'missing.qcow2');
  const err = await q.createOverlay({ backingPath: missing, backingFormat: 'qcow2', overlayPath: path.join(dir, 'o2.qcow2') }).catch((e: unknown) => e);
  assert.ok(err instanceof QemuImgError, String(err));
  assert.match(err.message, /missing\.qcow2/);
  assert.match(err.stderr, /No such file/);
  assert.deepEqual((await readdir(dir)).sort(), ['disk.qcow2', 't.qcow2'], 'no partial overlay left');

  const infoErr = await q.info(missing).catch((e: unknown) => e);
  assert.ok(infoErr instanceof QemuImgError);
  assert.match(infoErr.message, /No such file/);
});

test('rejects bad paths and formats before running qemu-img', async () => {
  const q = new QemuImg({ binary: '/nonexistent/qemu-img' });
  await assert.rejects(q.createOverlay({ backingPath: 'rel.qcow2', backingFormat: 'qcow2', overlayPath: '/tmp/x.qcow2' }), InputError);
  await assert.rejects(q.createOverlay({ backingPath: '/a/../b', backingFormat: 'qcow2', overlayPath: '/tmp/x.qcow2' }), InputError);
  await assert.rejects(q.createOverlay({ backingPath: '/a/b', backingFormat: 'vmdk', overlayPath: '/tmp/x.qcow2' }), InputError);
  await assert.rejects(q.createOverlay({ backingPath: '/a/b', backingFormat: 'qcow2', overlayPath: '-f' }), InputError);
  await assert.rejects(q.info('/tmp/x\n'), InputError);
  await assert.rejects(q.info('/tmp/x', 'luks'), InputError);
  await assert.rejects(q.convert('/a', '/b', 'vdi'), InputError);
  // a missing binary is an upstream failure, not a crash
  await assert.rejects(q.info('/tmp/x'), (e: unknown) => e instanceof QemuImgError && /could not be started/.test(e.message));
});

test('parseImageInfo reads the JSON fields, including an external data file', () => {
  const info = parseImageInfo(
    JSON.stringify({
      'virtual-size': 1024,
      'actual-size': 512,
      format: 'qcow2',
      'backing-filename': '/t.qcow2',
      'backing-filename-format': 'qcow2',
      'format-specific': { type: 'qcow2', data: { 'data-file': '/d.raw' } },
    }),
  );
  assert.deepEqual(info, {
    format: 'qcow2',
    virtualSizeBytes: 1024,
    actualSizeBytes: 512,
    backingFilename: '/t.qcow2',
    backingFormat: 'qcow2',
    dataFile: '/d.raw',
  });
  assert.throws(() => parseImageInfo('not json'), QemuImgError);
  assert.throws(() => parseImageInfo('{}'), QemuImgError);
});

test('createVolume makes an empty qcow2 of the size asked; resize grows it and refuses to shrink', async (t) => {
  const dir = await tempDir(t);
  const q = new QemuImg();
  const vol = path.join(dir, 'data-vdb.qcow2');
  await q.createVolume(vol, 48);
  assert.equal((await q.info(vol, 'qcow2')).virtualSizeBytes, 48 * 1024 * 1024);
  await assert.rejects(q.createVolume(vol, 48), ConflictError);
  await q.resize(vol, 100);
  assert.equal((await q.info(vol, 'qcow2')).virtualSizeBytes, 100 * 1024 * 1024);
  await assert.rejects(q.resize(vol, 50), QemuImgError, 'no --shrink');
  assert.equal((await q.info(vol, 'qcow2')).virtualSizeBytes, 100 * 1024 * 1024);
  await assert.rejects(q.createVolume(path.join(dir, 'x.qcow2'), 0), InputError);
  await assert.rejects(q.resize('relative.qcow2', 10), InputError);
});
