import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { TLSSocket } from 'node:tls';
import { createCertificateAuthority, issueCertificate } from '../../dist/tls/certificate-authority.js';
import { isPeerRefusal, verifiedClientCertificate, type ExpectedPeer } from '../../dist/tls/peer-identity.js';
import { createLogger } from '../../dist/logger.js';
import { AuthenticationError, InputError, NotAllowedError, UpstreamError } from '../../dist/errors.js';
import { createXmlRpcHandler, parseMethodCall, readBasicCredentials, serialiseMethodCall, serialiseMethodResponse } from '../../dist/xmlrpc/server.js';
import { XmlRpcClient, XmlRpcFaultError } from '../../dist/xmlrpc/client.js';
import { createHttpsServer, listen, closeServer } from '../../dist/xmlrpc/https-server.js';
import { stringParam } from '../../dist/xmlrpc/params.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = process.env.OCF_FIXTURES_DIR ?? path.resolve(here, '../../../../../shared/ocf-fixtures');
const logger = createLogger({ component: 'test', silent: true });

test('XML-RPC over HTTPS: Basic auth, results, faults, 401, untyped strings, DTD rejection', async (t) => {
  const ca = createCertificateAuthority();
  const server = issueCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
  const app = express();
  app.post(
    '/rpc',
    createXmlRpcHandler({
      logger,
      authenticate: async (req) => {
        const c = readBasicCredentials(req);
        return c?.user === 'alice' && c.pass === 'p@ss:w0rd' ? { name: 'alice', roles: ['x'] } : undefined;
      },
      methods: {
        echo: (p) => p[0],
        whoami: (_p, ctx) => ctx.principal?.name,
        nothing: () => undefined,
        upper: (p) => stringParam(p, 0, 'text').toUpperCase(),
        slow: () => new Promise((r) => setTimeout(() => r('late'), 3000)),
      },
    }),
  );
  const https = createHttpsServer(app, { cert: server.certPem, key: server.keyPem, ca: ca.certPem });
  const port = await listen(https, 0, '127.0.0.1');
  t.after(() => closeServer(https));
  const base = `https://alice:${encodeURIComponent('p@ss:w0rd')}@127.0.0.1:${port}/rpc`;
  const client = new XmlRpcClient({ url: base, tls: { ca: ca.certPem } });

  const xml = '<?xml version="1.0"?>\n<rspec>\n    <a>&amp;</a>\n</rspec>\n';
  assert.equal(await client.call('echo', [xml]), xml);
  assert.deepEqual(await client.call('echo', [{ a: [1, 'b', true] }]), { a: [1, 'b', true] });
  assert.equal(await client.call('whoami', []), 'alice');
  assert.equal(await client.call('nothing', []), null);

  await assert.rejects(client.call('nope', []), (e: unknown) => e instanceof XmlRpcFaultError && /not supported/.test(e.faultString));
  await assert.rejects(client.call('upper', [42]), (e: unknown) => e instanceof XmlRpcFaultError && /must be a string/.test(e.faultString));
  const bad = new XmlRpcClient({ url: base.replace('alice', 'mallory'), tls: { ca: ca.certPem } });
  await assert.rejects(bad.call('echo', ['x']), AuthenticationError);
  const untrusting = new XmlRpcClient({ url: base, tls: { ca: createCertificateAuthority().certPem } });
  await assert.rejects(untrusting.call('echo', ['x']), UpstreamError);
  const impatient = new XmlRpcClient({ url: base, tls: { ca: ca.certPem }, timeoutSeconds: 0.5 });
  await assert.rejects(impatient.call('slow', []), /no answer within 0.5 s/);

});

test('parseMethodCall reads the original Python bodies (generated fixtures)', async () => {
  const ping = await parseMethodCall(readFileSync(path.join(fixtures, 'generated/19-ping.methodCall.xml'), 'utf8'));
  assert.equal(ping.methodName, 'ping');
  assert.deepEqual(ping.params, ['hola']);
  const send = await parseMethodCall(readFileSync(path.join(fixtures, 'generated/01-plugin-to-manager.send.create.methodCall.xml'), 'utf8'));
  assert.equal(send.methodName, 'send');
  assert.equal(send.params[0], 'https://expedient:s3cret@10.0.0.5/vt_plugin/xmlrpc/vt_am/');
  assert.equal(send.params[1], readFileSync(path.join(fixtures, 'generated/01-plugin-to-manager.send.create.rspec.xml'), 'utf8'));
  const untyped = await parseMethodCall('<?xml version="1.0"?><methodCall><methodName>ping</methodName><params><param><value>hi</value></param></params></methodCall>');
  assert.deepEqual(untyped.params, ['hi']);
  await assert.rejects(
    parseMethodCall('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><methodCall><methodName>&e;</methodName></methodCall>'),
    InputError,
  );
  await assert.rejects(parseMethodCall('<methodCall><methodName>x'), InputError);
});

test('serialiseMethodResponse writes strings as escaped <string> and None as <nil/> (18-methodResponse fixtures)', () => {
  assert.match(serialiseMethodResponse('a<b&c'), /<value><string>a&lt;b&amp;c<\/string><\/value>/);
  assert.match(serialiseMethodResponse(undefined), /<value><nil\/><\/value>/);
  assert.match(serialiseMethodResponse(''), /<value><string\/><\/value>|<value><string><\/string><\/value>/);
});

test('mutual TLS over XML-RPC: a refusal from authenticate reaches the caller as NotAllowedError with its reason; expectPeer checks the server certificate\'s name and role', async (t) => {
  const ca = createCertificateAuthority();
  const agentCert = issueCertificate(ca, { commonName: 'kvm1', role: 'agent', dnsNames: ['kvm1'], ipAddresses: ['127.0.0.1'], usage: 'server+client' });
  const manager = issueCertificate(ca, { commonName: 'vtam', role: 'manager', usage: 'client' });
  const app = express();
  app.post(
    '/',
    createXmlRpcHandler({
      logger,
      authenticate: async (req) => {
        const peer = verifiedClientCertificate(req.socket as TLSSocket, { role: 'manager' });
        if (isPeerRefusal(peer)) throw new NotAllowedError(`only the manager: ${peer.refusal}`);
        return { name: peer.commonName, roles: ['manager'] };
      },
      methods: { whoami: (_p, ctx) => `${ctx.principal?.name} ${ctx.peerCertificate?.subject.OU}` },
    }),
  );
  const server = createHttpsServer(app, { cert: agentCert.certPem, key: agentCert.keyPem, ca: ca.certPem });
  const port = await listen(server, 0, '127.0.0.1');
  t.after(() => closeServer(server));
  const url = `https://127.0.0.1:${port}/`;
  const as = (pair: { certPem: string; keyPem: string } | undefined, expectPeer?: ExpectedPeer) =>
    new XmlRpcClient({ url, keepAlive: false, tls: { ca: ca.certPem, ...(pair ? { cert: pair.certPem, key: pair.keyPem } : {}), ...(expectPeer ? { expectPeer } : {}) } });

  assert.equal(await as(manager, { name: 'kvm1', role: 'agent' }).call('whoami', []), 'vtam manager');
  await assert.rejects(as(undefined).call('whoami', []), (e: unknown) => e instanceof NotAllowedError && /HTTP 403\): only the manager: no client certificate presented/.test(e.message));
  const agentAsClient = issueCertificate(ca, { commonName: 'kvm2', role: 'agent', usage: 'client' });
  await assert.rejects(as(agentAsClient).call('whoami', []), /role agent; role manager is required/);
  const foreign = issueCertificate(createCertificateAuthority(), { commonName: 'vtam', role: 'manager', usage: 'client' });
  await assert.rejects(as(foreign).call('whoami', []), (e: unknown) => e instanceof NotAllowedError && /not accepted: /.test(e.message));
  // the client side: our expectations of the server certificate
  await assert.rejects(as(manager, { name: 'kvm2' }).call('whoami', []), (e: unknown) => e instanceof UpstreamError && /not the registered name "kvm2"/.test(e.message));
  await assert.rejects(as(manager, { name: 'kvm1', role: 'manager' }).call('whoami', []), /role agent, not manager/);
  assert.equal(await as(manager, { name: '127.0.0.1' }).call('whoami', []), 'vtam manager', 'an IP SAN is a name too');
  // pooled clients: a socket verified for kvm1 is not reused for an expectation it would fail
  const pooled = (name: string) => new XmlRpcClient({ url, tls: { ca: ca.certPem, cert: manager.certPem, key: manager.keyPem, expectPeer: { name } } });
  assert.equal(await pooled('kvm1').call('whoami', []), 'vtam manager');
  await assert.rejects(pooled('kvm9').call('whoami', []), /not the registered name "kvm9"/);
});

test('values nested deeper than MAX_WIRE_DEPTH are refused with an InputError, not a stack overflow', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.throws(() => serialiseMethodResponse(deep), (e: unknown) => e instanceof InputError && /nested deeper than 64 levels/.test(e.message));
  let ok: unknown = 'x';
  for (let i = 0; i < 63; i++) ok = i % 2 ? [ok] : { k: ok };
  assert.match(serialiseMethodResponse(ok), /<string>x<\/string>/);
  assert.match(serialiseMethodCall('m', ['a', 'b', 'c']), /<string>c<\/string>/, 'a parameter\'s position is not its depth');
});
