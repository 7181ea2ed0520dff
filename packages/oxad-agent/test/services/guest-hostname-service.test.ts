/**
 * set_guest_hostname's seed rewrite (decision 024 §8) on real seed ISOs: written by writeSeedIso (genisoimage), read
 * back by readSeedIso (isoinfo). The VM lock, domain state and medium swap are fakes (unit test); the live medium
 * swap is covered by the e2e test/e2e/manifest.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, createLogger, InputError, NotFoundError } from '@kvm-crm/shared';
import { renderSeedFiles } from '../../dist/domain/cloud-init-seed.js';
import { readSeedIso, writeSeedIso } from '../../dist/adapters/seed-iso.js';
import { GuestHostnameService } from '../../dist/services/guest-hostname-service.js';

const logger = createLogger({ component: 'test', silent: true });
const UUID = 'c0ffee00-1234-4abc-8def-0123456789ab';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk3wDrnS5n0xX0Y6W3vY5c1QmHq4eQeV0Dk7t3wq9nN test@host';

async function setup(t: { after(fn: () => Promise<void>): void }, state: string | undefined, swapFails = false) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-rehost-test-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const vmDir = path.join(root, UUID);
  await mkdir(vmDir);
  const seed = path.join(vmDir, 'seed.iso');
  const locked: string[] = [];
  const swaps: Array<[string, string]> = [];
  const svc = new GuestHostnameService({
    vms: { exists: async (u: string) => u === UUID, paths: () => ({ seed }) },
    readSeed: (iso: string) => readSeedIso(iso),
    writeSeed: (f: Record<string, string>, iso: string) => writeSeedIso(f, iso),
    lock: { exclusive: async <T>(u: string, task: () => Promise<T>) => { locked.push(u); return task(); } },
    domState: async () => state,
    replaceSeedMedium: async (d: string, iso: string) => { if (swapFails) throw new Error('tray stuck'); swaps.push([d, iso]); },
    domainPrefix: 'kvmcrm-',
    logger,
  });
  return { svc, seed, locked, swaps };
}

test('rewrites local-hostname and hostname/fqdn, keeps the instance id and every other line; running: swaps the medium', async (t) => {
  const { svc, seed, locked, swaps } = await setup(t, 'running');
  const original = renderSeedFiles({
    instanceId: UUID, hostname: 'tdh-m01',
    nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.16/24'], gateway: '10.0.0.1' }],
    users: [{ name: 'ops', sshAuthorizedKeys: [KEY] }], sshAuthorizedKeys: [KEY],
  });
  await writeSeedIso({ ...original }, seed);
  const r = await svc.setHostname(UUID.toUpperCase(), 'tdh-m01.tdh.internal');
  assert.deepEqual(r, { previous: 'tdh-m01', instanceId: UUID, medium: 'swapped' });
  assert.deepEqual(locked, [UUID]);
  assert.deepEqual(swaps, [[`kvmcrm-${UUID}`, seed]]);
  const back = await readSeedIso(seed);
  assert.deepEqual(Object.keys(back).sort(), ['meta-data', 'network-config', 'user-data']);
  assert.equal(back['meta-data'], `instance-id: ${UUID}\nlocal-hostname: tdh-m01.tdh.internal\n`);
  assert.equal(back['network-config'], original['network-config']);
  // What the seed builder writes for the new name, byte for byte.
  const expected = renderSeedFiles({ ...{ instanceId: UUID, nics: [] }, hostname: 'tdh-m01.tdh.internal', users: [{ name: 'ops', sshAuthorizedKeys: [KEY] }], sshAuthorizedKeys: [KEY] });
  assert.equal(back['user-data'], expected['user-data']);
  assert.match(back['user-data']!, /^#cloud-config\nhostname: tdh-m01\nfqdn: tdh-m01\.tdh\.internal\n/);
  assert.equal((await stat(seed)).mode & 0o777, 0o644);

  // And back to an undotted name: the fqdn line goes, a YAML-ambiguous word is quoted as the builder quotes it.
  const r2 = await svc.setHostname(UUID, 'yes');
  assert.equal(r2.previous, 'tdh-m01.tdh.internal');
  const again = await readSeedIso(seed);
  assert.equal(again['meta-data'], `instance-id: ${UUID}\nlocal-hostname: "yes"\n`);
  assert.match(again['user-data']!, /^#cloud-config\nhostname: "yes"\nssh_authorized_keys:\n/);
  assert.doesNotMatch(again['user-data']!, /fqdn/);
});

test('a stopped VM: seed rewritten, no medium swap; a failed swap is reported, not thrown', async (t) => {
  const stopped = await setup(t, 'shut off');
  await writeSeedIso({ ...renderSeedFiles({ instanceId: UUID, hostname: 'a1', nics: [] }) }, stopped.seed);
  assert.equal((await stopped.svc.setHostname(UUID, 'b1')).medium, 'not running');
  assert.deepEqual(stopped.swaps, []);
  assert.match((await readSeedIso(stopped.seed))['meta-data']!, /local-hostname: b1\n/);

  const stuck = await setup(t, 'running', true);
  await writeSeedIso({ ...renderSeedFiles({ instanceId: UUID, hostname: 'a1', nics: [] }) }, stuck.seed);
  assert.equal((await stuck.svc.setHostname(UUID, 'c1')).medium, 'not swapped: tray stuck');
  assert.match((await readSeedIso(stuck.seed))['meta-data']!, /local-hostname: c1\n/);
});

test('refuses bad names, unknown VMs, missing seeds and foreign seeds; the seed is left as it was', async (t) => {
  const { svc, seed } = await setup(t, undefined);
  await assert.rejects(svc.setHostname(UUID, 'bad_name'), InputError);
  await assert.rejects(svc.setHostname(UUID, 'a'.repeat(64)), InputError);
  await assert.rejects(svc.setHostname(UUID, 'x.-y'), InputError);
  await assert.rejects(svc.setHostname('../etc', 'ok'), InputError);
  await assert.rejects(svc.setHostname('c0ffee00-1234-4abc-8def-0123456789ac', 'ok'), NotFoundError);
  await assert.rejects(svc.setHostname(UUID, 'ok'), NotFoundError); // no seed.iso yet
  const other = 'deadbeef-1234-4abc-8def-0123456789ab';
  await writeSeedIso({ ...renderSeedFiles({ instanceId: other, hostname: 'a1', nics: [] }) }, seed);
  await assert.rejects(svc.setHostname(UUID, 'ok'), ConflictError);
  assert.match((await readSeedIso(seed))['meta-data']!, new RegExp(`instance-id: ${other}\nlocal-hostname: a1\n`));
});
