/**
 * The original system's complete XML-RPC bodies (shared/ocf-fixtures/generated/*.method{Call,Response}.xml,
 * produced by CPython 2.7 xmlrpclib): our side accepts each one, and what our side emits for the same values
 * decodes to the same values (byte equality is not expected: xmlrpclib puts newlines between elements).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthenticationError } from '../../dist/errors.js';
import { parseMethodCall, parseMethodResponse, serialiseFault, serialiseMethodCall, serialiseMethodResponse } from '../../dist/xmlrpc/server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const generated = path.join(process.env.OCF_FIXTURES_DIR ?? path.resolve(here, '../../../../../shared/ocf-fixtures'), 'generated');
const read = (f: string) => readFileSync(path.join(generated, f), 'utf8');

test('every generated methodCall parses, and our re-serialisation decodes to the same call', async () => {
  const files = readdirSync(generated).filter((f) => f.endsWith('.methodCall.xml'));
  assert.ok(files.length >= 8, `found ${files.length} methodCall fixtures`);
  for (const f of files) {
    const call = await parseMethodCall(read(f));
    assert.ok(call.methodName.length > 0, f);
    const again = await parseMethodCall(serialiseMethodCall(call.methodName, call.params));
    assert.deepEqual(again, call, f);
  }
  const send = await parseMethodCall(read('02-manager-to-agent.send.create.methodCall.xml'));
  assert.equal(send.methodName, 'send');
  assert.deepEqual(send.params.slice(0, 3), ['https://vtadmin:adminpw@10.0.0.9:8445/xmlrpc/agent', 1, 'agentpw'], 'amId is an <int>');
  assert.equal(send.params[3], read('02-manager-to-agent.send.create.rspec.xml'));
});

test('our methodCall writes strings as escaped <string>, like xmlrpclib (not CDATA)', () => {
  const xml = serialiseMethodCall('send', ['https://u:p@h/', 1, 'pw', '<rspec>&amp;</rspec>\n']);
  assert.match(xml, /<value><string>&lt;rspec&gt;&amp;amp;&lt;\/rspec&gt;\n<\/string><\/value>/);
  assert.match(xml, /<value><int>1<\/int><\/value>/);
  assert.doesNotMatch(xml, /CDATA/);
});

test('every generated methodResponse decodes, and ours for the same value decodes to the same value', async () => {
  const files = readdirSync(generated).filter((f) => f.includes('methodResponse') && !f.includes('fault'));
  assert.ok(files.length >= 7, `found ${files.length} methodResponse fixtures`);
  for (const f of files) {
    const original = await parseMethodResponse(read(f));
    assert.ok('value' in original, f);
    assert.deepEqual(await parseMethodResponse(serialiseMethodResponse(original.value)), original, f);
  }
  assert.deepEqual(await parseMethodResponse(read('18-methodResponse.nil.xml')), { value: null }, 'send/sendAsync answer nil');
  assert.deepEqual(await parseMethodResponse(read('18-methodResponse.empty-string.xml')), { value: '' }, 'the agent answers ""');
  assert.deepEqual(await parseMethodResponse(read('19-get_am_info.methodResponse.xml')), { value: { version: '0.8.3' } });
  const lr = await parseMethodResponse(read('16-manager-to-plugin.listResources.methodResponse.xml'));
  assert.ok('value' in lr && Array.isArray(lr.value) && lr.value.length === 2, 'listResources answers [hash, xml]');
});

test('the password-mismatch fault: ours carries fault code 1 and the same reason text', async () => {
  const original = await parseMethodResponse(read('18-methodResponse.fault.password-mismatch.xml'));
  assert.ok('fault' in original);
  assert.equal(original.fault.faultCode, 1);
  assert.match(original.fault.faultString, /Password mismatch$/);
  const ours = await parseMethodResponse(serialiseFault(new AuthenticationError('Password mismatch')));
  assert.ok('fault' in ours);
  assert.equal(ours.fault.faultCode, 1);
  assert.match(ours.fault.faultString, /Password mismatch$/);
});
