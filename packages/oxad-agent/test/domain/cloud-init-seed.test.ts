import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '@kvm-crm/shared';
import {
  type CloudInitSpec,
  renderMetaData,
  renderNetworkConfig,
  renderSeedFiles,
  renderUserData,
  assertSshPublicKey,
  sshKeyFingerprint,
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
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA3sK20QQPSUu3+6OVKuF203QjbJZN5e2I1gTYdQ8nvS alice@laptop';
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

// Keys made with ssh-keygen; fingerprints as `ssh-keygen -lf` printed them.
const KEYS: Array<[string, string]> = [
  ['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDN3AkfbqmhfR0U1+ImIiHhAJwxXp56cNYeEffo1jH8gjWLN9ncLb+4RTcT/kONy5G6ZUnKrT3iyJqc7xLuY1z2eknxsm/vs+KN2Vtopi5Q7Xci4+Ht+G3beXtQ9dgZMjWJ7Hdj16upsvN2Umvy394uF2mpSDyE3Z48M3y8z+Y2Rw== rsa-test', 'SHA256:k+O2AB9YkUWj4vGu+j2gpkJD38TV6OVEC6mgKu+x82Q'],
  ['ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKPuSWT/Cw1wj/fq+IvF/SrdJANEWRK97f2N7yyJgt+An/XvNcZ3sbfp3uoZqY9mLBTGbXSxI5OEF0AEqgMClH0= ecdsa-test', 'SHA256:rRgVQ2bM7lam7QXqwrqIUZRcRKyQE6KMmydxjqCHdGI'],
  ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJhNbh4qWI7k2+b8LGET89GHckWpzEc6taeGG4k0qsYY', 'SHA256:m2tvp6BR8OsbJAbkE6+UN/aVbhB7+pgk4qAILGdpfvI'],
];

test('SSH keys: real RSA, ECDSA and Ed25519 keys pass; fingerprints match ssh-keygen -lf', () => {
  for (const [key, fp] of KEYS) {
    assert.equal(assertSshPublicKey(key), key);
    assert.equal(sshKeyFingerprint(key), fp);
  }
});

test('SSH keys: newlines, a wrong type, truncated or padded data and quotes are refused', () => {
  const [rsa] = KEYS[0]!;
  const [ed] = KEYS[2]!;
  const b64 = ed.split(' ')[1]!;
  for (const bad of [`${ed}\n`, `${ed}\nssh-ed25519 ${b64}`, `${ed} c\r`, `ssh-rsa ${b64}`, `ssh-ed25519 ${b64.slice(0, -4)}`,
    `ssh-ed25519 ${Buffer.concat([Buffer.from(b64, 'base64'), Buffer.alloc(3)]).toString('base64')}`, `${ed} say"hi"`, `${rsa.split(' ')[0]}  ${b64}`, 'ssh-ed25519', '']) {
    assert.throws(() => assertSshPublicKey(bad), InputError, JSON.stringify(bad));
  }
  assert.throws(() => renderUserData({ hostname: 'h', sshAuthorizedKeys: [`${ed}\n- evil`] }), /SSH public key of the default user/);
  assert.equal(renderUserData({ hostname: 'h', sshAuthorizedKeys: [ed] }), `#cloud-config\nhostname: h\nssh_authorized_keys:\n  - "${ed}"\n`);
});

test('a dotted host name (a manifest hostname, decision 024): local-hostname is the whole name, user-data gives hostname and fqdn', () => {
  assert.equal(renderMetaData({ instanceId: spec.instanceId, hostname: 'tdh-m01.tdh.internal' }).split('\n')[1], 'local-hostname: tdh-m01.tdh.internal');
  assert.equal(renderUserData({ hostname: 'tdh-m01.tdh.internal' }), '#cloud-config\nhostname: tdh-m01\nfqdn: tdh-m01.tdh.internal\n');
  for (const bad of ['a..b', '.a', 'a.', '-a.b', 'a.-b', 'a b', 'a.b\nc: d', `${'x'.repeat(64)}.y`]) {
    assert.throws(() => renderUserData({ hostname: bad }), /invalid host name/, bad);
  }
});
