import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '@kvm-crm/shared';
import { type DomainSpec, KVMCRM_XMLNS, parseDomainMetadata, renderDomainXml, xmlEscape, xmlUnescape } from '../../dist/domain/domain-xml.js';

const spec: DomainSpec = {
  name: 'kvmcrm-c0ffee00',
  uuid: 'C0FFEE00-1234-4abc-8def-0123456789ab',
  title: 'web01',
  domainType: 'qemu',
  memoryMiB: 96,
  vcpus: 1,
  diskPath: '/var/lib/kvm-crm/vms/c0ffee00-1234-4abc-8def-0123456789ab/disk.qcow2',
  backing: { path: '/var/lib/kvm-crm/templates/debian/disk.qcow2', format: 'qcow2' },
  seedIsoPath: '/var/lib/kvm-crm/vms/c0ffee00-1234-4abc-8def-0123456789ab/seed.iso',
  serialLogPath: '/var/lib/kvm-crm/vms/c0ffee00-1234-4abc-8def-0123456789ab/serial.log',
  nics: [
    { mac: '02:00:0A:00:00:10', bridge: 'br-data' },
    { mac: '02:00:0a:00:00:11', network: 'default' },
  ],
  metadata: {
    vmUuid: 'c0ffee00-1234-4abc-8def-0123456789ab',
    vmName: 'web01',
    projectId: 'proj-1',
    sliceId: 'slice-1',
    projectName: `R&D <"Ofelia"> 'x'`,
    sliceName: 'slice one',
    serverUuid: '11111111-2222-4333-8444-555555555555',
    actionId: 'a1b2c3',
    template: 'debian-12',
  },
};

test('renders the fixed domain layout', () => {
  const xml = renderDomainXml(spec);
  for (const part of [
    "<domain type='qemu'>",
    '<name>kvmcrm-c0ffee00</name>',
    '<uuid>c0ffee00-1234-4abc-8def-0123456789ab</uuid>',
    '<title>web01</title>',
    `<kvmcrm:instance xmlns:kvmcrm="${KVMCRM_XMLNS}">`,
    '<kvmcrm:vm-uuid>c0ffee00-1234-4abc-8def-0123456789ab</kvmcrm:vm-uuid>',
    "<memory unit='MiB'>96</memory>",
    "<vcpu placement='static'>1</vcpu>",
    "<type arch='x86_64' machine='pc'>hvm</type>",
    "<boot dev='hd'/>",
    '<acpi/>',
    "<clock offset='utc'>",
    "<timer name='rtc' tickpolicy='catchup'/>",
    "<timer name='pit' tickpolicy='delay'/>",
    "<timer name='hpet' present='no'/>",
    '<on_poweroff>destroy</on_poweroff>',
    '<on_crash>destroy</on_crash>',
    "<driver name='qemu' type='qcow2'/>",
    `<source file='${spec.diskPath}'/>`,
    "<target dev='vda' bus='virtio'/>",
    `<source file='${spec.backing!.path}'>`,
    "<seclabel model='dac' relabel='no'/>",
    "<disk type='file' device='cdrom'>",
    "<driver name='qemu' type='raw'/>",
    "<target dev='hdc' bus='ide'/>",
    '<readonly/>',
    "<interface type='bridge'>",
    "<mac address='02:00:0a:00:00:10'/>",
    "<source bridge='br-data'/>",
    "<interface type='network'>",
    "<source network='default'/>",
    "<model type='virtio'/>",
    "<serial type='file'>",
    `<source path='${spec.serialLogPath}' append='on'/>`,
    "<target port='0'/>",
    "<console type='file'>",
    "<target type='serial' port='0'/>",
  ]) {
    assert.ok(xml.includes(part), `missing ${part}`);
  }
  assert.ok(!xml.includes('<graphics'), 'no graphics');
  assert.ok(!xml.includes('<emulator>'), 'no emulator unless given');
  assert.ok(renderDomainXml({ ...spec, emulator: '/usr/bin/qemu-system-x86_64' }).includes('<emulator>/usr/bin/qemu-system-x86_64</emulator>'));
  assert.ok(!renderDomainXml({ ...spec, backing: undefined }).includes('backingStore'));
  assert.ok(renderDomainXml({ ...spec, domainType: 'kvm' }).startsWith("<domain type='kvm'>"));
});

test('escapes &, <, >, quotes in every free-text value', () => {
  const xml = renderDomainXml(spec);
  assert.ok(xml.includes('<kvmcrm:project-name>R&amp;D &lt;&quot;Ofelia&quot;&gt; &apos;x&apos;</kvmcrm:project-name>'));
  assert.ok(!xml.includes('<"Ofelia">'));
  const odd = renderDomainXml({ ...spec, diskPath: "/var/lib/a&b/<c>/'d'/disk.qcow2" });
  assert.ok(odd.includes("<source file='/var/lib/a&amp;b/&lt;c&gt;/&apos;d&apos;/disk.qcow2'/>"));
  assert.equal(xmlUnescape(xmlEscape(`a&b<c>'d"e&amp;`)), `a&b<c>'d"e&amp;`);
});

test('optional metadata elements are omitted when not given', () => {
  const { projectName: _p, sliceName: _s, serverUuid: _u, ...required } = spec.metadata;
  const xml = renderDomainXml({ ...spec, metadata: required });
  assert.ok(!xml.includes('project-name') && !xml.includes('slice-name') && !xml.includes('server-uuid'));
  assert.deepEqual(parseDomainMetadata(xml), required);
});

test('parseDomainMetadata round-trips, also from libvirt-style output and other prefixes', () => {
  assert.deepEqual(parseDomainMetadata(renderDomainXml(spec)), spec.metadata);
  const other = `<domain><metadata><x:instance xmlns:x='${KVMCRM_XMLNS}'><x:vm-uuid>${spec.metadata.vmUuid}</x:vm-uuid>
    <x:vm-name>web01</x:vm-name><x:project-id>p&amp;1</x:project-id><x:slice-id>s</x:slice-id>
    <x:action-id>a1</x:action-id><x:template>t</x:template><x:slice-name/></x:instance></metadata></domain>`;
  assert.deepEqual(parseDomainMetadata(other), {
    vmUuid: spec.metadata.vmUuid,
    vmName: 'web01',
    projectId: 'p&1',
    sliceId: 's',
    actionId: 'a1',
    template: 't',
  });
  const defaultNs = `<metadata><instance xmlns="${KVMCRM_XMLNS}"><vm-uuid>${spec.metadata.vmUuid}</vm-uuid><vm-name>w</vm-name><project-id>p</project-id><slice-id>s</slice-id><action-id>a</action-id><template>t</template></instance></metadata>`;
  assert.equal(parseDomainMetadata(defaultNs)?.vmName, 'w');
});

test('parseDomainMetadata: undefined for foreign domains, InputError for damaged metadata', () => {
  assert.equal(parseDomainMetadata('<domain><name>x</name></domain>'), undefined);
  assert.equal(parseDomainMetadata(`<domain><metadata><o:instance xmlns:o="https://example.org/other"/></metadata></domain>`), undefined);
  const damaged = `<metadata><k:instance xmlns:k="${KVMCRM_XMLNS}"><k:vm-uuid>nope</k:vm-uuid></k:instance></metadata>`;
  assert.throws(() => parseDomainMetadata(damaged), InputError);
  assert.throws(() => parseDomainMetadata(`<k:instance xmlns:k="${KVMCRM_XMLNS}"><k:vm-uuid>`), InputError);
});

test('rejects invalid specs with InputError', () => {
  const bad: Array<[string, DomainSpec]> = [
    ['name', { ...spec, name: "x'/><devices>" }],
    ['numeric name', { ...spec, name: '123' }],
    ['uuid', { ...spec, uuid: 'abc' }],
    ['title', { ...spec, title: 'web 01' }],
    ['type', { ...spec, domainType: 'xen' as 'kvm' }],
    ['memory fraction', { ...spec, memoryMiB: 96.5 }],
    ['memory small', { ...spec, memoryMiB: 8 }],
    ['vcpus', { ...spec, vcpus: 0 }],
    ['relative disk', { ...spec, diskPath: 'disk.qcow2' }],
    ['dotdot disk', { ...spec, diskPath: '/var/lib/../etc/shadow' }],
    ['newline path', { ...spec, serialLogPath: '/var/log/x\n.log' }],
    ['backing format', { ...spec, backing: { path: '/a/b', format: 'vmdk' as 'raw' } }],
    ['nic both', { ...spec, nics: [{ mac: '02:00:0a:00:00:10', bridge: 'br0', network: 'default' }] }],
    ['nic none', { ...spec, nics: [{ mac: '02:00:0a:00:00:10' }] }],
    ['bridge name', { ...spec, nics: [{ mac: '02:00:0a:00:00:10', bridge: "br0'/>" }] }],
    ['mac', { ...spec, nics: [{ mac: 'zz:00:0a:00:00:10', bridge: 'br0' }] }],
    ['dup mac', { ...spec, nics: [{ mac: '02:00:0a:00:00:10', bridge: 'br0' }, { mac: '02:00:0A:00:00:10', bridge: 'br1' }] }],
    ['action id', { ...spec, metadata: { ...spec.metadata, actionId: '../x' } }],
    ['template', { ...spec, metadata: { ...spec.metadata, template: '.hidden' } }],
    ['control char', { ...spec, metadata: { ...spec.metadata, projectName: 'a\u0000b' } }],
    ['vm uuid', { ...spec, metadata: { ...spec.metadata, vmUuid: 'x' } }],
  ];
  for (const [what, s] of bad) assert.throws(() => renderDomainXml(s), InputError, what);
});

test('data disks on virtio vdb, vdc; maxMemoryMiB is <memory>, memoryMiB <currentMemory>; both absent unless set', () => {
  const plain = renderDomainXml(spec);
  assert.match(plain, /<memory unit='MiB'>96<\/memory>\n  <currentMemory unit='MiB'>96<\/currentMemory>/);
  assert.doesNotMatch(plain, /vdb/);
  const dir = '/var/lib/kvm-crm/vms/c0ffee00-1234-4abc-8def-0123456789ab';
  const xml = renderDomainXml({ ...spec, maxMemoryMiB: 1024, dataDisks: [`${dir}/data-vdb.qcow2`, `${dir}/data-vdc.qcow2`] });
  assert.match(xml, /<memory unit='MiB'>1024<\/memory>\n  <currentMemory unit='MiB'>96<\/currentMemory>/);
  assert.ok(xml.includes(
    `    </disk>\n    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='${dir}/data-vdb.qcow2'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>\n` +
    `    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='${dir}/data-vdc.qcow2'/>\n      <target dev='vdc' bus='virtio'/>\n    </disk>\n    <disk type='file' device='cdrom'>`,
  ), 'after vda, before the seed CD-ROM');
  assert.ok(xml.indexOf("<target dev='vda'") < xml.indexOf("<target dev='vdb'"));
  assert.match(xml, /<memballoon model='virtio'\/>/);
  assert.throws(() => renderDomainXml({ ...spec, maxMemoryMiB: 64 }), /invalid maximum memory: 64 MiB \(need an integer 96–/);
  assert.throws(() => renderDomainXml({ ...spec, dataDisks: ['relative.qcow2'] }), InputError);
  assert.throws(() => renderDomainXml({ ...spec, dataDisks: Array.from({ length: 17 }, (_, i) => `/d/${i}.qcow2`) }), /at most 16/);
});

test('with a serial socket: QEMU listens on it in bind mode and logs to the same serial log file (decision 027)', () => {
  const sock = '/var/lib/kvm-crm/vms/c0ffee00-1234-4abc-8def-0123456789ab/console.sock';
  const xml = renderDomainXml({ ...spec, serialSocketPath: sock });
  for (const part of [
    "<serial type='unix'>",
    `<source mode='bind' path='${sock}'/>`,
    `<log file='${spec.serialLogPath}' append='on'/>`,
    "<console type='unix'>",
    "<target type='serial' port='0'/>",
  ]) {
    assert.ok(xml.includes(part), `missing ${part}`);
  }
  assert.ok(!xml.includes("<serial type='file'>"));
  assert.throws(() => renderDomainXml({ ...spec, serialSocketPath: `/${'s'.repeat(107)}` }), /serial socket path is 108 bytes, longer than a unix socket path may be \(107\)/);
  assert.throws(() => renderDomainXml({ ...spec, serialSocketPath: 'relative/console.sock' }), InputError);
});
