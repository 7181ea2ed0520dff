/**
 * The callback URL policy (decision 014): address classification (IPv4, IPv6, IPv4-mapped forms), CIDR matching,
 * origin allowances, host names resolving to private addresses, and the pinned address a delivery connects to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { InputError, NotAllowedError } from '../../dist/errors.js';
import { addressInCidrs, classifyAddress, normaliseAddress } from '../../dist/net/ip-address.js';
import { assertAllowEntry, checkCallbackUrl, DEFAULT_CALLBACK_POLICY, pinCallbackTarget, pinnedLookup, type ResolveAll } from '../../dist/net/callback-target.js';

test('addresses are classified, IPv4-mapped and IPv4-compatible IPv6 as the IPv4 address they carry', () => {
  const cases: Array<[string, string]> = [
    ['8.8.8.8', 'public'],
    ['2a00:1450:4001:80b::200e', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd00::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['2002:7f00:1::', 'reserved'],
    ['64:ff9b::7f00:1', 'reserved'],
    ['fec0::1', 'reserved'],
    ['172.32.0.1', 'public'],
  ];
  for (const [address, cls] of cases) assert.equal(classifyAddress(address), cls, address);
  assert.deepEqual(normaliseAddress('::ffff:c0a8:101'), { address: '192.168.1.1', family: 'ipv4' });
  assert.throws(() => normaliseAddress('example.org'), InputError);
});

test('CIDR matching: IPv4, IPv6, bare addresses, and mapped addresses against IPv4 CIDRs', () => {
  assert.equal(addressInCidrs('127.0.0.1', ['127.0.0.1/32']), true);
  assert.equal(addressInCidrs('127.0.0.2', ['127.0.0.1/32']), false);
  assert.equal(addressInCidrs('::ffff:127.0.0.1', ['127.0.0.1/32']), true);
  assert.equal(addressInCidrs('10.9.8.7', ['10.0.0.0/8']), true);
  assert.equal(addressInCidrs('11.0.0.1', ['10.0.0.0/8']), false);
  assert.equal(addressInCidrs('fd12::5', ['fd00::/8']), true);
  assert.equal(addressInCidrs('fe80::5', ['fd00::/8']), false);
  assert.equal(addressInCidrs('192.168.3.4', ['192.168.3.4']), true);
  assert.equal(addressInCidrs('10.0.0.1', ['::ffff:10.0.0.0/104']), true);
  assert.throws(() => addressInCidrs('10.0.0.1', ['10.0.0.0/33']), /not a CIDR/);
  assert.throws(() => assertAllowEntry('10.0.0.0/8x'), /neither a CIDR/);
  assert.throws(() => assertAllowEntry('https://u:p@ch.example/'), /neither a CIDR/);
  assert.throws(() => assertAllowEntry('https://ch.example/path'), /neither a CIDR/);
  assertAllowEntry('https://ch.example:8443');
  assertAllowEntry('fd00::/8');
});

test('the default policy: https only, at most 1,024 characters, public targets only', async () => {
  const none: ResolveAll = async () => assert.fail('no resolution for a literal address');
  assert.throws(() => checkCallbackUrl('http://ch.example/cb', DEFAULT_CALLBACK_POLICY, 'ch1'), (e: unknown) =>
    e instanceof NotAllowedError && e.message === 'callback URL http://ch.example/ uses plain http: only https is allowed for this clearinghouse (an admin can allow it: vtctl user set-callback-policy ch1 --allow-http)');
  assert.throws(() => checkCallbackUrl(`https://ch.example/${'a'.repeat(1006)}`, DEFAULT_CALLBACK_POLICY), /callback URL of 1025 characters: at most 1024/);
  checkCallbackUrl(`https://ch.example/${'a'.repeat(1005)}`, DEFAULT_CALLBACK_POLICY);
  for (const [url, why] of [
    ['https://u:secret@127.0.0.1:9229/', '127.0.0.1, a loopback address'],
    ['https://169.254.169.254/latest/', '169.254.169.254, a link-local address'],
    ['https://[::ffff:127.0.0.1]:8445/xmlrpc/admin', '127.0.0.1, a loopback address'],
    ['https://[::1]/', '::1, a loopback address'],
    ['https://0.0.0.0/', '0.0.0.0, an unspecified address'],
    ['https://10.0.0.5/', '10.0.0.5, a private address'],
  ] as const) {
    await assert.rejects(pinCallbackTarget(url, DEFAULT_CALLBACK_POLICY, { resolve: none, principal: 'ch1' }), (e: unknown) => {
      assert.ok(e instanceof NotAllowedError, String(e));
      assert.match(e.message, new RegExp(`^callback URL https://[^ ]+/ targets ${why.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not allowed for this clearinghouse \\(an admin can allow it: vtctl user set-callback-policy ch1 --allow CIDR\\|ORIGIN\\)$`));
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
  }
});

test('a host name is refused when any address it resolves to is not allowed; allowances by CIDR and by origin', async () => {
  const resolveTo = (...addresses: string[]): ResolveAll => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  await assert.rejects(pinCallbackTarget('https://rebind.example/cb', DEFAULT_CALLBACK_POLICY, { resolve: resolveTo('93.184.216.34', '127.0.0.1') }), (e: unknown) =>
    e instanceof NotAllowedError && /targets 127\.0\.0\.1, a loopback address \(rebind\.example resolves to it\)/.test(e.message));
  await assert.rejects(pinCallbackTarget('https://v6.example/cb', DEFAULT_CALLBACK_POLICY, { resolve: resolveTo('::ffff:a9fe:a9fe') }), /169\.254\.169\.254, a link-local address/);
  await assert.rejects(pinCallbackTarget('https://nx.example/cb', DEFAULT_CALLBACK_POLICY, { resolve: async () => { throw Object.assign(new Error('x'), { code: 'ENOTFOUND' }); } }),
    (e: unknown) => e instanceof InputError && e.message === 'callback host "nx.example" does not resolve (ENOTFOUND)');

  const pinned = await pinCallbackTarget('https://u:p@ch.example:8443/cb', DEFAULT_CALLBACK_POLICY, { resolve: resolveTo('93.184.216.34', '2a00::1') });
  assert.deepEqual([pinned.address, pinned.family, pinned.origin, pinned.basicAuth], ['93.184.216.34', 4, 'https://ch.example:8443', { user: 'u', pass: 'p' }]);

  const byCidr = { allowHttp: false, allow: ['10.0.0.0/8'] };
  assert.equal((await pinCallbackTarget('https://ch.lan/cb', byCidr, { resolve: resolveTo('10.1.1.1') })).address, '10.1.1.1');
  await assert.rejects(pinCallbackTarget('https://ch.lan/cb', byCidr, { resolve: resolveTo('10.1.1.1', '192.168.0.1') }), /192\.168\.0\.1, a private address/);
  const byOrigin = { allowHttp: false, allow: ['http://legacy.lan:8080'] };
  assert.equal((await pinCallbackTarget('http://legacy.lan:8080/cb', byOrigin, { resolve: resolveTo('192.168.7.7') })).address, '192.168.7.7');
  await assert.rejects(pinCallbackTarget('http://legacy.lan:8081/cb', byOrigin, { resolve: resolveTo('192.168.7.7') }), /plain http/);
  const httpOk = { allowHttp: true, allow: [] };
  assert.equal((await pinCallbackTarget('http://ch.example/cb', httpOk, { resolve: resolveTo('93.184.216.34') })).address, '93.184.216.34');
});

test('pinnedLookup makes a request connect to the checked address whatever the name resolves to', async (t) => {
  const server = http.createServer((_req, res) => res.end('pinned'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: 'no-such-host.invalid', port, path: '/', agent: false, lookup: pinnedLookup({ address: '127.0.0.1', family: 4 }) as never }, (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve(s));
      })
      .on('error', reject);
  });
  assert.equal(body, 'pinned');
});
