/**
 * Pre-serialised methodResponses (xmlrpc/pre-serialised.ts, decision 031): the bytes equal the xmlrpc package's
 * serialisation of `[hash, text]`, and the handler streams a large one over HTTPS intact, with the same
 * Content-Type as a normal answer and a Content-Length; our client decodes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import express from 'express';
import { createCertificateAuthority, issueCertificate } from '../../dist/tls/certificate-authority.js';
import { createLogger } from '../../dist/logger.js';
import { createXmlRpcHandler, serialiseMethodResponse } from '../../dist/xmlrpc/server.js';
import { escapeXmlRpcBytes, escapeXmlRpcText, stringPairResponse } from '../../dist/xmlrpc/pre-serialised.js';
import { XmlRpcClient } from '../../dist/xmlrpc/client.js';
import { createHttpsServer, listen, closeServer } from '../../dist/xmlrpc/https-server.js';

const logger = createLogger({ component: 'test', silent: true });

/** The text in chunks as a builder makes them: each piece escaped on its own. */
function escapedChunks(pieces: string[]): Buffer[] {
  return pieces.map((p) => Buffer.from(escapeXmlRpcText(p)));
}

test('stringPairResponse equals serialiseMethodResponse([first, second]) for escaping, CR, quotes and empty strings', () => {
  const cases: Array<[string, string[]]> = [
    ['abc', ['<?xml version="1.0"?>\n<rspec>\n', '    <a>x &amp; y &lt; "z" \'w\'</a>\r\n', '</rspec>\n']],
    ['h&<>', ['plain']],
    ['h', []],
    ['h', ['', '']],
    ['', ['x']],
  ];
  for (const [first, pieces] of cases) {
    const got = Buffer.concat(stringPairResponse(first, escapedChunks(pieces)).chunks).toString('utf8');
    assert.equal(got, serialiseMethodResponse([first, pieces.join('')]), JSON.stringify([first, pieces]));
  }
});

test('escapeXmlRpcBytes escapes bytes as escapeXmlRpcText escapes the text, into a Buffer of exactly that size', () => {
  const texts = ['', 'plain', '<a>&amp;</a>\r\n', '&&<<>>\r\r', `${'<x>'.repeat(100_000)}&`, Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('')];
  for (const text of texts) {
    const out = escapeXmlRpcBytes(Buffer.from(text, 'latin1'));
    assert.equal(out.toString('latin1'), escapeXmlRpcText(text), JSON.stringify(text.slice(0, 20)));
    assert.equal(out.byteLength, out.buffer.byteLength, 'its own memory, not a slice of a larger one');
  }
});

test('the handler streams a pre-serialised answer of several MiB intact, text/xml; charset=utf-8 with Content-Length', async (t) => {
  const ca = createCertificateAuthority();
  const cert = issueCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
  const line = '    <server><name>a&b</name><id>1</id></server>\n';
  // ~3 MiB raw in small pieces (written corked in groups of ≤ 256 KiB) around one of 2.5 MiB (cut into views)
  const pieces = Array.from({ length: 60_000 }, () => line);
  pieces.splice(30_000, 0, 'x'.repeat(2.5 * 1024 * 1024));
  const app = express();
  app.post('/rpc', createXmlRpcHandler({ logger, methods: { big: () => stringPairResponse('hash', escapedChunks(pieces)), small: () => 'ok' } }));
  const server = createHttpsServer(app, { cert: cert.certPem, key: cert.keyPem, ca: ca.certPem });
  const port = await listen(server, 0, '127.0.0.1');
  t.after(() => closeServer(server));
  const client = new XmlRpcClient({ url: `https://127.0.0.1:${port}/rpc`, tls: { ca: ca.certPem }, maxResponseBytes: 64 * 1024 * 1024 });
  const value = await client.call<[string, string]>('big', []);
  assert.equal(value[0], 'hash');
  assert.equal(value[1], pieces.join(''));

  const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const body = '<?xml version="1.0"?><methodCall><methodName>big</methodName><params/></methodCall>';
    const req = https.request({ host: '127.0.0.1', port, path: '/rpc', method: 'POST', ca: ca.certPem, headers: { 'Content-Type': 'text/xml', 'Content-Length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(raw.headers['content-type'], 'text/xml; charset=utf-8');
  assert.equal(Number(raw.headers['content-length']), raw.body.length);
  assert.ok(raw.body.length > 5 * 1024 * 1024);
  assert.equal(raw.body.toString('utf8'), serialiseMethodResponse(['hash', pieces.join('')]));
});
