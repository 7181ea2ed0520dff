import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { InputError } from '@kvm-crm/shared';
import { renderSeedFiles } from '../../dist/domain/cloud-init-seed.js';
import { SeedIsoError, writeSeedIso } from '../../dist/adapters/seed-iso.js';

async function dirs(t: { after(fn: () => Promise<void>): void }): Promise<{ out: string; tmp: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-seed-test-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const tmp = path.join(root, 'tmp');
  await mkdir(tmp);
  return { out: root, tmp };
}

test('writes a cidata ISO with the seed files, Rock Ridge and Joliet names', async (t) => {
  const { out, tmp } = await dirs(t);
  const files = renderSeedFiles({
    instanceId: 'c0ffee00-1234-4abc-8def-0123456789ab',
    hostname: 'web01',
    nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.16/24'], gateway: '10.0.0.1' }],
  });
  const iso = path.join(out, 'seed.iso');
  const started = performance.now();
  await writeSeedIso({ ...files }, iso, { tmpDir: tmp });
  t.diagnostic(`writeSeedIso took ${(performance.now() - started).toFixed(1)} ms`);
  assert.equal((await stat(iso)).mode & 0o777, 0o644);
  const pvd = await execa('isoinfo', ['-d', '-i', iso]);
  assert.match(pvd.stdout, /^Volume id: cidata$/m);
  assert.match(pvd.stdout, /Rock Ridge signatures version/);
  assert.match(pvd.stdout, /Joliet with UCS level/);
  // The ISO's root directory is world-readable (`-dir-mode 0755`; the input folder itself is mkdtemp's 0700).
  assert.match((await execa('isoinfo', ['-R', '-l', '-i', iso])).stdout, /^drwxr-xr-x\s.*\s\.\s*$/m);
  for (const [name, content] of Object.entries(files)) {
    const x = await execa('isoinfo', ['-R', '-i', iso, '-x', `/${name}`], { stripFinalNewline: false });
    assert.equal(x.stdout, content, name);
  }
  assert.deepEqual(await readdir(tmp), [], 'temporary folder removed');
  assert.deepEqual(await readdir(out), ['seed.iso', 'tmp'].sort(), 'no temporary ISO left');
  // replacing an existing seed works
  await writeSeedIso({ 'meta-data': 'instance-id: x\n' }, iso, { tmpDir: tmp });
  assert.equal((await execa('isoinfo', ['-R', '-i', iso, '-x', '/meta-data'], { stripFinalNewline: false })).stdout, 'instance-id: x\n');
});

test('rejects unknown file names, missing meta-data and bad paths', async (t) => {
  const { out, tmp } = await dirs(t);
  const iso = path.join(out, 'seed.iso');
  await assert.rejects(writeSeedIso({ 'meta-data': '', '../evil': 'x' }, iso, { tmpDir: tmp }), InputError);
  await assert.rejects(writeSeedIso({ 'meta-data': '', 'user-data/x': 'x' }, iso, { tmpDir: tmp }), InputError);
  await assert.rejects(writeSeedIso({ 'user-data': '' }, iso, { tmpDir: tmp }), InputError);
  await assert.rejects(writeSeedIso({ 'meta-data': '' }, 'seed.iso', { tmpDir: tmp }), InputError);
  assert.deepEqual(await readdir(tmp), []);
});

test('a genisoimage failure is a SeedIsoError and leaves nothing behind', async (t) => {
  const { out, tmp } = await dirs(t);
  const iso = path.join(out, 'missing-dir', 'seed.iso');
  const err = await writeSeedIso({ 'meta-data': 'x' }, iso, { tmpDir: tmp }).catch((e: unknown) => e);
  assert.ok(err instanceof SeedIsoError, String(err));
  assert.match(err.message, /genisoimage/);
  assert.deepEqual(await readdir(tmp), []);
});
