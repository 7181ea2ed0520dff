/**
 * The manifest plan (decision 024): per verb, what would run for each manifest VM against the stored VMs; a VM
 * matches when host, sizes, template and address agree, else it needs a rebuild (listed, never touched); the
 * hostname is sethostnames' business; steps grouped per host with placed VMs last.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differences, planManifest, stepsByHost, type StoredVm } from '../../../dist/services/manifest/manifest-plan.js';
import type { ManifestVm } from '../../../dist/services/manifest/manifest-file.js';

const want = (o: Partial<ManifestVm> = {}): ManifestVm & { template: string } => ({
  name: 'web1', host: 'kvm1', hostname: 'web1.x.internal', ip: '10.0.0.5', vcpus: 2, memoryMiB: 4096, maxMemoryMiB: 8192, diskMiB: 61440, dataDisksMiB: [61440],
  template: 'deb', source: 'm.json', ...o,
});
const stored = (o: Partial<StoredVm> = {}): StoredVm => ({
  uuid: 'u1', name: 'web1', host: 'kvm1', state: 'created (stopped)', vcpus: 2, memoryMiB: 4096, maxMemoryMiB: 8192, diskMiB: 61440, dataDisksMiB: [61440],
  ip: '10.0.0.5', hostname: 'web1.x.internal', template: 'deb', ...o,
});

test('build: create what is missing with its sizes; unchanged what matches; rebuild-needed with the differences', () => {
  assert.deepEqual(planManifest('build', [want()], []), [{ kind: 'create', vm: 'web1', host: 'kvm1', uuid: '', detail: '2 vCPU, 4G (max 8G), disk 60G + 60G, ip 10.0.0.5, hostname web1.x.internal, template deb' }]);
  assert.deepEqual(planManifest('build', [want({ host: undefined, ip: undefined, hostname: undefined, maxMemoryMiB: undefined, dataDisksMiB: [], memoryMiB: 768 })], [])[0], { kind: 'create', vm: 'web1', host: '(placed)', uuid: '', detail: '2 vCPU, 768M, disk 60G, template deb' });
  assert.deepEqual(planManifest('build', [want()], [stored()])[0], { kind: 'unchanged', vm: 'web1', host: 'kvm1', uuid: 'u1', detail: 'matches (created (stopped))' });
  assert.equal(planManifest('build', [want({ hostname: 'other' })], [stored()])[0]?.kind, 'unchanged', 'the hostname is not part of the match');
  assert.equal(planManifest('build', [want({ host: undefined, ip: undefined })], [stored({ host: 'kvm9', ip: '10.0.0.9' })])[0]?.kind, 'unchanged', 'no host or address in the manifest: any');
  const r = planManifest('build', [want({ vcpus: 4, host: 'kvm2', dataDisksMiB: [] })], [stored()])[0];
  assert.deepEqual([r?.kind, r?.host, r?.detail], ['rebuild-needed', 'kvm1', 'host: kvm1 → kvm2; vcpus: 2 → 4; dataDisks: [60G] → []']);
});

test('differences: memory ceiling absent means the boot memory; template and address compared', () => {
  assert.deepEqual(differences(want({ maxMemoryMiB: undefined, memoryMiB: 4096 }), stored({ maxMemoryMiB: null })), []);
  assert.deepEqual(differences(want({ maxMemoryMiB: undefined }), stored()), ['maxMemory: 8G → 4G']);
  assert.deepEqual(differences(want({ template: 'other', ip: '10.0.0.6' }), stored({ diskMiB: null })), ['disk: - → 60G', 'template: deb → other', 'ip: 10.0.0.5 → 10.0.0.6']);
});

test('start, stop, delete, dumpxml and sethostnames by state', () => {
  const kinds = (verb: Parameters<typeof planManifest>[0], s: StoredVm[], w = want()) => planManifest(verb, [w], s).map((x) => `${x.kind}:${x.detail}`);
  assert.deepEqual(kinds('start', []), ['missing:not built']);
  assert.deepEqual(kinds('start', [stored()]), ['start:from created (stopped)']);
  assert.deepEqual(kinds('start', [stored({ state: 'running' })]), ['unchanged:running']);
  assert.deepEqual(kinds('start', [stored({ state: 'creating...' })]), ['busy:creating...']);
  assert.deepEqual(kinds('stop', [stored({ state: 'running' })]), ['stop:running']);
  assert.deepEqual(kinds('stop', [stored({ state: 'stopped' })]), ['unchanged:stopped']);
  assert.deepEqual(kinds('delete', []), ['unchanged:not there']);
  assert.deepEqual(kinds('delete', [stored({ state: 'running' })]), ['delete:running']);
  assert.deepEqual(kinds('dumpxml', [stored()]), ['dumpxml:web1.xml']);
  assert.deepEqual(kinds('sethostnames', [stored({ hostname: null })]), ['set-hostname:web1 → web1.x.internal: seed rewritten, applied at next boot']);
  assert.deepEqual(kinds('sethostnames', [stored({ hostname: null, state: 'running' })]), ['set-hostname:web1 → web1.x.internal: seed rewritten, applied at next boot; running: needs a reboot']);
  assert.deepEqual(planManifest('sethostnames', [want()], [stored({ hostname: null, state: 'running' })], { reboot: true }).map((x) => x.detail), ['web1 → web1.x.internal: seed rewritten, running: reboot to apply']);
  assert.deepEqual(planManifest('sethostnames', [want()], [stored({ hostname: null })], { reboot: true }).map((x) => x.detail), ['web1 → web1.x.internal: seed rewritten, applied at next boot'], 'a stopped VM is not started by --reboot');
  assert.deepEqual(kinds('sethostnames', [stored()]), ['unchanged:web1.x.internal']);
  assert.deepEqual(kinds('sethostnames', [stored()], want({ hostname: undefined })), ['unchanged:no hostname in the manifest']);
});

test('steps by host: hosts by name, placed last, manifest order inside', () => {
  const steps = planManifest('build', [want({ name: 'b', host: 'kvm2' }), want({ name: 'p', host: undefined, ip: undefined }), want({ name: 'a', host: 'kvm1' }), want({ name: 'c', host: 'kvm2' })], []);
  assert.deepEqual(stepsByHost(steps).map((g) => [g.host, g.steps.map((s) => s.vm)]), [['kvm1', ['a']], ['kvm2', ['b', 'c']], ['(placed)', ['p']]]);
});
