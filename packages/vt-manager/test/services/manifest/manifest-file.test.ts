/**
 * The seed-004 manifest format (decision 024): parsed unchanged, units turned into MiB, numDisks/diskSize split into
 * the system disk and data disks, unknown keys and bad values named with the file and the JSON path, several files
 * merged like mergeAllManifests.sh (duplicates named with both files), the template fallback, and the check of what
 * vtctl sends the manager.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '@kvm-crm/shared';
import { checkResolvedVms, mergeManifests, parseManifestFile, withTemplate } from '../../../dist/services/manifest/manifest-file.js';

const SEED_004 = JSON.stringify([
  { host: 't01', vmspecs: [{ name: 'tdh-m01', hostname: 'tdh-m01.tdh.internal', ipaddress: '173.30.5.11', vcpus: 2, memoryGb: 4, maxMemoryGb: 8, numDisks: 1, diskSize: 60, description: 'TDH master' }] },
]);

test('the seed-004 example parses unchanged into MiB', () => {
  assert.deepEqual(parseManifestFile(SEED_004, 'm.json'), [{
    name: 'tdh-m01', host: 't01', hostname: 'tdh-m01.tdh.internal', ip: '173.30.5.11', vcpus: 2, memoryMiB: 4096, maxMemoryMiB: 8192,
    diskMiB: 60 * 1024, dataDisksMiB: [], description: 'TDH master', source: 'm.json',
  }]);
});

test('numDisks 3: the system disk and two data disks of diskSize; a missing host means placed; the extras are kept', () => {
  const [vm] = parseManifestFile(JSON.stringify([{ vmspecs: [{ name: 'd', vcpus: 1, memoryGb: 0.5, numDisks: 3, diskSize: 10, template: 'deb/deb.qcow2', bridges: ['br0'], sshKeys: ['ssh-ed25519 AAAA k'] }] }]), 'f');
  assert.ok(vm);
  assert.equal(vm.host, undefined);
  assert.deepEqual([vm.memoryMiB, vm.diskMiB, vm.dataDisksMiB, vm.template, vm.bridges, vm.sshKeys], [512, 10240, [10240, 10240], 'deb/deb.qcow2', ['br0'], ['ssh-ed25519 AAAA k']]);
});

test('unknown keys are an error naming the key, the place and the file', () => {
  assert.throws(() => parseManifestFile(JSON.stringify([{ host: 't01', vmspecs: [{ name: 'a', vcpus: 1, memoryGb: 1, diskSize: 1, cpus: 2 }] }]), 'x/m.json'),
    (e: Error) => e instanceof InputError && /^x\/m\.json: unknown key "cpus" at \[0\]\.vmspecs\[0\] \(allowed: host, vmspecs; in a vmspec: name, hostname, ipaddress/.test(e.message));
  assert.throws(() => parseManifestFile(JSON.stringify([{ hosts: 't01', vmspecs: [] }]), 'm.json'), /m\.json: unknown key "hosts" at \[0\]/);
});

test('bad values are named with their path; not JSON is said so', () => {
  const one = (spec: Record<string, unknown>) => () => parseManifestFile(JSON.stringify([{ host: 't01', vmspecs: [{ name: 'a', vcpus: 1, memoryGb: 1, diskSize: 1, ...spec }] }]), 'm.json');
  assert.throws(one({ ipaddress: '173.30.5.300' }), /m\.json: \[0\]\.vmspecs\[0\]\.ipaddress: must be an IPv4 address/);
  assert.throws(one({ hostname: 'bad host' }), /\[0\]\.vmspecs\[0\]\.hostname: must be a host name/);
  assert.throws(one({ memoryGb: 0.0001 }), /memoryGb: must be a whole number of MiB/);
  assert.throws(one({ maxMemoryGb: 0.5 }), /maxMemoryGb: maxMemoryGb must be at least memoryGb/);
  assert.throws(one({ name: '../etc' }), /\.name: must be 1-64 letters/);
  assert.throws(one({ vcpus: 1.5 }), /\.vcpus:/);
  assert.throws(one({ numDisks: 0 }), /\.numDisks:/);
  assert.throws(one({ template: '../x' }), /\.template: must be a template reference/);
  assert.throws(() => parseManifestFile(JSON.stringify([{ host: 't01', vmspecs: [{ name: 'a' }] }]), 'm.json'), /vcpus: .*; .*memoryGb/);
  assert.throws(() => parseManifestFile('{not json', 'm.json'), /m\.json: not JSON/);
  assert.throws(() => parseManifestFile('{}', 'm.json'), /m\.json: \(top\): /);
});

test('several files merge in order (a host in both files gets both vmspecs); a duplicate name or address names both files', () => {
  const a = parseManifestFile(SEED_004, 'a.json');
  const b = parseManifestFile(JSON.stringify([{ host: 't01', vmspecs: [{ name: 'tdh-w01', vcpus: 1, memoryGb: 1, diskSize: 1 }] }]), 'b.json');
  assert.deepEqual(mergeManifests([a, b]).map((v) => [v.name, v.host, v.source]), [['tdh-m01', 't01', 'a.json'], ['tdh-w01', 't01', 'b.json']]);
  assert.throws(() => mergeManifests([a, parseManifestFile(SEED_004, 'c.json')]), /VM tdh-m01 is in the manifest twice \(a\.json and c\.json\)/);
  const sameIp = parseManifestFile(JSON.stringify([{ vmspecs: [{ name: 'z', ipaddress: '173.30.5.11', vcpus: 1, memoryGb: 1, diskSize: 1 }] }]), 'd.json');
  assert.throws(() => mergeManifests([a, sameIp]), /address 173\.30\.5\.11 is given to tdh-m01 \(a\.json\) and z \(d\.json\)/);
  assert.throws(() => mergeManifests([[]]), /the manifest has no VM/);
});

test('the template: the vmspec\'s, else the fallback, else an error naming the VM', () => {
  const vms = mergeManifests([parseManifestFile(SEED_004, 'a.json')]);
  assert.equal(withTemplate(vms, 'deb')[0]?.template, 'deb');
  assert.throws(() => withTemplate(vms, undefined), /VM tdh-m01 \(a\.json\) has no template/);
  assert.throws(() => withTemplate(vms, '../../x'), /--template "\.\.\/\.\.\/x" is not a template reference/);
});

test('what vtctl sends is checked again on the manager: strict, bounded, no duplicates', () => {
  const good = withTemplate(mergeManifests([parseManifestFile(SEED_004, 'a.json')]), 'deb');
  assert.deepEqual(checkResolvedVms(JSON.parse(JSON.stringify(good))), good);
  assert.throws(() => checkResolvedVms([{ ...good[0], extra: 1 }]), /manifest: vms\[0\]: Unrecognized key/i);
  assert.throws(() => checkResolvedVms([{ ...good[0], memoryMiB: 1.5 }]), /vms\[0\]\.memoryMiB/);
  assert.throws(() => checkResolvedVms([good[0], good[0]]), /twice/);
  assert.throws(() => checkResolvedVms('nope'), InputError);
});
