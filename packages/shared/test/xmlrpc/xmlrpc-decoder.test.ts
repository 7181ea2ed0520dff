/**
 * The strict XML-RPC decoder (packages/shared/src/xmlrpc/xmlrpc-decoder.ts) behind parseMethodCall: each case
 * here was accepted (or stalled the loop) with the `xmlrpc` package's Deserializer (issue 9 items 4, 10, 11).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../dist/errors.js';
import { decodeMethodResponse } from '../../dist/xmlrpc/xmlrpc-decoder.js';
import { parseMethodCall } from '../../dist/xmlrpc/server.js';

const call = (method: string, valueXml: string) =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params><param><value>${valueXml}</value></param></params></methodCall>`;

async function refused(body: string, re: RegExp): Promise<void> {
  await assert.rejects(parseMethodCall(body), (e: unknown) => e instanceof InputError && re.test(e.message), `expected ${re}`);
}

test('integers: strict decimal syntax and 32-bit range for int/i4', async () => {
  assert.deepEqual((await parseMethodCall(call('m', '<int>-2147483648</int>'))).params, [-2147483648]);
  assert.deepEqual((await parseMethodCall(call('m', '<i4> +12 </i4>'))).params, [12]);
  await refused(call('m', '<int>12abc</int>'), /^XML-RPC request rejected: <int> holds "12abc", not a decimal integer$/);
  await refused(call('m', '<int> 0x10</int>'), /not a decimal integer/);
  await refused(call('m', '<int></int>'), /not a decimal integer/);
  await refused(call('m', '<i4>99999999999</i4>'), /^XML-RPC request rejected: <i4> value 99999999999 is out of range/);
  await refused(call('m', '<int>2147483648</int>'), /out of range/);
  await refused(call('m', '<double>1e999</double>'), /not a finite decimal number/);
  await refused(call('m', '<double>0x1p3</double>'), /not a finite decimal number/);
  await refused(call('m', '<boolean>yes</boolean>'), /not 0 or 1/);
});

test('struct members named __proto__, constructor or prototype are refused; others build plain structs', async () => {
  for (const name of ['__proto__', 'constructor', 'prototype']) {
    await refused(call('m', `<struct><member><name>${name}</name><value><array><data><value>admin</value></data></array></value></member></struct>`), /struct member name ".*" is not allowed/);
  }
  const ok = await parseMethodCall(call('m', '<struct><member><name>roles</name><value><string>x</string></value></member></struct>'));
  assert.deepEqual(ok.params, [{ roles: 'x' }]);
});

test('depth, element count and whitespace between tags are capped as the message streams in', async () => {
  const deep = (n: number) => call('ping', '<array><data><value>'.repeat(n) + 'x' + '</value></data></array>'.repeat(n));
  assert.equal((await parseMethodCall(deep(60))).methodName, 'ping');
  await refused(deep(2000), /^XML-RPC request rejected: elements nested deeper than 200 levels$/);
  const many = call('ping', '<array><data>' + '<value><int>1</int></value>'.repeat(50_001) + '</data></array>');
  await refused(many, /^XML-RPC request rejected: more than 100000 elements$/);
  await refused(call('ping', '<array>' + ' '.repeat(5000) + '<data></data></array>'), /5000 characters of whitespace between tags/);
  await refused(call('ping', '<array><data>junk</data></array>'), /text "junk" where XML-RPC allows only markup/);
});

test('method names: the XML-RPC character set, at most 256 characters, clipped when reflected', async () => {
  const long = 'a'.repeat(1024 * 1024);
  await assert.rejects(parseMethodCall(call(long, '<int>1</int>')), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.ok(e.message.length < 300, `message of ${e.message.length} characters`);
    assert.match(e.message, /…\(1048576 chars\)/);
    return true;
  });
  await refused(call('a b', '<int>1</int>'), /method name "a b" is not/);
  assert.equal((await parseMethodCall(call('system.listMethods', '<int>1</int>'))).methodName, 'system.listMethods');
});

test('not well-formed input keeps the "malformed XML-RPC request" wording; a response is checked as a response', async () => {
  await refused('<methodCall><methodName>x</methodName><params><param><value><string>x</str', /^malformed XML-RPC request: /);
  await assert.rejects(decodeMethodResponse('<methodResponse><params><param><value><int>1x</int></value></param></params></methodResponse>'), /XML-RPC response rejected: <int> holds "1x"/);
});

test('values decode as the xmlrpc package decoded them', async () => {
  const body = call('m', '<struct><member><name>a</name><value>plain</value></member><member><name>b</name><value><i8>9007199254740991</i8></value></member>' +
    '<member><name>c</name><value><array><data><value><boolean>1</boolean></value><value><double>-1.5e2</double></value><value><nil/></value></data></array></value></member>' +
    '<member><name>d</name><value><base64>aGk=</base64></value></member><member><name>e</name><value><dateTime.iso8601>20261204T10:00:00</dateTime.iso8601></value></member></struct>');
  const [v] = (await parseMethodCall(body)).params as [Record<string, unknown>];
  assert.equal(v['a'], 'plain');
  assert.equal(v['b'], '9007199254740991');
  assert.deepEqual(v['c'], [true, -150, null]);
  assert.deepEqual(v['d'], Buffer.from('hi'));
  assert.ok(v['e'] instanceof Date);
  const fault = await decodeMethodResponse('<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value><string>no</string></value></member></struct></value></fault></methodResponse>');
  assert.deepEqual(fault, { fault: { faultCode: 1, faultString: 'no' } });
});

test('a large body is decoded in chunks: the event loop keeps turning while it runs', async () => {
  const body = call('m', '<string>' + 'a'.repeat(4 * 1024 * 1024) + '</string>');
  let ticks = 0;
  const timer = setInterval(() => (ticks += 1), 0);
  const started = Date.now();
  await parseMethodCall(body);
  clearInterval(timer);
  // 4 MiB in 32 Ki-character chunks is 128 yields; a timer fires between some of them unless the loop is blocked.
  assert.ok(ticks > 0, `no timer ran during ${Date.now() - started} ms of decoding`);
});

test('ping echoes only a small challenge: a megabyte string or a large container is refused, not serialised back', async () => {
  const { pingChallenge } = await import('../../dist/xmlrpc/params.js');
  assert.equal(pingChallenge(['hola']), 'hola');
  assert.equal(pingChallenge([]), '');
  assert.equal(pingChallenge([42]), 42);
  assert.throws(() => pingChallenge(['a'.repeat(8 * 1024 * 1024)]), (e: unknown) => e instanceof InputError && e.message === 'ping challenge of 8388608 characters: at most 1024');
  assert.deepEqual(pingChallenge([{ a: [1, 'b'] }]), { a: [1, 'b'] });
  assert.throws(() => pingChallenge([Array.from({ length: 2000 }, () => 1)]), (e: unknown) => e instanceof InputError && e.message === 'ping challenge larger than 1024 characters');
  assert.throws(() => pingChallenge([{ k: 'x'.repeat(2000) }]), /ping challenge larger than 1024 characters/);
});
