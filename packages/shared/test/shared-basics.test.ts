import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import winston from 'winston';
import { loadConfigFile, z } from '../dist/config.js';
import { InputError, toFault, NotFoundError } from '../dist/errors.js';
import { createLogger } from '../dist/logger.js';
import { redactCredentials } from '../dist/redact.js';
import { hashPassword, verifyPassword } from '../dist/password-hash.js';
import { createCertificateAuthority, issueCertificate, writePemPair } from '../dist/tls/certificate-authority.js';
import { parsePeerUrl } from '../dist/xmlrpc/callback-url.js';
import { assertPattern, isIpv4, netmaskToPrefix, VM_NAME_PATTERN } from '../dist/validation.js';

test('redactCredentials hides userinfo in every URL of a text', () => {
  assert.equal(redactCredentials('cb https://expedient:s3cret@10.0.0.5/vt/ and http://u@h:1/x'), 'cb https://***@10.0.0.5/vt/ and http://***@h:1/x');
  assert.equal(redactCredentials('no url here: user:pw@host'), 'no url here: user:pw@host');
});

test('the logger redacts credentials in messages and fields', () => {
  const lines: string[] = [];
  const logger = createLogger({ component: 'test' });
  logger.clear();
  logger.add(new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) }));
  logger.info('calling https://admin:hunter2@vtam:8445/xmlrpc/agent', { callback: 'https://a:b@c/' });
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines[0]!, /hunter2|a:b@/);
  assert.match(lines[0]!, /https:\/\/\*\*\*@vtam:8445/);
  assert.match(lines[0]!, /"component":"test"/);
});

test('loadConfigFile names the file and each bad key', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-cfg-'));
  try {
    const schema = z.object({ port: z.number().int(), name: z.string() });
    const file = path.join(dir, 'c.json');
    assert.throws(() => loadConfigFile(path.join(dir, 'missing.json'), schema), (e: unknown) => e instanceof InputError && /cannot read: ENOENT/.test(e.message));
    writeFileSync(file, '{"port": 1,');
    assert.throws(() => loadConfigFile(file, schema), /not valid JSON/);
    writeFileSync(file, '{"port": "x"}');
    assert.throws(() => loadConfigFile(file, schema), (e: unknown) => e instanceof InputError && /c\.json: port: .*; name: /.test(e.message));
    writeFileSync(file, '{"port": 8, "name": "a"}');
    assert.deepEqual(loadConfigFile(file, schema), { port: 8, name: 'a' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CA: issued certificates chain to the CA, carry the SANs, and keys are written 0600', () => {
  const ca = createCertificateAuthority({ commonName: 'test CA' });
  const leaf = issueCertificate(ca, { commonName: 'kvm1', dnsNames: ['kvm1'], ipAddresses: ['10.0.0.21'], usage: 'server+client' });
  const caCert = new X509Certificate(ca.certPem);
  const cert = new X509Certificate(leaf.certPem);
  assert.ok(cert.verify(caCert.publicKey), 'signed by the CA');
  assert.ok(caCert.ca && !cert.ca);
  assert.match(cert.subjectAltName ?? '', /DNS:kvm1/);
  assert.match(cert.subjectAltName ?? '', /IP Address:10\.0\.0\.21/);
  assert.ok(!cert.verify(new X509Certificate(createCertificateAuthority().certPem).publicKey), 'another CA does not verify it');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-ca-'));
  try {
    const { certFile, keyFile } = writePemPair(dir, 'kvm1', leaf);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(readFileSync(certFile, 'utf8'), leaf.certPem);
    assert.throws(() => writePemPair(dir, '../evil', leaf), InputError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scrypt hashes verify only the right password; malformed hashes never match', () => {
  const h = hashPassword('s3cret');
  assert.match(h, /^scrypt\$32768\$8\$1\$/);
  assert.ok(verifyPassword('s3cret', h));
  assert.ok(!verifyPassword('s3cret ', h));
  assert.ok(!verifyPassword('s3cret', 'plain'));
  assert.ok(!verifyPassword('s3cret', 'scrypt$99999999$8$1$AA==$AA=='));
  assert.notEqual(hashPassword('s3cret'), h, 'fresh salt each time');
});

test('parsePeerUrl splits credentials the way xmlrpclib does (§1.4)', () => {
  const p = parsePeerUrl('https://exp%40dient:pa%3Ass@10.0.0.5/vt_plugin/xmlrpc/vt_am/');
  assert.deepEqual(p.basicAuth, { user: 'exp@dient', pass: 'pa:ss' });
  assert.equal(p.url.toString(), 'https://10.0.0.5/vt_plugin/xmlrpc/vt_am/');
  assert.throws(() => parsePeerUrl('file:///etc/passwd'), InputError);
  assert.throws(() => parsePeerUrl('https://u:secret@'), (e: unknown) => e instanceof InputError && !/secret/.test(e.message));
});

test('validation helpers and fault mapping', () => {
  assert.ok(isIpv4('10.0.0.1') && !isIpv4('10.0.0.256') && !isIpv4('010.0.0.1') && !isIpv4('1.2.3'));
  assert.equal(netmaskToPrefix('255.255.255.0'), 24);
  assert.equal(netmaskToPrefix('255.255.255.255'), 32);
  assert.throws(() => netmaskToPrefix('255.0.255.0'), /contiguous/);
  assert.throws(() => assertPattern('a;rm -rf /', VM_NAME_PATTERN, 'VM name'), /invalid VM name: "a;rm -rf \/"/);
  assert.deepEqual(toFault(new NotFoundError('no VM x')), { faultCode: 1, faultString: 'NotFoundError: no VM x' });
  assert.deepEqual(toFault(new Error('/etc/secret path')), { faultCode: 1, faultString: 'InternalError: internal error' });
});

test('SecretBox seals with AES-256-GCM, refuses tampering and foreign keys, reads old clear values', async () => {
  const { SecretBox } = await import('../dist/secret-box.js');
  const box = SecretBox.random();
  const sealed = box.seal('https://expedient:s3cret@10.0.0.5/vt/');
  assert.match(sealed, /^enc:v1:/);
  assert.doesNotMatch(sealed, /s3cret/);
  assert.notEqual(box.seal('x'), box.seal('x'), 'fresh IV each time');
  assert.equal(box.open(sealed), 'https://expedient:s3cret@10.0.0.5/vt/');
  assert.equal(box.open('plain value'), 'plain value');
  assert.throws(() => SecretBox.random().open(sealed), /cannot be decrypted/);
  const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
  assert.throws(() => box.open(tampered), /cannot be decrypted/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-key-'));
  try {
    const file = path.join(dir, 'secrets.key');
    const a = SecretBox.fromKeyFile(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(SecretBox.fromKeyFile(file).open(a.seal('same key')), 'same key', 'the key file is reused');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
