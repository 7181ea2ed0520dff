import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { InputError, buildAdvertisement, compressRspec, decompressRspec, parseRequestRspec } from '../../dist/index.js';
import { fixturesDir } from './schema-validation.js';

const fixture = (name: string) => readFileSync(path.join(fixturesDir, 'rspecs', name), 'utf8');

test('round trip: every fixture and a built advertisement come back unchanged', () => {
  const ad = buildAdvertisement('ocf.i2cat', [{ serverName: 'S1', available: true, templates: ['debian12'], cpus: 4 }]);
  for (const xml of [fixture('crm-ad-i2cat.xml'), fixture('crm-request-ro-example.xml'), fixture('crm-manifest-ro-example.xml'), ad, '', 'caf\u00e9 \u{1F600}']) {
    const b64 = compressRspec(xml);
    assert.match(b64, /^[A-Za-z0-9+/]*=*$/, 'base64 without line breaks');
    assert.equal(decompressRspec(b64), xml);
  }
  // RFC 1950 (zlib header 0x78), not raw deflate or gzip.
  assert.equal(Buffer.from(compressRspec('<rspec/>'), 'base64')[0], 0x78);
});

test("interoperates with Python's base64.b64encode(zlib.compress(...)) both ways (omni, §8)", () => {
  const xml = fixture('crm-request-ro-example.xml');
  const script = 'import sys,zlib,base64\nd=sys.stdin.buffer.read()\nif sys.argv[1]=="c": sys.stdout.write(base64.b64encode(zlib.compress(d)).decode())\nelse: sys.stdout.buffer.write(zlib.decompress(base64.b64decode(d)))';
  const fromPython = execFileSync('python3', ['-c', script, 'c'], { input: xml, encoding: 'utf8' });
  assert.equal(decompressRspec(fromPython), xml);
  assert.equal(execFileSync('python3', ['-c', script, 'd'], { input: compressRspec(xml), encoding: 'utf8' }), xml);
  // base64.encodestring style: lines of 76 characters.
  assert.equal(decompressRspec(fromPython.replace(/(.{76})/g, '$1\n')), xml);
  assert.deepEqual(parseRequestRspec(decompressRspec(fromPython), 'ocf.i2cat').map((n) => n.clientId), ['Verdaguer']);
});

test('a zlib bomb (small base64, huge output) is refused at maxBytes, quickly', () => {
  const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024, 0x61)).toString('base64'); // 64 MiB of "a"
  assert.ok(bomb.length < 200 * 1024, `bomb is ${bomb.length} characters`);
  const started = process.hrtime.bigint();
  assert.throws(() => decompressRspec(bomb), (e: unknown) => e instanceof InputError && /expands to more than 8388608 bytes/.test(e.message));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 2000, `refused in ${ms.toFixed(0)} ms`);
  // The bound is exact: maxBytes itself is accepted, one more byte is not.
  const kb = compressRspec('x'.repeat(1000));
  assert.equal(decompressRspec(kb, 1000).length, 1000);
  assert.throws(() => decompressRspec(kb, 999), /expands to more than 999 bytes/);
});

test('malformed input is refused with InputError', () => {
  const cases: [unknown, RegExp][] = [
    ['', /not base64/],
    ['not base64!', /not base64/],
    ['abc', /not base64/],
    ['ab=c', /not base64/],
    [Buffer.from('<rspec/>').toString('base64'), /not zlib data/],
    [deflateSync(Buffer.from([0xff, 0xfe, 0x00])).toString('base64'), /not valid UTF-8/],
    [Buffer.from(deflateSync(Buffer.from('<rspec/>'))).subarray(0, 5).toString('base64'), /not zlib data/],
    [42, /must be a base64 string/],
    ['A'.repeat(2001), /too large/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => decompressRspec(input as string, input === 'A'.repeat(2001) ? 1000 : undefined), (e: unknown) => e instanceof InputError && re.test(e.message), String(input).slice(0, 40));
  }
  assert.throws(() => decompressRspec('eJwDAAAAAAE=', 0), RangeError);
});
