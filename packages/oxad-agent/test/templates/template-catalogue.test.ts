/**
 * Unit tests of TemplateCatalogue over a temporary folder (removed afterwards), with fakes for unit tests: the
 * ImageInspector (qemu-img info) answers from a table and counts its calls; no qemu-img runs, no socket is opened.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError, NotFoundError } from '@kvm-crm/shared';
import type { ImageInfo } from '../../dist/adapters/qemu-img.js';
import { TemplateCatalogue, type ImageInspector } from '../../dist/templates/template-catalogue.js';

/** Answers `qemu-img info` from `overrides` (by real path), else a clean image of the requested format. */
class FakeInspector implements ImageInspector {
  readonly calls: Array<{ path: string; format?: string }> = [];
  readonly overrides = new Map<string, Partial<ImageInfo>>();

  async info(p: string, format?: string): Promise<ImageInfo> {
    this.calls.push({ path: p, format });
    return { format: format ?? 'raw', virtualSizeBytes: 10 * 1024 ** 3, actualSizeBytes: 1234, ...this.overrides.get(p) };
  }
  callsFor(p: string): number {
    return this.calls.filter((c) => c.path === p).length;
  }
}

let base: string;
let dir: string;
let outside: string;

async function template(name: string, json: unknown, disk?: { file: string; content?: string }): Promise<string> {
  const d = path.join(dir, name);
  await mkdir(d, { recursive: true });
  await writeFile(path.join(d, 'template.json'), typeof json === 'string' ? json : JSON.stringify(json));
  if (disk) await writeFile(path.join(d, disk.file), disk.content ?? 'disk image bytes');
  return d;
}

before(async () => {
  base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-catalogue-test-')));
  dir = path.join(base, 'templates');
  outside = path.join(base, 'outside');
  await mkdir(dir);
  await mkdir(outside);

  await template('debian12', { name: 'ignored', disk: 'debian12.qcow2', format: 'qcow2', minMemoryMiB: 128, operatingSystemDistribution: 'Debian', description: 'Debian 12' }, { file: 'debian12.qcow2', content: 'x'.repeat(100) });
  await template('rawimg', { disk: 'disk.img', format: 'raw' }, { file: 'disk.img' });
  await template('badjson', '{ "disk": "x.qcow2", ', { file: 'x.qcow2' });
  await template('nodisk', { format: 'qcow2' });
  await template('pathdisk', { disk: '../debian12/debian12.qcow2', format: 'qcow2' });
  await template('badformat', { disk: 'd.vmdk', format: 'vmdk' }, { file: 'd.vmdk' });
  await template('missingfile', { disk: 'gone.qcow2', format: 'qcow2' });
  await template('backed', { disk: 'b.qcow2', format: 'qcow2' }, { file: 'b.qcow2' });
  await template('datafile', { disk: 'd.qcow2', format: 'qcow2' }, { file: 'd.qcow2' });
  await template('lying', { disk: 'l.raw', format: 'raw' }, { file: 'l.raw' });
  await template('subdir', { disk: 'sub', format: 'raw' });
  await mkdir(path.join(dir, 'subdir', 'sub'));
  await mkdir(path.join(dir, 'empty'));
  await mkdir(path.join(dir, '.hidden'));
  await writeFile(path.join(dir, '.hidden', 'template.json'), JSON.stringify({ disk: 'h.qcow2', format: 'qcow2' }));

  // Symlinks pointing out of the catalogue: a whole template folder, a disk, a template.json.
  await mkdir(path.join(outside, 'evil'));
  await writeFile(path.join(outside, 'evil', 'template.json'), JSON.stringify({ disk: 'evil.qcow2', format: 'qcow2' }));
  await writeFile(path.join(outside, 'evil', 'evil.qcow2'), 'outside');
  await writeFile(path.join(outside, 'secret.qcow2'), 'secret');
  await symlink(path.join(outside, 'evil'), path.join(dir, 'linkdir'));
  await template('linkdisk', { disk: 'l.qcow2', format: 'qcow2' });
  await symlink(path.join(outside, 'secret.qcow2'), path.join(dir, 'linkdisk', 'l.qcow2'));
  await mkdir(path.join(dir, 'linkjson'));
  await symlink(path.join(outside, 'evil', 'template.json'), path.join(dir, 'linkjson', 'template.json'));
  // A symlink that stays inside the catalogue is fine.
  await template('inlink', { disk: 'i.qcow2', format: 'qcow2' });
  await symlink(path.join(dir, 'debian12', 'debian12.qcow2'), path.join(dir, 'inlink', 'i.qcow2'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function rejects(p: Promise<unknown>, cls: typeof InputError | typeof NotFoundError, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

test('resolve by name and by name/file gives the validated template', async () => {
  const images = new FakeInspector();
  const cat = new TemplateCatalogue(dir, images);
  const byName = await cat.resolve('debian12');
  const disk = path.join(dir, 'debian12', 'debian12.qcow2');
  assert.deepEqual(byName, {
    metadata: { name: 'debian12', disk: 'debian12.qcow2', format: 'qcow2', minMemoryMiB: 128, operatingSystemDistribution: 'Debian', description: 'Debian 12' },
    diskPath: disk,
    sizeBytes: 100,
    virtualSizeBytes: 10 * 1024 ** 3,
  });
  assert.deepEqual(await cat.resolve('debian12/debian12.qcow2'), byName);
  assert.deepEqual(images.calls[0], { path: disk, format: 'qcow2' }, 'inspected with the declared format');
  const raw = await cat.resolve('rawimg/disk.img');
  assert.equal(raw.metadata.format, 'raw');
  assert.equal(raw.diskPath, path.join(dir, 'rawimg', 'disk.img'));
  const inlink = await cat.resolve('inlink');
  assert.equal(inlink.diskPath, disk, 'a symlink inside the catalogue resolves to its target');
});

test('wrong file or unknown template → NotFoundError', async () => {
  const cat = new TemplateCatalogue(dir, new FakeInspector());
  await rejects(cat.resolve('debian12/other.qcow2'), NotFoundError, /^template debian12 has no disk other\.qcow2 \(it has debian12\.qcow2\)$/);
  await rejects(cat.resolve('nope'), NotFoundError, /^no template "nope" in the catalogue$/);
  await rejects(cat.resolve('empty'), NotFoundError, /^no template "empty"/);
});

test('path tricks → InputError: ../, absolute, 3-part, dot names', async () => {
  const cat = new TemplateCatalogue(dir, new FakeInspector());
  const cases: Array<[string, RegExp]> = [
    ['../outside', /^invalid template name: "\.\."$/],
    ['..', /invalid template name/],
    ['debian12/..', /invalid template file name: "\.\."$/],
    ['debian12/../../etc', /^invalid template reference/],
    ['/etc/passwd', /^invalid template reference/],
    ['/debian12', /^invalid template name: ""$/],
    ['a/b/c', /^invalid template reference "a\/b\/c"$/],
    ['.hidden', /invalid template name/],
    ['', /invalid template name/],
    ['debian12/', /invalid template file name: ""/],
    ['deb ian', /invalid template name/],
  ];
  for (const [ref, message] of cases) await rejects(cat.resolve(ref), InputError, message);
});

test('symlinks pointing out of the catalogue → InputError', async () => {
  const images = new FakeInspector();
  const cat = new TemplateCatalogue(dir, images);
  await rejects(cat.resolve('linkdir'), InputError, /^template linkdir: path escapes the template catalogue$/);
  await rejects(cat.resolve('linkdisk'), InputError, /^template linkdisk: path escapes the template catalogue$/);
  await rejects(cat.resolve('linkdisk/l.qcow2'), InputError, /path escapes the template catalogue/);
  await rejects(cat.resolve('linkjson'), InputError, /^template linkjson: path escapes the template catalogue$/);
  assert.equal(images.calls.length, 0, 'nothing outside was inspected');
});

test('a bad template.json → InputError', async () => {
  const cat = new TemplateCatalogue(dir, new FakeInspector());
  await rejects(cat.resolve('badjson'), InputError, /^template badjson: template\.json is not valid JSON$/);
  await rejects(cat.resolve('nodisk'), InputError, /^template nodisk: template\.json needs a plain "disk" file name$/);
  await rejects(cat.resolve('pathdisk'), InputError, /needs a plain "disk" file name/);
  await rejects(cat.resolve('badformat'), InputError, /^template badformat: format must be qcow2 or raw$/);
  await rejects(cat.resolve('subdir'), InputError, /^template subdir: sub is not a regular file$/);
});

test('a disk file named in template.json but missing → NotFoundError without the host path', async () => {
  const cat = new TemplateCatalogue(dir, new FakeInspector());
  await assert.rejects(cat.resolve('missingfile'), (err: unknown) => {
    assert.ok(err instanceof NotFoundError, `expected NotFoundError, got ${String(err)}`);
    assert.equal(err.message, 'template missingfile: disk gone.qcow2 is missing');
    assert.ok(!err.message.includes(base), 'no host path in a message that reaches the clearinghouse');
    return true;
  });
});

test('images with a backing file, a data file or another format → InputError, and not cached', async () => {
  const images = new FakeInspector();
  const cat = new TemplateCatalogue(dir, images);
  const backed = path.join(dir, 'backed', 'b.qcow2');
  images.overrides.set(backed, { backingFilename: '/etc/shadow', backingFormat: 'raw' });
  images.overrides.set(path.join(dir, 'datafile', 'd.qcow2'), { dataFile: '/dev/sda' });
  images.overrides.set(path.join(dir, 'lying', 'l.raw'), { format: 'qcow2' });
  await rejects(cat.resolve('backed'), InputError, /^template backed: image has a backing file; templates must be self-contained$/);
  await rejects(cat.resolve('datafile'), InputError, /^template datafile: image has an external data file; not allowed$/);
  await rejects(cat.resolve('lying'), InputError, /^template lying: image format is qcow2, template\.json says raw$/);
  await rejects(cat.resolve('backed'), InputError, /backing file/);
  assert.equal(images.callsFor(backed), 2, 'a failed validation is not cached');
  images.overrides.delete(backed);
  assert.equal((await cat.resolve('backed')).diskPath, backed, 'fixed image accepted');
});

test('validation is cached per unchanged file, and redone when the file changes', async () => {
  const images = new FakeInspector();
  const cat = new TemplateCatalogue(dir, images);
  const disk = path.join(dir, 'rawimg', 'disk.img');
  await cat.resolve('rawimg');
  await cat.resolve('rawimg/disk.img');
  await cat.resolve('rawimg');
  assert.equal(images.callsFor(disk), 1);

  await writeFile(disk, 'a different, longer image content');
  await utimes(disk, new Date(), new Date(Date.now() + 5000));
  const t = await cat.resolve('rawimg');
  assert.equal(images.callsFor(disk), 2, 'a changed file is inspected again');
  assert.equal(t.sizeBytes, 'a different, longer image content'.length);
  await cat.resolve('rawimg');
  assert.equal(images.callsFor(disk), 2);
});

test('list() returns the well-formed templates in name order and skips broken entries', async () => {
  const cat = new TemplateCatalogue(dir, new FakeInspector());
  const names = (await cat.list()).map((m) => m.name);
  // template.json is all list() reads: backed, datafile, inlink, linkdisk, lying, missingfile and subdir have a
  // well-formed one (their disks fail only in resolve); badjson, nodisk, pathdisk, badformat, empty, .hidden, and
  // linkdir/linkjson (template.json outside the catalogue) are skipped.
  assert.deepEqual(names, ['backed', 'datafile', 'debian12', 'inlink', 'linkdisk', 'lying', 'missingfile', 'rawimg', 'subdir']);
  const deb = (await cat.list()).find((m) => m.name === 'debian12');
  assert.equal(deb?.minMemoryMiB, 128);
  assert.deepEqual(await new TemplateCatalogue(path.join(base, 'does-not-exist'), new FakeInspector()).list(), []);
});
