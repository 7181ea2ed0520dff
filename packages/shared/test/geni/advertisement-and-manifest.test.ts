import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  InputError, buildAdvertisement, buildManifest, nodeUrn, parseRequestRspec, sliverUrn, type AdvertisedNode, type ManifestSliver,
} from '../../dist/index.js';
import { readXml } from '../../dist/rspec/xml-reader.js';
import { assertSchemaValid, fixturesDir, schemaSkipReason } from './schema-validation.js';

const AUTH = 'ocf.i2cat';
const SLICE = 'urn:publicid:IDN+ocf:i2cat+slice+myslice';
const fixture = (name: string) => readFileSync(path.join(fixturesDir, 'rspecs', name), 'utf8');

test('the advertisement reproduces the original crafter byte for byte (crm-ad-i2cat.xml)', () => {
  const nodes: AdvertisedNode[] = ['Rodoreda', 'March', 'Verdaguer'].map((serverName) => ({ serverName, available: true, templates: [] }));
  assert.equal(buildAdvertisement(AUTH, nodes), fixture('crm-ad-i2cat.xml'));
});

test('advertisement with templates, capacity and unavailable servers: structure and values', () => {
  const xml = buildAdvertisement(AUTH, [
    { serverName: 'Verdaguer', available: true, templates: ['debian12', 'ubuntu-22.04'], cpus: 8, memoryMb: 16384, diskGb: 200 },
    { serverName: 'March', available: false, templates: [], cpus: 0 },
  ]);
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<rspec xmlns="http://www.geni.net/resources/rspec/3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.geni.net/resources/rspec/3 http://www.geni.net/resources/rspec/3/ad.xsd" type="advertisement">\n'));
  const { root } = readXml(xml, { maxBytes: 1 << 20, maxDepth: 10, maxElements: 100 });
  const [v, m] = root.children;
  assert.equal(root.children.length, 2);
  assert.equal(v?.attributes.get('component_id'), nodeUrn(AUTH, 'Verdaguer'));
  assert.equal(v?.attributes.get('component_name'), nodeUrn(AUTH, 'Verdaguer'));
  assert.equal(v?.attributes.get('component_manager_id'), 'urn:publicid:IDN+ocf:i2cat:vtam+authority+cm');
  assert.equal(v?.attributes.get('exclusive'), 'false');
  assert.deepEqual(v?.children.map((c) => c.name), ['available', 'sliver_type', 'capacity']);
  assert.equal(v?.children[0]?.attributes.get('now'), 'true');
  assert.equal(v?.children[1]?.attributes.get('name'), 'emulab-xen');
  assert.deepEqual(v?.children[1]?.children.map((c) => c.attributes.get('name')), ['debian12', 'ubuntu-22.04']);
  const cap = v?.children[2];
  assert.equal(cap?.namespace, 'urn:kvm-crm:rspec:ext:capacity:1');
  assert.deepEqual([...(cap?.attributes ?? new Map())], [['cores', '8'], ['ram', '16384'], ['disk', '200']]);
  assert.deepEqual(m?.children.map((c) => c.name), ['available', 'capacity']);
  assert.equal(m?.children[0]?.attributes.get('now'), 'false');
  assert.deepEqual([...(m?.children[1]?.attributes ?? new Map())], [['cores', '0']]);
  assert.match(buildAdvertisement(AUTH, []), /type="advertisement">\n<\/rspec>\n$/);
});

test('builders write ASCII only: non-ASCII as numeric references, markup characters escaped; refuse what XML cannot hold', () => {
  const xml = buildAdvertisement(AUTH, [{ serverName: 'S1', available: true, templates: ['caf\u00e9-\u{1F600}', 'a"b<c>&d\te'] }]);
  assert.ok(/^[\x00-\x7f]*$/.test(xml), 'ASCII only');
  assert.match(xml, /<disk_image name="caf&#233;-&#128512;"\/>/);
  assert.match(xml, /<disk_image name="a&quot;b&lt;c&gt;&amp;d&#9;e"\/>/);
  const { root } = readXml(xml, { maxBytes: 1 << 20, maxDepth: 10, maxElements: 100 });
  assert.deepEqual(root.children[0]?.children[1]?.children.map((c) => c.attributes.get('name')), ['caf\u00e9-\u{1F600}', 'a"b<c>&d\te']);
  assert.throws(() => buildAdvertisement(AUTH, [{ serverName: 'S1', available: true, templates: ['bad\u0001'] }]), /U\+0001, which XML 1.0 does not allow/);
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => buildAdvertisement(AUTH, [{ serverName: 'S1', available: true, templates: [], memoryMb: bad }]), (e: unknown) => e instanceof InputError && /ram must be a whole number/.test(e.message), String(bad));
  }
  assert.throws(() => buildAdvertisement(AUTH, [{ serverName: 'bad.name', available: true, templates: [] }]), InputError);
  assert.throws(() => buildAdvertisement('bad hrn', []), InputError);
});

function sliver(clientId: string, server = 'Verdaguer', extra: Partial<ManifestSliver> = {}): ManifestSliver {
  return { clientId, serverName: server, sliverUrn: sliverUrn(AUTH, server, SLICE, clientId), logins: [], ...extra };
}

test('manifest: the form of geni-v3.md §7.3, with and without logins', () => {
  const xml = buildManifest(AUTH, [
    sliver('vm1', 'Verdaguer', { template: 'debian12' }),
    sliver('vm2', 'March', { template: 'debian12', logins: [{ hostname: '10.216.12.55', username: 'jdoe' }, { hostname: '10.216.12.55', username: 'alice' }] }),
  ]);
  assert.equal(xml, `<?xml version="1.0" encoding="UTF-8"?>
<rspec xmlns="http://www.geni.net/resources/rspec/3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.geni.net/resources/rspec/3 http://www.geni.net/resources/rspec/3/manifest.xsd" type="manifest">
<node client_id="vm1" component_id="urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer" component_manager_id="urn:publicid:IDN+ocf:i2cat:vtam+authority+cm" sliver_id="urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm1" exclusive="false">
<sliver_type name="VM">
<disk_image name="debian12"/>
</sliver_type>
</node>
<node client_id="vm2" component_id="urn:publicid:IDN+ocf:i2cat:vtam+node+March" component_manager_id="urn:publicid:IDN+ocf:i2cat:vtam+authority+cm" sliver_id="urn:publicid:IDN+ocf:i2cat:vtam:March:myslice+sliver+vm2" exclusive="false">
<sliver_type name="VM">
<disk_image name="debian12"/>
</sliver_type>
<services>
<login authentication="ssh-keys" hostname="10.216.12.55" port="22" username="jdoe"/>
<login authentication="ssh-keys" hostname="10.216.12.55" port="22" username="alice"/>
</services>
</node>
</rspec>
`);
  // "vtam" in component_id and component_manager_id of every node: the RO keeps only those (§1 item 6).
  for (const line of xml.split('\n').filter((l) => l.startsWith('<node'))) assert.match(line, /component_id="[^"]*vtam[^"]*" component_manager_id="[^"]*vtam/);
  assert.match(buildManifest(AUTH, [sliver('vm3')]), /<sliver_type name="VM">\n<\/sliver_type>/);
  assert.match(buildManifest(AUTH, []), /type="manifest">\n<\/rspec>\n$/);
});

test("our manifest has the structure the RO's manifest parser was tested with (crm-manifest-ro-example.xml)", () => {
  // The fixture is the older OCF VTAM form (sliver_type None, sliver URN …+sliver+1525); compare shapes, not values:
  // the same node attributes (we add exclusive), sliver_type, services/login with the same login attributes.
  const limits = { maxBytes: 1 << 20, maxDepth: 10, maxElements: 100 };
  type El = ReturnType<typeof readXml>['root'];
  const shape = (el: El): unknown => ({ name: el.name, ns: el.namespace, attributes: [...el.attributes.keys()].sort(), children: el.children.filter((c) => c.name !== 'disk_image').map(shape) });
  const theirs = readXml(fixture('crm-manifest-ro-example.xml'), limits).root;
  const ours = readXml(buildManifest(AUTH, [
    sliver('vm1', 'Verdaguer', { logins: [{ hostname: '10.216.12.55', username: 'root' }] }),
    sliver('vm2', 'Verdaguer', { template: 'debian12', logins: [{ hostname: '10.216.12.56', username: 'jdoe' }] }),
  ]), limits).root;
  const withoutExclusive = (x: unknown) => JSON.parse(JSON.stringify(x).replaceAll('"exclusive",', ''));
  assert.deepEqual(withoutExclusive(shape(ours)), shape(theirs));
  const login = ours.children[1]?.children[1]?.children[0];
  assert.deepEqual(Object.fromEntries(login?.attributes ?? []), { authentication: 'ssh-keys', hostname: '10.216.12.56', port: '22', username: 'jdoe' });
});

test('manifest refuses values it must not write', () => {
  assert.throws(() => buildManifest(AUTH, [{ ...sliver('vm1'), clientId: 'vm.1' }]), /client_id "vm.1" is not a VM name/);
  assert.throws(() => buildManifest(AUTH, [{ ...sliver('vm1'), sliverUrn: 'urn:publicid:IDN+x+slice+y' }]), /expected a sliver URN/);
  assert.throws(() => buildManifest(AUTH, [{ ...sliver('vm1'), serverName: 'a b' }]), InputError);
  assert.throws(() => buildManifest(AUTH, [sliver('vm1', 'Verdaguer', { logins: [{ hostname: '', username: 'x' }] })]), /login without hostname or username/);
});

test('the original fixtures validate against the GENI v3 schemas (a check of the schemas themselves)', (t) => {
  for (const [kind, file] of [['ad', 'crm-ad-i2cat.xml'], ['manifest', 'crm-manifest-ro-example.xml'], ['request', 'crm-request-ro-example.xml']] as const) {
    const skip = schemaSkipReason(kind);
    if (skip) {
      t.diagnostic(`${file}: ${skip}`);
      continue;
    }
    assertSchemaValid(kind, fixture(file));
  }
  // And the check can fail: an advertisement is not a valid manifest.
  if (!schemaSkipReason('manifest')) assert.throws(() => assertSchemaValid('manifest', fixture('crm-ad-i2cat.xml')), /not valid/);
});

test('our advertisements validate against ad.xsd', (t) => {
  const skip = schemaSkipReason('ad');
  if (skip) return t.skip(skip);
  assertSchemaValid('ad', buildAdvertisement(AUTH, []));
  assertSchemaValid('ad', buildAdvertisement(AUTH, [
    { serverName: 'Verdaguer', available: true, templates: ['debian12', 'caf\u00e9'], cpus: 8, memoryMb: 16384, diskGb: 200 },
    { serverName: 'March', available: false, templates: [], diskGb: 0 },
    { serverName: 'Rodoreda', available: true, templates: ['x'] },
  ]));
});

test('our manifests validate against manifest.xsd (Allocate, Provision with logins, empty Describe)', (t) => {
  const skip = schemaSkipReason('manifest');
  if (skip) return t.skip(skip);
  assertSchemaValid('manifest', buildManifest(AUTH, []));
  assertSchemaValid('manifest', buildManifest(AUTH, [sliver('vm1')]));
  assertSchemaValid('manifest', buildManifest(AUTH, [
    sliver('vm1', 'Verdaguer', { template: 'debian12', logins: [{ hostname: '10.0.0.5', username: 'jdoe' }] }),
    sliver('vm2', 'March', { template: 'ubuntu' }),
  ]));
});

test('a manifest round-trips through the request parser view of nodes (same client ids and servers)', () => {
  // The manifest is not a request, but its nodes carry the same identifiers the RO routes by.
  const xml = buildManifest(AUTH, [sliver('vm1', 'Verdaguer'), sliver('vm2', 'March')]).replace('type="manifest"', 'type="request"');
  assert.deepEqual(parseRequestRspec(xml, AUTH).map((n) => [n.clientId, n.serverName, n.sliverType]), [['vm1', 'Verdaguer', 'VM'], ['vm2', 'March', 'VM']]);
});
