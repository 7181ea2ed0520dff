/**
 * Pre-serialised methodResponses (xmlrpc/pre-serialised.ts, decision 031): the bytes equal the xmlrpc package's
 * serialisation of `[hash, text]`, and the handler streams a large one over HTTPS intact, with the same
 * Content-Type as a normal answer and a Content-Length; our client decodes it; to a reader that stops reading, the
 * sender hands the socket at most about one group (256 KiB) more, not the whole body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import express, { type Response } from 'express';
import { createCertificateAuthority, issueCertificate } from '../../dist/tls/certificate-authority.js';
import { createLogger } from '../../dist/logger.js';
import { createXmlRpcHandler, serialiseMethodResponse } from '../../dist/xmlrpc/server.js';
import { escapeXmlRpcBytes, escapeXmlRpcText, PreSerialisedResponse, sendPreSerialised, stringPairResponse } from '../../dist/xmlrpc/pre-serialised.js';
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

test('to a client that stops reading, at most about one 256 KiB group waits in the socket, not the whole body', async (t) => {
  const ca = createCertificateAuthority();
  const cert = issueCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
  // 16 MiB in pieces of 20 KiB (as the information document's per-server pieces) and one of 3 MiB
  const pieces = Array.from({ length: 800 }, (_, i) => Buffer.alloc(20 * 1024, 97 + (i % 26)));
  pieces.splice(400, 0, Buffer.alloc(3 * 1024 * 1024, 65));
  const body = new PreSerialisedResponse(pieces);
  let response: Response | undefined;
  let sent: Promise<void> | undefined;
  const app = express();
  app.get('/big', (_req, res) => {
    response = res;
    sent = sendPreSerialised(res, body);
  });
  const server = createHttpsServer(app, { cert: cert.certPem, key: cert.keyPem, ca: ca.certPem });
  const port = await listen(server, 0, '127.0.0.1');
  t.after(() => closeServer(server));
  const received = await new Promise<Buffer>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/big', ca: ca.certPem }, (res) => {
      res.pause();
      setTimeout(() => {
        // the kernel's socket buffers hold a few MiB at most; what the sender queued in Node on top is bounded
        const queued = response!.socket!.writableLength;
        try {
          assert.ok(queued <= 512 * 1024, `queued in the socket while the client does not read: ${queued} bytes`);
        } catch (err) {
          req.destroy();
          reject(err);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.resume();
      }, 500);
    });
    req.on('error', reject);
    req.end();
  });
  await sent;
  assert.equal(received.length, body.byteLength);
  assert.ok(received.equals(Buffer.concat(pieces)), 'the body intact, in order');
});
