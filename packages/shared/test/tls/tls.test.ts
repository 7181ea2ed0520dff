/**
 * The CA beyond issuing: roles in certificates, CRLs (built here, enforced by OpenSSL in real handshakes both
 * ways), atomic 0600 writes, the `vtctl certs` store (issue, list, revoke, rotate, adopt), and ReloadableTls
 * (rotation under a running server: new connections get the new certificate, a request in flight completes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConflictError, InputError, NotFoundError } from '../../dist/errors.js';
import { createLogger } from '../../dist/logger.js';
import { writeFileAtomic } from '../../dist/atomic-file.js';
import { createCertificateAuthority, issueCertificate, writePemPair, type PemPair } from '../../dist/tls/certificate-authority.js';
import { describeCertificate } from '../../dist/tls/certificate-info.js';
import { CertificateStore } from '../../dist/tls/certificate-store.js';
import { assertCrlSignedBy, createCrl, normaliseSerial, parseCrl } from '../../dist/tls/crl.js';
import { peerCertificateNames, peerCertificateRole } from '../../dist/tls/peer-identity.js';
import { ReloadableTls, readTlsMaterial, tlsOptionsSchema } from '../../dist/tls/reloadable-tls.js';

const logger = createLogger({ component: 'test', silent: true });

function tempDir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const serialOf = (pem: string) => normaliseSerial(new X509Certificate(pem).serialNumber);

/** An HTTPS server answering `{authorized, error, serial}` of the client certificate; closed after the test. */
async function echoServer(t: { after: (fn: () => Promise<void>) => void }, options: https.ServerOptions): Promise<number> {
  const server = https.createServer({ requestCert: true, rejectUnauthorized: false, ...options }, (req, res) => {
    const s = req.socket as tls.TLSSocket;
    const cert = s.getPeerCertificate();
    res.end(JSON.stringify({ authorized: s.authorized, error: s.authorizationError ?? null, serial: cert?.serialNumber ? normaliseSerial(cert.serialNumber) : null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

function get(port: number, options: https.RequestOptions): Promise<{ body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, method: 'GET', agent: false, ...options }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ body }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

test('roles: issueCertificate writes the role as the subject OU; describeCertificate and peer helpers read it back', () => {
  const ca = createCertificateAuthority();
  const agent = issueCertificate(ca, { commonName: 'kvm1', role: 'agent', dnsNames: ['kvm1'], ipAddresses: ['10.0.0.21'], usage: 'server+client' });
  const x = new X509Certificate(agent.certPem);
  assert.match(x.subject, /^OU=agent$/m);
  assert.match(x.subject, /^CN=kvm1$/m);
  const info = describeCertificate(agent.certPem);
  assert.equal(info.role, 'agent');
  assert.equal(info.commonName, 'kvm1');
  assert.deepEqual(info.dnsNames, ['kvm1']);
  assert.deepEqual(info.ipAddresses, ['10.0.0.21']);
  assert.equal(info.serial, serialOf(agent.certPem));
  const noRole = issueCertificate(ca, { commonName: 'x', usage: 'client' });
  assert.equal(describeCertificate(noRole.certPem).role, undefined);
  assert.doesNotMatch(new X509Certificate(noRole.certPem).subject, /OU=/);
  assert.throws(() => issueCertificate(ca, { commonName: 'x', role: 'root' as never, usage: 'client' }), InputError);
  assert.throws(() => describeCertificate('not a certificate'), InputError);

  const peer = { subject: { CN: 'kvm1', O: 'kvm-crm', OU: 'agent' }, subjectaltname: 'DNS:kvm1, DNS:kvm1.lan, IP Address:10.0.0.21' } as unknown as tls.PeerCertificate;
  assert.equal(peerCertificateRole(peer), 'agent');
  assert.deepEqual(peerCertificateNames(peer), ['kvm1', 'kvm1.lan', '10.0.0.21']);
});

test('CRL: round trip, signature check, serial normalisation', () => {
  const ca = createCertificateAuthority();
  const now = new Date('2026-01-02T03:04:05Z');
  const crl = createCrl(
    ca,
    [
      { serial: '00AB:CD', revokedAt: now, reason: 'keyCompromise' },
      { serial: 'ff01', revokedAt: now },
    ],
    { crlNumber: 7, validityDays: 10, now },
  );
  assert.match(crl, /^-----BEGIN X509 CRL-----\n/);
  const parsed = parseCrl(crl);
  assert.equal(parsed.crlNumber, 7);
  assert.equal(parsed.thisUpdate.toISOString(), now.toISOString());
  assert.equal(parsed.nextUpdate?.toISOString(), new Date(now.getTime() + 10 * 86400_000).toISOString());
  assert.deepEqual(parsed.revoked.map((r) => [r.serial, r.reason]), [['abcd', 'keyCompromise'], ['ff01', 'unspecified']]);
  assert.match(parsed.issuer, /CN=kvm-crm CA/);
  assertCrlSignedBy(crl, ca.certPem);
  assert.throws(() => assertCrlSignedBy(crl, createCertificateAuthority().certPem), /not signed by our CA/);
  // one flipped bit in the signed part
  const der = Buffer.from(crl.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[40] = der[40]! ^ 0x01;
  const tampered = `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
  assert.throws(() => assertCrlSignedBy(tampered, ca.certPem), InputError);
  assert.equal(parseCrl(createCrl(ca, [], { crlNumber: 1 })).revoked.length, 0);
  assert.throws(() => createCrl(ca, [], { crlNumber: -1 }), InputError);
  assert.throws(() => createCrl({ certPem: ca.certPem, keyPem: createCertificateAuthority().keyPem }, [], { crlNumber: 1 }), /does not match/);
  assert.throws(() => parseCrl('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), InputError);
  assert.equal(normaliseSerial('00:0A:bC'), 'abc');
  assert.equal(normaliseSerial('0000'), '0');
  assert.throws(() => normaliseSerial('xyz'), InputError);
});

test('CRL in the secure context: OpenSSL refuses a revoked client certificate (server side) and a revoked server certificate (client side)', async (t) => {
  const ca = createCertificateAuthority();
  const server = issueCertificate(ca, { commonName: 'localhost', role: 'agent', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server+client' });
  const good = issueCertificate(ca, { commonName: 'good', role: 'manager', usage: 'client' });
  const bad = issueCertificate(ca, { commonName: 'bad', role: 'manager', usage: 'client' });
  const crl = createCrl(ca, [{ serial: serialOf(bad.certPem), revokedAt: new Date(), reason: 'keyCompromise' }], { crlNumber: 1 });
  const port = await echoServer(t, { cert: server.certPem, key: server.keyPem, ca: ca.certPem, crl });

  const ok = JSON.parse((await get(port, { ca: ca.certPem, cert: good.certPem, key: good.keyPem, crl })).body!);
  assert.deepEqual(ok, { authorized: true, error: null, serial: serialOf(good.certPem) });
  const revoked = JSON.parse((await get(port, { ca: ca.certPem, cert: bad.certPem, key: bad.keyPem })).body!);
  assert.equal(revoked.authorized, false);
  assert.equal(revoked.error, 'CERT_REVOKED');

  const revokingServer = createCrl(ca, [{ serial: serialOf(server.certPem), revokedAt: new Date() }], { crlNumber: 2 });
  assert.equal((await get(port, { ca: ca.certPem, cert: good.certPem, key: good.keyPem, crl: revokingServer })).error, 'CERT_REVOKED');
});

test('writeFileAtomic / writePemPair: whole files, keys 0600 even over an existing 0644 file, no temporary files left', (t) => {
  const dir = tempDir(t, 'kvmcrm-atomic-');
  const ca = createCertificateAuthority();
  writeFileSync(path.join(dir, 'x.key'), 'old', { mode: 0o644 });
  const pair = issueCertificate(ca, { commonName: 'x', role: 'admin', usage: 'client' });
  const { certFile, keyFile } = writePemPair(dir, 'x', pair);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(certFile).mode & 0o777, 0o644);
  assert.equal(readFileSync(keyFile, 'utf8'), pair.keyPem);
  assert.equal(readFileSync(certFile, 'utf8'), pair.certPem);
  const before = statSync(keyFile).ino;
  const second = issueCertificate(ca, { commonName: 'x', role: 'admin', usage: 'client' });
  writePemPair(dir, 'x', second);
  assert.notEqual(statSync(keyFile).ino, before, 'replaced by rename, not rewritten in place');
  assert.equal(readFileSync(keyFile, 'utf8'), second.keyPem);
  assert.deepEqual(readdirSync(dir).sort(), ['x.crt', 'x.key']);
  mkdirSync(path.join(dir, 'adir'));
  assert.throws(() => writeFileAtomic(path.join(dir, 'adir'), 'x', 0o600), /EISDIR|ENOTEMPTY|EEXIST/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'the temporary file is removed on failure');
  assert.throws(() => writePemPair(dir, '../evil', pair), InputError);
});

test('CertificateStore: init, issue with roles, list, revoke by name or serial, rotate, adopt; keys 0600, CRL follows', (t) => {
  const dir = tempDir(t, 'kvmcrm-store-');
  const store = new CertificateStore(path.join(dir, 'certs'));
  assert.throws(() => store.issue('m', { role: 'manager' }), NotFoundError);
  assert.deepEqual(store.initCa(), { created: true });
  assert.deepEqual(store.initCa(), { created: false }, 'the CA is kept');
  assert.equal(parseCrl(readFileSync(store.crlFile, 'utf8')).revoked.length, 0);
  assert.equal(statSync(store.caKeyFile).mode & 0o777, 0o600);

  const manager = store.issue('manager', { role: 'manager', commonName: 'vtam.example', dnsNames: ['vtam.example'], ipAddresses: ['10.0.0.1'] });
  const agent = store.issue('agent-kvm1', { role: 'agent', commonName: 'kvm1', ipAddresses: ['10.0.0.21'] });
  assert.equal(manager.usage, 'server+client');
  assert.deepEqual([agent.role, agent.commonName, agent.dnsNames, agent.ipAddresses], ['agent', 'kvm1', ['kvm1'], ['10.0.0.21']]);
  assert.equal(describeCertificate(readFileSync(path.join(store.dir, 'agent-kvm1.crt'), 'utf8')).serial, agent.serial);
  assert.equal(statSync(path.join(store.dir, 'agent-kvm1.key')).mode & 0o777, 0o600);
  assert.equal(store.issue('admin-alice', { role: 'admin' }).usage, 'client');
  assert.throws(() => store.issue('agent-kvm1', { role: 'agent' }), ConflictError);
  assert.throws(() => store.issue('ca', { role: 'agent' }), InputError);
  assert.deepEqual(store.list().map((c) => c.name), ['manager', 'agent-kvm1', 'admin-alice']);

  const revoked = store.revoke('agent-kvm1', 'keyCompromise');
  assert.equal(revoked.revoked?.reason, 'keyCompromise');
  const crl1 = parseCrl(readFileSync(store.crlFile, 'utf8'));
  assert.deepEqual(crl1.revoked.map((r) => r.serial), [agent.serial]);
  assert.throws(() => store.revoke(agent.serial.toUpperCase()), ConflictError);
  assert.throws(() => store.revoke('no-such-cert'), NotFoundError);
  assert.throws(() => store.revoke('manager', 'bogus' as never), InputError);
  const byUpperSerial = store.revoke(`00${store.list().find((c) => c.name === 'admin-alice')!.serial.toUpperCase()}`);
  assert.equal(byUpperSerial.name, 'admin-alice');
  const crl2 = parseCrl(readFileSync(store.crlFile, 'utf8'));
  assert.equal(crl2.revoked.length, 2);
  assert.ok(crl2.crlNumber! > crl1.crlNumber!, 'CRL numbers increase');
  assertCrlSignedBy(readFileSync(store.crlFile, 'utf8'), readFileSync(store.caFile, 'utf8'));

  const { previous, current } = store.rotate('manager');
  assert.equal(previous.serial, manager.serial);
  assert.notEqual(current.serial, manager.serial);
  assert.deepEqual([current.role, current.commonName, current.dnsNames, current.ipAddresses], ['manager', 'vtam.example', ['vtam.example'], ['10.0.0.1']]);
  assert.equal(describeCertificate(readFileSync(path.join(store.dir, 'manager.crt'), 'utf8')).serial, current.serial);
  assert.equal(parseCrl(readFileSync(store.crlFile, 'utf8')).revoked.length, 2, 'the old certificate stays valid');
  assert.deepEqual(store.list({ all: true }).filter((c) => c.name === 'manager').map((c) => c.current), [false, true]);
  const again = store.rotate('manager', { revokeOld: true });
  assert.deepEqual(parseCrl(readFileSync(store.crlFile, 'utf8')).revoked.map((r) => [r.serial, r.reason]).at(-1), [again.previous.serial, 'superseded']);
  assert.throws(() => store.rotate('nope'), NotFoundError);

  // a certificate written by hand into the folder (before the index existed) is adopted, then revocable by name
  const ca: PemPair = store.readCa();
  writePemPair(store.dir, 'legacy-made', issueCertificate(ca, { commonName: 'old', usage: 'server' }));
  writePemPair(store.dir, 'foreign', issueCertificate(createCertificateAuthority(), { commonName: 'foreign', usage: 'server' }));
  const adopted = store.list().find((c) => c.name === 'legacy-made');
  assert.ok(adopted && adopted.usage === 'server' && adopted.role === undefined);
  assert.equal(store.list().find((c) => c.name === 'foreign'), undefined, 'certificates of another CA are not adopted');
  assert.equal(store.revoke('legacy-made').name, 'legacy-made');
  assert.equal(store.refreshCrl(30).revoked, 4);
  assert.ok(parseCrl(readFileSync(store.crlFile, 'utf8')).nextUpdate!.getTime() < Date.now() + 31 * 86400_000);
  assert.deepEqual(readdirSync(store.dir).filter((f) => f.endsWith('.tmp')), []);
});

test('readTlsMaterial refuses inconsistent files with a message naming them', (t) => {
  const dir = tempDir(t, 'kvmcrm-material-');
  const store = new CertificateStore(dir);
  store.initCa();
  store.issue('a', { role: 'agent' });
  store.issue('b', { role: 'agent' });
  const files = { caFile: store.caFile, certFile: path.join(dir, 'a.crt'), keyFile: path.join(dir, 'a.key'), crlFile: store.crlFile };
  assert.equal(readTlsMaterial(files).certificate.role, 'agent');
  assert.throws(() => readTlsMaterial({ ...files, keyFile: path.join(dir, 'b.key') }), /a\.crt and key .*b\.key/);
  assert.throws(() => readTlsMaterial({ ...files, keyFile: path.join(dir, 'missing.key') }), /cannot read: ENOENT/);
  const other = new CertificateStore(path.join(dir, 'other'));
  other.initCa();
  assert.throws(() => readTlsMaterial({ ...files, caFile: other.caFile, crlFile: undefined }), /not signed by a CA of/);
  assert.throws(() => readTlsMaterial({ ...files, crlFile: other.crlFile }), /CRL file .*not signed by our CA/);
  const expired = path.join(dir, 'expired.pem');
  writeFileSync(expired, createCrl(store.readCa(), [], { crlNumber: 99, validityDays: 1, now: new Date(Date.now() - 2 * 86400_000) }));
  assert.throws(() => readTlsMaterial({ ...files, crlFile: expired }), /expired .*vtctl certs crl/);
  assert.equal(tlsOptionsSchema.parse({ caFile: 'a', certFile: 'b', keyFile: 'c' }).reloadIntervalSeconds, 5);
});

test('ReloadableTls: rotation under a running server: a request in flight completes on the old certificate, new connections get the new one; revocations reach isRevoked and the clients', async (t) => {
  const dir = tempDir(t, 'kvmcrm-reload-');
  const store = new CertificateStore(dir);
  store.initCa();
  const first = store.issue('server', { role: 'agent', commonName: 'localhost', ipAddresses: ['127.0.0.1'] });
  const client = store.issue('client', { role: 'manager' });
  const files = { caFile: store.caFile, certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key'), crlFile: store.crlFile, reloadIntervalSeconds: 0.1 };
  const material = ReloadableTls.load(files, logger);
  t.after(() => material.close());
  const clientFiles = { ...files, certFile: path.join(dir, 'client.crt'), keyFile: path.join(dir, 'client.key') };
  const clientMaterial = ReloadableTls.load(clientFiles, logger);
  t.after(() => clientMaterial.close());

  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const server = https.createServer({ ...material.serverTls(), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const s = req.socket as tls.TLSSocket;
    if (req.url === '/slow') {
      void held.then(() => res.end(`slow done by ${normaliseSerial((s.getCertificate() as tls.PeerCertificate).serialNumber)}`));
      return;
    }
    res.end(JSON.stringify({ revoked: material.isRevoked(s.getPeerCertificate().serialNumber ?? '0'), authorized: s.authorized, error: s.authorizationError ?? null }));
  });
  material.attach(server);
  material.watch();
  clientMaterial.watch();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<Duplex>();
  server.on('connection', (socket) => sockets.add(socket));
  t.after(async () => {
    release(); // also when an assertion failed before
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as AddressInfo).port;

  const peerSerial = () =>
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(store.caFile, 'utf8') }, () => {
        resolve(normaliseSerial(s.getPeerCertificate().serialNumber));
        s.end();
      });
      s.on('error', reject);
    });
  assert.equal(await peerSerial(), first.serial);

  // a request in flight on a connection made with the first certificate
  let slowSocketSerial = '';
  const slow = new Promise<string>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/slow', agent: false, ca: readFileSync(store.caFile, 'utf8') }, (res) => {
      slowSocketSerial = normaliseSerial((res.socket as tls.TLSSocket).getPeerCertificate().serialNumber);
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
  await new Promise((r) => setTimeout(r, 100));

  const reloaded = once(material, 'reload');
  const rotated = store.rotate('server');
  const [snapshot] = (await reloaded) as [{ generation: number; certificate: { serial: string } }];
  assert.equal(snapshot.certificate.serial, rotated.current.serial);
  assert.equal(material.current.generation, 2);
  assert.equal(await peerSerial(), rotated.current.serial, 'a new connection presents the new certificate');
  release();
  assert.equal(await slow, `slow done by ${first.serial}`, 'the request in flight completed on its connection');
  assert.equal(slowSocketSerial, first.serial);

  // the live client TLS object follows the client's own rotation
  const live = clientMaterial.clientTls();
  const certBefore = live.cert;
  const contextBefore = live.secureContext;
  assert.ok(contextBefore, 'a secure context of the material in force');
  assert.equal(live.secureContext, contextBefore, 'built once per generation, not per read');
  const clientReloaded = once(clientMaterial, 'reload');
  const rotatedClient = store.rotate('client');
  await clientReloaded;
  assert.notEqual(live.cert, certBefore);
  assert.equal(describeCertificate(live.cert!).serial, rotatedClient.current.serial);
  assert.notEqual(live.secureContext, contextBefore, 'a reload brings a new secure context');
  assert.equal(live.secureContext, live.secureContext);

  // revoking the new client certificate: the CRL reload reaches the server's secure context and isRevoked
  const both = Promise.all([once(material, 'reload'), once(clientMaterial, 'reload')]);
  store.revoke('client', 'keyCompromise');
  await both;
  assert.ok(material.isRevoked(rotatedClient.current.serial.toUpperCase()));
  const answer = JSON.parse((await get(port, { ca: live.ca, cert: live.cert, key: live.key })).body!);
  assert.deepEqual(answer, { revoked: true, authorized: false, error: 'CERT_REVOKED' });
  // the secure context of the new generation presents the same (now revoked) certificate
  const viaContext = JSON.parse((await get(port, { secureContext: live.secureContext } as https.RequestOptions)).body!);
  assert.deepEqual(viaContext, answer);

  // a broken file is refused: the material in force stays
  const failed = once(material, 'reloadFailed');
  writeFileSync(files.certFile, 'garbage');
  await failed;
  assert.equal(material.current.certificate.serial, rotated.current.serial);
  assert.equal(await peerSerial(), rotated.current.serial);
  assert.ok(existsSync(files.keyFile));
});

test('ReloadableTls reloads on SIGHUP (file polling aside) and stops listening for it when closed', async (t) => {
  const dir = tempDir(t, 'kvmcrm-sighup-');
  const store = new CertificateStore(dir);
  store.initCa();
  store.issue('d', { role: 'manager' });
  const files = { caFile: store.caFile, certFile: path.join(dir, 'd.crt'), keyFile: path.join(dir, 'd.key'), crlFile: store.crlFile, reloadIntervalSeconds: 3600 };
  const material = ReloadableTls.load(files, logger);
  t.after(() => material.close());
  const before = process.listenerCount('SIGHUP');
  material.watch();
  material.watch();
  assert.equal(process.listenerCount('SIGHUP'), before + 1, 'one listener, however often watch() is called');
  const rotated = store.rotate('d');
  await new Promise((r) => setTimeout(r, 200));
  assert.notEqual(material.current.certificate.serial, rotated.current.serial, 'the hour-long poll has not seen it yet');
  const reloaded = once(material, 'reload');
  const keepAlive = setTimeout(() => undefined, 10_000); // signal handles do not keep the event loop alive
  process.kill(process.pid, 'SIGHUP');
  await reloaded;
  clearTimeout(keepAlive);
  assert.equal(material.current.certificate.serial, rotated.current.serial);
  assert.equal(material.reload('again'), false, 'nothing changed since');
  material.close();
  assert.equal(process.listenerCount('SIGHUP'), before);
});
