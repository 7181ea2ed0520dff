import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '@kvm-crm/shared';
import {
  type CloudInitSpec,
  renderMetaData,
  renderNetworkConfig,
  renderSeedFiles,
  renderUserData,
} from '../../dist/domain/cloud-init-seed.js';

const spec: CloudInitSpec = {
  instanceId: 'C0FFEE00-1234-4abc-8def-0123456789ab',
  hostname: 'web01',
  nics: [
    { name: 'eth0', mac: '02:00:0A:00:00:10', addresses: ['10.0.0.16/24'], gateway: '10.0.0.1', dns: ['10.0.0.2', '8.8.8.8'] },
    { name: 'eth1', mac: '02:00:0a:00:00:11' },
  ],
};

test('meta-data has the exact format the guest parser expects', () => {
  assert.equal(
    renderMetaData(spec),
    'instance-id: c0ffee00-1234-4abc-8def-0123456789ab\nlocal-hostname: web01\n',
  );
});

test('network-config has the exact format the guest parser expects', () => {
  assert.equal(
    renderNetworkConfig(spec),
    [
      'version: 2',
      'ethernets:',
      '  eth0:',
      '    match:',
      '      macaddress: "02:00:0a:00:00:10"',
      '    set-name: eth0',
      '    addresses:',
      '      - "10.0.0.16/24"',
      '    routes:',
      '      - to: default',
      '        via: "10.0.0.1"',
      '    nameservers:',
      '      addresses:',
      '        - "10.0.0.2"',
      '        - "8.8.8.8"',
      '  eth1:',
      '    match:',
      '      macaddress: "02:00:0a:00:00:11"',
      '    set-name: eth1',
      '    dhcp4: false',
      '',
    ].join('\n'),
  );
});

test('routes and nameservers appear only when given', () => {
  const out = renderNetworkConfig({ nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.16/24', '10.1.0.16/16'] }] });
  assert.equal(
    out,
    'version: 2\nethernets:\n  eth0:\n    match:\n      macaddress: "02:00:0a:00:00:10"\n    set-name: eth0\n    addresses:\n      - "10.0.0.16/24"\n      - "10.1.0.16/16"\n',
  );
  assert.equal(renderNetworkConfig({ nics: [] }), 'version: 2\nethernets: {}\n');
});

test('user-data: cloud-config with hostname, users only when given', () => {
  assert.equal(renderUserData(spec), '#cloud-config\nhostname: web01\n');
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmJQ0u6ohvFqJ6wq3Y0Qm8w4s3+o/ab1cdE alice@laptop';
  assert.equal(
    renderUserData({ hostname: 'web01', users: [{ name: 'alice', sshAuthorizedKeys: [key] }, { name: 'bob' }] }),
    `#cloud-config\nhostname: web01\nusers:\n  - name: alice\n    ssh_authorized_keys:\n      - "${key}"\n  - name: bob\n`,
  );
});

test('renderSeedFiles returns the three files', () => {
  const files = renderSeedFiles(spec);
  assert.deepEqual(Object.keys(files).sort(), ['meta-data', 'network-config', 'user-data']);
  assert.equal(files['meta-data'], renderMetaData(spec));
});

test('host names YAML would read as numbers or booleans are quoted', () => {
  assert.equal(renderMetaData({ instanceId: spec.instanceId, hostname: '1234' }).split('\n')[1], 'local-hostname: "1234"');
  assert.equal(renderMetaData({ instanceId: spec.instanceId, hostname: 'yes' }).split('\n')[1], 'local-hostname: "yes"');
  assert.equal(renderUserData({ hostname: 'Off' }).split('\n')[1], 'hostname: "Off"');
  assert.equal(renderUserData({ hostname: 'web-1' }).split('\n')[1], 'hostname: web-1');
});

test('rejects every invalid or injected value with InputError', () => {
  const bad: Array<[string, CloudInitSpec]> = [
    ['uuid', { ...spec, instanceId: 'not-a-uuid' }],
    ['hostname newline', { ...spec, hostname: 'web01\nusers: [root]' }],
    ['hostname colon', { ...spec, hostname: 'a: b' }],
    ['hostname too long', { ...spec, hostname: 'a'.repeat(65) }],
    ['hostname empty', { ...spec, hostname: '' }],
    ['mac', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00' }] }],
    ['mac injection', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10"\n    dhcp4: true' }] }],
    ['ifname', { ...spec, nics: [{ name: 'eth0:', mac: '02:00:0a:00:00:10' }] }],
    ['ifname yaml word', { ...spec, nics: [{ name: 'on', mac: '02:00:0a:00:00:10' }] }],
    ['address no len', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.16'] }] }],
    ['address len 33', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.16/33'] }] }],
    ['address octet', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.256/24'] }] }],
    ['gateway', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.16/24'], gateway: '10.0.0.1"' }] }],
    ['dns', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.16/24'], dns: ['8.8.8.8 '] }] }],
    ['gateway without address', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', gateway: '10.0.0.1' }] }],
    ['dns without address', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10', dns: ['10.0.0.1'] }] }],
    [
      'two gateways',
      {
        ...spec,
        nics: [
          { name: 'eth0', mac: '02:00:0a:00:00:10', addresses: ['10.0.0.16/24'], gateway: '10.0.0.1' },
          { name: 'eth1', mac: '02:00:0a:00:00:11', addresses: ['10.1.0.16/24'], gateway: '10.1.0.1' },
        ],
      },
    ],
    ['duplicate name', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10' }, { name: 'eth0', mac: '02:00:0a:00:00:11' }] }],
    ['duplicate mac', { ...spec, nics: [{ name: 'eth0', mac: '02:00:0a:00:00:10' }, { name: 'eth1', mac: '02:00:0A:00:00:10' }] }],
    ['user name', { ...spec, users: [{ name: 'Root; rm' }] }],
    ['ssh key quote', { ...spec, users: [{ name: 'alice', sshAuthorizedKeys: ['ssh-ed25519 AAAA a"b'] }] }],
    ['ssh key newline', { ...spec, users: [{ name: 'alice', sshAuthorizedKeys: ['ssh-ed25519 AAAA\n  - name: root'] }] }],
    ['ssh key type', { ...spec, users: [{ name: 'alice', sshAuthorizedKeys: ['ssh-foo AAAA'] }] }],
  ];
  for (const [what, s] of bad) {
    assert.throws(() => renderSeedFiles(s), InputError, what);
  }
});
