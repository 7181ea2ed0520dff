import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createCertificateAuthority, issueCertificate } from '../tls/certificate-authority.js';
import { createLogger } from '../logger.js';
import { AuthenticationError, InputError, UpstreamError } from '../errors.js';
import { createXmlRpcHandler, parseMethodCall, readBasicCredentials, serialiseMethodResponse } from './server.js';
import { XmlRpcClient, XmlRpcFaultError } from './client.js';
import { createHttpsServer, listen, closeServer } from './https-server.js';
import { stringParam } from './params.js';

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
