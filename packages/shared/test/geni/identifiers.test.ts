import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InputError, assertAuthorityHrn, componentManagerHrn, componentManagerUrn, isComponentManagerUrn, nodeUrn, parseSliverUrn,
  serverNameOfNodeUrn, sliceLeafOf, sliverUrn,
} from '../../dist/index.js';

const AUTH = 'ocf.i2cat';
const SLICE = 'urn:publicid:IDN+ocf:i2cat+slice+myslice';

test('the URNs of docs/geni-v3.md §4.3 (component manager, node, sliver)', () => {
  assert.equal(componentManagerHrn(AUTH), 'ocf.i2cat.vtam');
  assert.equal(componentManagerUrn(AUTH), 'urn:publicid:IDN+ocf:i2cat:vtam+authority+cm');
  assert.equal(nodeUrn(AUTH, 'Verdaguer'), 'urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer');
  assert.equal(sliverUrn(AUTH, 'Verdaguer', SLICE, 'vm1'), 'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm1');
  // The slice's authority does not appear in the sliver URN, only its leaf (the original's form).
  assert.equal(sliverUrn(AUTH, 'Verdaguer', 'urn:publicid:IDN+ch.geni.net:proj+slice+myslice', 'vm1'), 'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm1');
  assert.equal(componentManagerUrn('kvmcrm'), 'urn:publicid:IDN+kvmcrm:vtam+authority+cm');
  // "vtam" in every component URN: the RO keeps only such nodes (§1 item 6).
  for (const u of [componentManagerUrn(AUTH), nodeUrn(AUTH, 'x1')]) assert.match(u, /vtam/);
});

test('node and sliver URNs parse back to their parts', () => {
  assert.equal(serverNameOfNodeUrn(AUTH, nodeUrn(AUTH, 'Verdaguer')), 'Verdaguer');
  assert.equal(serverNameOfNodeUrn(AUTH, 'URN:PUBLICID:IDN+ocf:i2cat:vtam+node+Verdaguer'), 'Verdaguer');
  assert.deepEqual(parseSliverUrn(AUTH, sliverUrn(AUTH, 'host-2', SLICE, 'vm-1')), { serverName: 'host-2', sliceLeaf: 'myslice', clientId: 'vm-1' });
  assert.deepEqual(parseSliverUrn(AUTH, 'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm1'), { serverName: 'Verdaguer', sliceLeaf: 'myslice', clientId: 'vm1' });
});

test('URNs that are not ours, or not of the right shape, give undefined (never throw)', () => {
  for (const u of [
    'urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer+interface+eth1', // an interface, not a node
    'urn:publicid:IDN+ocf:aist:vtam+node+Verdaguer', // another authority
    'urn:publicid:IDN+ocf:i2cat+node+Verdaguer', // no vtam
    'urn:publicid:IDN+ocf:i2cat:vtam+sliver+Verdaguer',
    'urn:publicid:IDN+ocf:i2cat:vtam+node+bad.name',
    'urn:publicid:IDN+ocf:i2cat:vtam+node+-x',
    'not a urn', '', 'urn:publicid:IDN+ocf:i2cat:vtam+authority+cm',
  ]) assert.equal(serverNameOfNodeUrn(AUTH, u), undefined, u);
  for (const u of [
    'urn:publicid:IDN+ocf:i2cat:vtam+sliver+1525', // the older OCF form (crm-manifest-ro-example.xml)
    'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer+sliver+vm1',
    'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice:x+sliver+vm1',
    'urn:publicid:IDN+ocf:aist:vtam:Verdaguer:myslice+sliver+vm1',
    'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+node+vm1',
    'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm_1',
    'urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm1+x',
    'garbage',
  ]) assert.equal(parseSliverUrn(AUTH, u), undefined, u);
  assert.ok(isComponentManagerUrn(AUTH, 'urn:publicid:IDN+ocf:i2cat:vtam+authority+cm'));
  assert.ok(!isComponentManagerUrn(AUTH, 'urn:publicid:IDN+ocf:i2cat:vtam+authority+sa'));
  assert.ok(!isComponentManagerUrn(AUTH, 'urn:publicid:IDN+ocf:i2cat+authority+cm'));
  assert.ok(!isComponentManagerUrn(AUTH, 'junk'));
});

test('names that would break a URN are refused with InputError (§4.3: ., +, :, /, blanks, invalid VM names)', () => {
  for (const bad of ['vm.1', 'vm+1', 'vm:1', 'vm/1', 'vm 1', '', 'v\u00e9', 'x'.repeat(65), 'vm_1']) {
    assert.throws(() => sliverUrn(AUTH, 'Verdaguer', SLICE, bad), (e: unknown) => e instanceof InputError && /client_id/.test(e.message), bad);
  }
  for (const bad of ['Ver.daguer', 'a+b', 'a:b', 'a/b', 'a b', '', '-a']) {
    assert.throws(() => nodeUrn(AUTH, bad), InputError, bad);
    assert.throws(() => sliverUrn(AUTH, bad, SLICE, 'vm1'), InputError, bad);
  }
  for (const bad of ['urn:publicid:IDN+ocf:i2cat+slice+my.slice', 'urn:publicid:IDN+ocf:i2cat+slice+a+b', 'urn:publicid:IDN+ocf:i2cat+slice+a:b',
    'urn:publicid:IDN+ocf:i2cat+slice+a/b', 'urn:publicid:IDN+ocf:i2cat+user+me', 'myslice']) {
    assert.throws(() => sliverUrn(AUTH, 'Verdaguer', bad, 'vm1'), InputError, bad);
    assert.throws(() => sliceLeafOf(bad), InputError, bad);
  }
  assert.equal(sliceLeafOf('urn:publicid:IDN+ch.geni.net:proj+slice+my_slice-2'), 'my_slice-2');
  for (const bad of ['', 'ocf..i2cat', 'ocf.i2cat.', 'ocf:i2cat', 'ocf+i2cat', 'ocf i2cat', 'ocf\\.x.i2cat', 'a'.repeat(129)]) {
    assert.throws(() => assertAuthorityHrn(bad), InputError, bad);
    assert.throws(() => componentManagerUrn(bad), InputError, bad);
  }
});
