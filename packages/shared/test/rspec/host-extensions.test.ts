/**
 * The kvm-crm rspec extensions of issue 10 inside `xen-configuration`: `max-memory-mb`, `data-disks`, `ssh-keys`
 * and `keep-disks`. Each round-trips, sits where the serialiser puts it, and is absent unless set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRspec } from '../../dist/rspec/parse.js';
import { serialiseRspec } from '../../dist/rspec/serialise.js';
import type { Rspec, XenConfiguration } from '../../dist/rspec/model.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@example';

function doc(x: XenConfiguration): Rspec {
  return { query: { provisioning: { actions: [{ type: 'create', id: 'a1', server: { virtualMachines: [{ uuid: 'u', xenConfiguration: x }] } }] } } };
}
function xenOf(xml: string): XenConfiguration {
  return parseRspec(xml).query!.provisioning!.actions[0]!.server!.virtualMachines[0]!.xenConfiguration!;
}

test('max-memory-mb, data-disks, ssh-keys and keep-disks round-trip, in schema order after the OCF fields', () => {
  const x: XenConfiguration = {
    memoryMb: 256, vcpus: 2, maxMemoryMb: 1024, users: [{ name: 'alice' }],
    dataDisks: [{ sizeMb: 1024 }, { sizeMb: 50 * 1024 }], sshKeys: [KEY], keepDisks: true,
  };
  const xml = serialiseRspec(doc(x), { dialect: 'manager' });
  assert.match(xml, /<vcpus>2<\/vcpus>\n\s+<max-memory-mb>1024<\/max-memory-mb>\n/);
  assert.match(xml, /<\/users>\n\s+<data-disks>\n\s+<disk size-mb="1024"\/>\n\s+<disk size-mb="51200"\/>\n\s+<\/data-disks>\n\s+<ssh-keys>\n\s+<key>ssh-ed25519 [^<]+ alice@example<\/key>\n\s+<\/ssh-keys>\n\s+<keep-disks>true<\/keep-disks>\n\s+<\/xen-configuration>/);
  assert.deepEqual(xenOf(xml), x);
  assert.equal(serialiseRspec(parseRspec(xml), { dialect: 'manager' }), xml, 'parse → serialise is stable');
});

test('the extensions are absent unless set; empty containers stay present', () => {
  const plain = serialiseRspec(doc({ memoryMb: 256 }), { dialect: 'manager' });
  assert.doesNotMatch(plain, /max-memory-mb|data-disks|ssh-keys|keep-disks/);
  const parsed = xenOf(plain);
  for (const k of ['maxMemoryMb', 'dataDisks', 'sshKeys', 'keepDisks'] as const) assert.equal(k in parsed, false, k);
  const empty = serialiseRspec(doc({ dataDisks: [], sshKeys: [] }), { dialect: 'manager' });
  assert.match(empty, /<data-disks\/>\n\s+<ssh-keys\/>/);
  assert.deepEqual(xenOf(empty), { dataDisks: [], sshKeys: [] });
  assert.deepEqual(xenOf(serialiseRspec(doc({ keepDisks: false }), { dialect: 'manager' })), { keepDisks: false });
});

test('bad values are refused with the field named; empty keys and unknown children are skipped', () => {
  const xml = serialiseRspec(doc({ maxMemoryMb: 1024, dataDisks: [{ sizeMb: 1024 }], keepDisks: true }), { dialect: 'manager' });
  assert.throws(() => parseRspec(xml.replace('>1024</max', '>lots</max')), /max-memory-mb must be an integer/);
  assert.throws(() => parseRspec(xml.replace('size-mb="1024"', 'size-mb="1G"')), /disk@size-mb must be an integer, got "1G"/);
  assert.throws(() => parseRspec(xml.replace('>true</keep', '>yes</keep')), /keep-disks must be true, false, 1 or 0/);
  assert.throws(() => serialiseRspec(doc({ dataDisks: [{ sizeMb: 1.5 }] }), { dialect: 'manager' }), /size-mb must be an integer/);
  const loose = xml.replace('<disk size-mb="1024"/>', '<disk/><other/><disk size-mb=" 7 "/>').replace('<keep-disks>true</keep-disks>', '<ssh-keys><key/><key>k1</key><junk>x</junk></ssh-keys>');
  assert.deepEqual(xenOf(loose).dataDisks, [{}, { sizeMb: 7 }]);
  assert.deepEqual(xenOf(loose).sshKeys, ['k1']);
});

test('the host facts of a listResources server (number-of-cpus, cpu-frequency, memory, disc-space-gb) round-trip after virtualization-type; absent unless set', () => {
  const server = { name: 'kvm1', uuid: 'u1', virtualizationType: 'kvm', numberOfCpus: 16, cpuFrequency: 2400, memory: 64000, discSpaceGb: 900, interfaces: [], virtualMachines: [] };
  const xml = serialiseRspec({ response: { information: { resources: [server] } } }, { dialect: 'manager' });
  assert.match(xml, /<virtualization-type>kvm<\/virtualization-type>\n\s+<number-of-cpus>16<\/number-of-cpus>\n\s+<cpu-frequency>2400<\/cpu-frequency>\n\s+<memory>64000<\/memory>\n\s+<disc-space-gb>900<\/disc-space-gb>\n\s+<interfaces/);
  assert.deepEqual(parseRspec(xml).response?.information?.resources, [server]);
  const bare = serialiseRspec({ response: { information: { resources: [{ name: 'old', virtualMachines: [] }] } } }, { dialect: 'manager' });
  assert.doesNotMatch(bare, /number-of-cpus|cpu-frequency|<memory>|disc-space-gb/);
});
