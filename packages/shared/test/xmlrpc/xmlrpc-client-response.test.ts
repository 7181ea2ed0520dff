/**
 * Answers read by XmlRpcClient: capped in size (maxResponseBytes, default 64 KiB) and decoded by the strict
 * decoder (decision 013), as requests are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { UpstreamError } from '../../dist/errors.js';
import { DEFAULT_MAX_RESPONSE_BYTES, XmlRpcClient, XmlRpcFaultError } from '../../dist/xmlrpc/client.js';

/** A plain HTTP peer answering `body` (status 200, text/xml) to every POST; counts the bytes it sent. */
async function peer(t: { after(fn: () => unknown): void }, body: (req: http.IncomingMessage) => string | Buffer): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/xml' }).end(body(req)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/RPC2`;
}

const response = (valueXml: string) => `<?xml version="1.0"?><methodResponse><params><param><value>${valueXml}</value></param></params></methodResponse>`;

test('an answer over maxResponseBytes fails the call with an UpstreamError; a larger cap reads it', async (t) => {
  assert.equal(DEFAULT_MAX_RESPONSE_BYTES, 64 * 1024);
  const big = 'x'.repeat(200 * 1024);
  const url = await peer(t, () => response(`<string>${big}</string>`));
  await assert.rejects(new XmlRpcClient({ url }).call('status', []), (e: unknown) =>
    e instanceof UpstreamError && e.message === `${url} status: answer larger than 65536 bytes: refused`);
  await assert.rejects(new XmlRpcClient({ url, maxResponseBytes: 1000 }).call('status', []), /answer larger than 1000 bytes: refused/);
  assert.equal(await new XmlRpcClient({ url, maxResponseBytes: 1024 * 1024 }).call('status', []), big);
});

test('an endless answer is cut at the cap, not read to the end', async (t) => {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/xml' });
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const pump = () => {
      while (res.write(chunk)) if (res.destroyed) return;
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const started = Date.now();
  await assert.rejects(new XmlRpcClient({ url, timeoutSeconds: 10 }).call('status', []), /answer larger than 65536 bytes: refused/);
  assert.ok(Date.now() - started < 5000, 'refused as soon as the cap was passed');
});

test('answers are decoded strictly: loose integers and __proto__ members fail the call', async (t) => {
  const url = await peer(t, (req) => (req.url === '/RPC2' ? response('<int>12abc</int>') : ''));
  await assert.rejects(new XmlRpcClient({ url }).call('n', []), (e: unknown) =>
    e instanceof UpstreamError && !(e instanceof XmlRpcFaultError) && e.message === `${url} n failed: XML-RPC response rejected: <int> holds "12abc", not a decimal integer`);
  const proto = await peer(t, () => response('<struct><member><name>__proto__</name><value><struct><member><name>admin</name><value><boolean>1</boolean></value></member></struct></value></member></struct>'));
  await assert.rejects(new XmlRpcClient({ url: proto }).call('s', []), /struct member name "__proto__" is not allowed/);
  const fault = await peer(t, () => '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value><string>see https://u:pw@h/x</string></value></member></struct></value></fault></methodResponse>');
  await assert.rejects(new XmlRpcClient({ url: fault }).call('f', []), (e: unknown) => e instanceof XmlRpcFaultError && e.faultString === 'see https://***@h/x');
});

test('an answer quoting <!DOCTYPE inside CDATA (a fault reflecting a refused rspec) is read; a real DOCTYPE is refused', async (t) => {
  const quoted = await peer(t, () => '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value><string><![CDATA[InputError: <!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]> refused]]></string></value></member></struct></value></fault></methodResponse>');
  await assert.rejects(new XmlRpcClient({ url: quoted }).call('send', []), (e: unknown) =>
    e instanceof XmlRpcFaultError && e.faultString === 'InputError: <!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]> refused');
  const dtd = await peer(t, () => '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e "x">]><methodResponse><params><param><value><string>&e;</string></value></param></params></methodResponse>');
  await assert.rejects(new XmlRpcClient({ url: dtd }).call('send', []), /XML-RPC response rejected: DTDs and entity declarations are not allowed/);
});
