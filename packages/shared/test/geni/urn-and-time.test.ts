import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatGeniTime, hrnToUrn, isAuthorityPrefix, parseGeniTime, parseUrn, parseUrnOfType, sameUrn, urnLeaf, urnToHrn,
} from '../../dist/geni/index.js';

test('URN → HRN as SFA Xrn (docs/geni-v3.md §4.2)', () => {
  assert.equal(urnToHrn('urn:publicid:IDN+ch.geni.net:proj+slice+foo'), 'ch\\.geni\\.net.proj.foo');
  assert.equal(urnToHrn('urn:publicid:IDN+topdomain+authority+sa'), 'topdomain');
  assert.equal(urnToHrn('urn:publicid:IDN+ocf:i2cat+slice+myslice'), 'ocf.i2cat.myslice');
});

test('HRN → URN gives the original FELIX forms (§4.3)', () => {
  assert.equal(hrnToUrn('ocf.i2cat.vtam', 'authority+cm'), 'urn:publicid:IDN+ocf:i2cat:vtam+authority+cm');
  assert.equal(hrnToUrn('ocf.i2cat.vtam.Verdaguer', 'node'), 'urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer');
  assert.equal(hrnToUrn('ocf.i2cat.vtam.Verdaguer.myslice.vm1', 'sliver'), 'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm1');
  assert.equal(hrnToUrn(urnToHrn('urn:publicid:IDN+ch.geni.net:proj+slice+foo'), 'slice'), 'urn:publicid:IDN+ch.geni.net:proj+slice+foo');
  assert.throws(() => hrnToUrn('single', 'slice'), /needs an authority and a name/);
});

test('parseUrn splits authority, type and name; refuses what is not a URN', () => {
  assert.deepEqual(parseUrn('urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer+interface+eth1'), { authority: 'ocf:i2cat:vtam', type: 'node', name: 'Verdaguer+interface+eth1' });
  assert.deepEqual(parseUrn('URN:PUBLICID:IDN+kvmcrm-test+authority+sa'), { authority: 'kvmcrm-test', type: 'authority+sa', name: '' });
  for (const bad of ['', 'urn:publicid:IDN', 'urn:publicid:IDN+a', 'urn:publicid:IDN+a+slice', 'urn:publicid:IDN+a+slice+has blank', 'urn:other+a+slice+b', 'urn:publicid:IDN+a::b+slice+c', `urn:publicid:IDN+a+slice+${'x'.repeat(600)}`, 'urn:publicid:IDN+a+slice+caf\u00e9']) {
    assert.throws(() => parseUrn(bad), /GENI URN/, bad);
  }
  assert.throws(() => parseUrnOfType('urn:publicid:IDN+a+user+b', 'slice'), /expected a slice URN/);
  assert.equal(parseUrnOfType('urn:publicid:IDN+a+authority+ma', 'authority').type, 'authority+ma');
  assert.equal(urnLeaf('urn:publicid:IDN+ch.geni.net+user+jdoe'), 'jdoe');
});

test('URN comparison: prefix case-insensitive, the rest exact; authority prefixes in whole parts', () => {
  assert.ok(sameUrn('URN:publicid:IDN+a+slice+b', 'urn:publicid:IDN+a+slice+b'));
  assert.ok(!sameUrn('urn:publicid:IDN+a+slice+B', 'urn:publicid:IDN+a+slice+b'));
  assert.ok(isAuthorityPrefix('ocf.i2cat', 'ocf.i2cat.myslice'));
  assert.ok(isAuthorityPrefix('ocf.i2cat', 'ocf.i2cat'));
  assert.ok(!isAuthorityPrefix('ocf.i2cat', 'ocf.i2catx.myslice'));
  assert.ok(!isAuthorityPrefix('ch\\.geni\\.net', 'ch.geni.net.proj'));
  assert.ok(isAuthorityPrefix('ch\\.geni\\.net', 'ch\\.geni\\.net.proj.foo'));
});

test('GENI times: RFC 3339 with any offset in, UTC whole seconds with Z out (§1.5, §5.4)', () => {
  const t = parseGeniTime('2016-02-04T12:00:00+00:00');
  assert.equal(formatGeniTime(t), '2016-02-04T12:00:00Z');
  assert.equal(formatGeniTime(parseGeniTime('2016-02-04T13:30:00+01:30')), '2016-02-04T12:00:00Z');
  assert.equal(formatGeniTime(parseGeniTime('2016-02-04T10:00:00.123456-02:00')), '2016-02-04T12:00:00Z');
  assert.equal(formatGeniTime(parseGeniTime('2013-07-14T10:42:15')), '2013-07-14T10:42:15Z');
  assert.equal(parseGeniTime('2016-02-04T12:00:00.5Z').getTime() % 1000, 500);
  for (const bad of ['', 'tomorrow', '2016-02-30T00:00:00Z', '2016-02-04T25:00:00Z', '2016-02-04', '1454587200']) {
    assert.throws(() => parseGeniTime(bad), /RFC 3339|valid date-time/, bad);
  }
});
