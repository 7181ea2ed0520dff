import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, parseRequestRspec, templateNameOfDiskImage } from '../../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = process.env.GENI_FIXTURES_DIR ?? path.resolve(here, '../../../../../shared/geni-fixtures');
const AUTH = 'ocf.i2cat';
const CM = 'urn:publicid:IDN+ocf:i2cat:vtam+authority+cm';
const NODE = (s: string) => `urn:publicid:IDN+ocf:i2cat:vtam+node+${s}`;
const GENI = 'xmlns="http://www.geni.net/resources/rspec/3"';
const EMULAB = 'xmlns:emulab="http://www.protogeni.net/resources/rspec/ext/emulab/1"';

function rspec(body: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<rspec ${GENI} ${EMULAB} ${extra} type="request">\n${body}\n</rspec>\n`;
}

test('the experimenter request fixture (crm-request-ro-example.xml) parses', () => {
  const xml = readFileSync(path.join(fixtures, 'rspecs/crm-request-ro-example.xml'), 'utf8');
  assert.deepEqual(parseRequestRspec(xml, AUTH), [{
    clientId: 'Verdaguer', serverName: 'Verdaguer', sliverType: 'emulab-xen',
    diskImage: 'urn:publicid:IDN+wall2.ilabt.iminds.be+image+emulab-ops//DEB60_64-VLAN', cores: 3, ramMb: 1024, diskGb: 10,
  }]);
  // Another aggregate sees no node of its own in it.
  assert.deepEqual(parseRequestRspec(xml, 'ocf.aist'), []);
});

test('the RO-formatted request (geni-v3.md §7.2: no declaration, xs: prefix for XSI, sharedvlan, disk_image first)', () => {
  const xml = `<rspec xmlns:xs="http://www.w3.org/2001/XMLSchema-instance" xmlns:sharedvlan="http://www.geni.net/resources/rspec/ext/shared-vlan/1" xmlns:emulab="http://www.protogeni.net/resources/rspec/ext/emulab/1" xmlns="http://www.geni.net/resources/rspec/3" xs:schemaLocation="http://www.geni.net/resources/rspec/3 http://www.geni.net/resources/rspec/3/request.xsd http://www.geni.net/resources/rspec/ext/shared-vlan/1/ad.xsd" type="request">
  <node component_id="${NODE('Verdaguer')}" component_manager_id="${CM}" client_id="Verdaguer" exclusive="true">
    <sliver_type name="emulab-xen">
      <disk_image name="default"/>
      <emulab:xen cores="1" ram="512" disk="5"/>
    </sliver_type>
  </node>
  <node component_id="urn:publicid:IDN+ocf:aist:vtam+node+Other" component_manager_id="urn:publicid:IDN+ocf:aist:vtam+authority+cm" client_id="elsewhere">
    <sliver_type name="emulab-xen"><emulab:xen cores="x" ram="y" disk="z"/></sliver_type>
  </node>
  <link client_id="lan0"/>
</rspec>
`;
  assert.deepEqual(parseRequestRspec(xml, AUTH), [{ clientId: 'Verdaguer', serverName: 'Verdaguer', sliverType: 'emulab-xen', diskImage: 'default', cores: 1, ramMb: 512, diskGb: 5 }]);
});

test("omni's plain shape: unbound nodes, other sliver types, no emulab:xen, no component_manager_id", () => {
  const xml = rspec(`<node client_id="vm1" exclusive="false"><sliver_type name="default-vm"/></node>
<node client_id="vm2" component_manager_id="${CM}"/>
<node client_id="vm3" component_id="${NODE('March')}"><sliver_type name="emulab-xen"><disk_image name="debian12"/></sliver_type></node>`,
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.geni.net/resources/rspec/3 http://www.geni.net/resources/rspec/3/request.xsd"');
  assert.deepEqual(parseRequestRspec(xml, AUTH), [
    { clientId: 'vm1', sliverType: 'default-vm' },
    { clientId: 'vm2' },
    { clientId: 'vm3', serverName: 'March', sliverType: 'emulab-xen', diskImage: 'debian12' },
  ]);
});

test('namespace-aware: prefixes do not matter, elements of other namespaces are not nodes', () => {
  const xml = `<r:rspec xmlns:r="http://www.geni.net/resources/rspec/3" xmlns:e="http://www.protogeni.net/resources/rspec/ext/emulab/1" type="request">
  <r:node client_id="a1" component_manager_id="${CM}"><r:sliver_type name="emulab-xen"><e:xen ram="2048"/><r:disk_image name="x"/></r:sliver_type></r:node>
  <node xmlns="urn:other" client_id="not-a-geni-node"/>
  <r:node client_id="a2"><sliver_type xmlns="urn:other" name="ignored"/><r:sliver_type name="t"><xen ram="9" xmlns="urn:other"/></r:sliver_type></r:node>
</r:rspec>`;
  assert.deepEqual(parseRequestRspec(xml, AUTH), [
    { clientId: 'a1', sliverType: 'emulab-xen', diskImage: 'x', ramMb: 2048 },
    { clientId: 'a2', sliverType: 't' },
  ]);
  assert.throws(() => parseRequestRspec('<rspec type="request"><node client_id="a"/></rspec>', AUTH), /root element must be <rspec xmlns="http:\/\/www.geni.net\/resources\/rspec\/3">.*without a namespace/);
  assert.throws(() => parseRequestRspec('<rspec xmlns="http://www.protogeni.net/resources/rspec/2" type="request"/>', AUTH), InputError);
  assert.throws(() => parseRequestRspec(`<rspec ${GENI} type="manifest"/>`, AUTH), /not a request RSpec/);
  assert.deepEqual(parseRequestRspec(`<rspec ${GENI}/>`, AUTH), []);
});

test('component_id wins; component_name is a fallback only when it is one of our node URNs', () => {
  const nodes = parseRequestRspec(rspec(`
<node client_id="a" component_manager_id="${CM}" component_id="${NODE('Rodoreda')}" component_name="Rodoreda"/>
<node client_id="b" component_manager_id="${CM}" component_name="${NODE('March')}"/>
<node client_id="c" component_manager_id="${CM}" component_name="pc1"/>
<node client_id="d" component_manager_id="${CM}" component_id="${NODE('March')}" component_name="${NODE('March')}"/>`), AUTH);
  assert.deepEqual(nodes.map((n) => [n.clientId, n.serverName]), [['a', 'Rodoreda'], ['b', 'March'], ['c', undefined], ['d', 'March']]);
  assert.throws(() => parseRequestRspec(rspec(`<node client_id="a" component_id="${NODE('March')}" component_name="${NODE('Rodoreda')}"/>`), AUTH), /component_id names server March but component_name names server Rodoreda/);
});

test('two nodes with one client_id are both returned (the caller answers ALREADYEXISTS)', () => {
  const nodes = parseRequestRspec(rspec(`<node client_id="vm1"/><node client_id="vm1" component_id="${NODE('March')}"/>`), AUTH);
  assert.deepEqual(nodes, [{ clientId: 'vm1' }, { clientId: 'vm1', serverName: 'March' }]);
});

test('bad nodes of this CM are refused with InputError naming the problem', () => {
  const cases: [string, RegExp][] = [
    [`<node component_manager_id="${CM}"/>`, /client_id is required/],
    [`<node client_id="" component_manager_id="${CM}"/>`, /client_id is required/],
    [`<node client_id="vm.1"/>`, /client_id "vm.1" is not a valid VM name/],
    [`<node client_id="vm 1"/>`, /not a valid VM name/],
    [`<node client_id="v\u00e9"/>`, /not a valid VM name/],
    [`<node client_id="vm1" component_manager_id="${CM}" component_id="urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer+interface+eth1"/>`, /is not a node of urn:publicid:IDN\+ocf:i2cat:vtam\+authority\+cm/],
    [`<node client_id="vm1" component_manager_id="${CM}" component_id="urn:publicid:IDN+ocf:aist:vtam+node+X"/>`, /is not a node of/],
    [`<node client_id="vm1" component_manager_id="${CM}" component_id="Verdaguer"/>`, /is not a node of/],
    [`<node client_id="vm1" component_id="urn:publicid:IDN+ocf:i2cat:vtam+link+x"/>`, /is not a node of/],
    [`<node client_id="vm1" component_id="nonsense"/>`, /is not a GENI URN/],
    [`<node client_id="vm1"><sliver_type name="a"/><sliver_type name="b"/></node>`, /more than one <sliver_type>/],
    [`<node client_id="vm1"><sliver_type name="a"><disk_image name="x"/><disk_image name="y"/></sliver_type></node>`, /more than one <disk_image>/],
    [`<node client_id="vm1"><sliver_type name="a"><emulab:xen ram="1"/><emulab:xen ram="2"/></sliver_type></node>`, /more than one <emulab:xen>/],
    [`<node client_id="vm1"><sliver_type/></node>`, /sliver_type has no name/],
    [`<node client_id="vm1"><sliver_type name="a"><disk_image name="has blank"/></sliver_type></node>`, /printable ASCII/],
    [`<node client_id="vm1"><sliver_type name="a"><disk_image name="caf\u00e9"/></sliver_type></node>`, /printable ASCII/],
    [`<node client_id="vm1"><sliver_type name="a"><emulab:xen cores="0"/></sliver_type></node>`, /cores="0" must be a whole number from 1 to 1024/],
    [`<node client_id="vm1"><sliver_type name="a"><emulab:xen ram="-5"/></sliver_type></node>`, /ram="-5"/],
    [`<node client_id="vm1"><sliver_type name="a"><emulab:xen ram="1.5"/></sliver_type></node>`, /ram="1.5"/],
    [`<node client_id="vm1"><sliver_type name="a"><emulab:xen disk="1e3"/></sliver_type></node>`, /disk="1e3"/],
    [`<node client_id="vm1"><sliver_type name="a"><emulab:xen disk="99999999999"/></sliver_type></node>`, /disk=/],
    [`<node client_id="vm1"><sliver_type name="a"><emulab:xen cores=""/></sliver_type></node>`, /cores=""/],
  ];
  for (const [body, re] of cases) {
    assert.throws(() => parseRequestRspec(rspec(body), AUTH), (e: unknown) => e instanceof InputError && re.test(e.message), body);
  }
  // Bad nodes of other aggregates are not ours to judge.
  assert.deepEqual(parseRequestRspec(rspec(`<node component_manager_id="urn:publicid:IDN+x+authority+cm" client_id="bad.name"><sliver_type name="a"/><sliver_type name="b"/></node>`), AUTH), []);
  // Figures with blanks around them are fine (attribute values as written by hand).
  assert.deepEqual(parseRequestRspec(rspec(`<node client_id="vm1"><sliver_type name="a"><emulab:xen cores=" 2 "/></sliver_type></node>`), AUTH), [{ clientId: 'vm1', sliverType: 'a', cores: 2 }]);
});

test('hostile input is refused before it costs anything (DTD, entities, size, depth, element count, garbage)', () => {
  const hostile: [string, RegExp][] = [
    [`<?xml version="1.0"?><!DOCTYPE rspec [<!ENTITY x "y">]><rspec ${GENI} type="request"><node client_id="&x;"/></rspec>`, /DOCTYPE and ENTITY declarations are not allowed/],
    [`<!DOCTYPE rspec SYSTEM "file:///etc/passwd"><rspec ${GENI}/>`, /DOCTYPE/],
    [`<rspec ${GENI}><node client_id="&ext;"/></rspec>`, /undefined entity/],
    [rspec(`<node client_id="vm1"/>`.repeat(1)).replace('</rspec>', 'x'.repeat(1024 * 1024) + '</rspec>'), /too large/],
    [`<rspec ${GENI}>${'<a>'.repeat(40)}${'</a>'.repeat(40)}</rspec>`, /nested deeper than 32/],
    [`<rspec ${GENI}>${'<a/>'.repeat(10001)}</rspec>`, /more than 10000 elements/],
    [rspec(Array.from({ length: 257 }, (_, i) => `<node client_id="vm${i}"/>`).join('')), /more than 256 nodes/],
    [`<rspec ${GENI}><node client_id="a"></rspec>`, /not well-formed XML/],
    ['', /not well-formed|no root/],
    ['just text', /not well-formed/],
    [`<rspec ${GENI}/><rspec ${GENI}/>`, /more than one root element/],
    [`<rspec ${GENI}><x:node xmlns:y="u" client_id="a"/></rspec>`, /unbound namespace prefix/],
  ];
  for (const [xml, re] of hostile) {
    assert.throws(() => parseRequestRspec(xml, AUTH), (e: unknown) => e instanceof InputError && re.test(e.message), xml.slice(0, 100));
  }
  assert.throws(() => parseRequestRspec(42 as unknown as string, AUTH), /must be a string/);
  // Non-ASCII is fine where it is only text the parser does not read.
  assert.deepEqual(parseRequestRspec(rspec(`<!-- caf\u00e9 --><node client_id="vm1"><description xmlns="urn:x">\u00fcber</description></node>`), AUTH), [{ clientId: 'vm1' }]);
});

test('templateNameOfDiskImage resolves image names as §7.2 says', () => {
  assert.equal(templateNameOfDiskImage(undefined), undefined);
  assert.equal(templateNameOfDiskImage('default'), undefined);
  assert.equal(templateNameOfDiskImage(''), undefined);
  assert.equal(templateNameOfDiskImage('urn:publicid:IDN+wall2.ilabt.iminds.be+image+emulab-ops//DEB60_64-VLAN'), 'DEB60_64-VLAN');
  assert.equal(templateNameOfDiskImage('urn:publicid:IDN+ocf:i2cat:vtam+image+debian12'), 'debian12');
  assert.equal(templateNameOfDiskImage('urn:publicid:IDN+x+image+a//b//c'), 'c');
  assert.equal(templateNameOfDiskImage('urn:publicid:IDN+x+image+a//'), 'a//');
  assert.equal(templateNameOfDiskImage('debian12'), 'debian12');
  assert.equal(templateNameOfDiskImage('urn:publicid:IDN+x+node+y'), 'urn:publicid:IDN+x+node+y');
  assert.equal(templateNameOfDiskImage('Default'), 'Default');
});
