/**
 * The console's WebSocket plumbing on our HTTPS listener (decision record 027): an upgraded console connection
 * outlives the listener's request, head and keep-alive timeouts (an idle console must not be cut by the HTTP
 * limits), bytes and the close code/reason cross a real wss connection, and a refused upgrade reaches the client
 * as the HTTP status with the reason as text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { WebSocket, WebSocketServer } from 'ws';
import { createCertificateAuthority, issueCertificate } from '../../dist/tls/certificate-authority.js';
import { closeServer, createHttpsServer, listen } from '../../dist/xmlrpc/https-server.js';
import { ConflictError } from '../../dist/errors.js';
import { readRefusal, refuseUpgrade, upgradeStatusOf, wsConsoleEndpoint } from '../../dist/console/ws-console-endpoint.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an upgraded console outlives the HTTP timeouts; bytes and the close reason cross; refusals carry status and reason', { timeout: 30_000 }, async () => {
  const ca = createCertificateAuthority();
  const cert = issueCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
  // Timeouts far below the idle time of the test.
  const server = createHttpsServer(express(), { cert: cert.certPem, key: cert.keyPem, ca: ca.certPem }, { requestTimeoutSeconds: 1, headersTimeoutSeconds: 1, keepAliveTimeoutSeconds: 1 });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/busy') return refuseUpgrade(socket, upgradeStatusOf(new ConflictError('in use by another session')).status, 'in use by another session');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const e = wsConsoleEndpoint(ws);
      e.onData((b) => {
        if (b.toString() === 'bye') e.close(4003, 'the serial console closed: the VM stopped');
        else e.send(Buffer.concat([Buffer.from('echo:'), b]));
      });
      e.onClose(() => undefined);
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  try {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/console`, { ca: ca.certPem });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const got: string[] = [];
    ws.on('message', (d) => got.push((d as Buffer).toString()));
    const closed = new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
    await sleep(3500); // idle for more than every HTTP timeout of the listener
    assert.equal(ws.readyState, ws.OPEN, 'still open after 3.5 s idle');
    ws.send(Buffer.from('hi'), { binary: true });
    ws.send('text frames are ignored');
    for (let i = 0; i < 50 && got.length === 0; i++) await sleep(20);
    assert.deepEqual(got, ['echo:hi']);
    ws.send(Buffer.from('bye'), { binary: true });
    assert.deepEqual(await closed, [4003, 'the serial console closed: the VM stopped']);

    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const w = new WebSocket(`wss://127.0.0.1:${port}/busy`, { ca: ca.certPem });
      w.once('unexpected-response', (_q, res) => void readRefusal(res).then((body) => resolve({ status: res.statusCode ?? 0, body })));
      w.once('error', reject);
    });
    assert.deepEqual(refused, { status: 409, body: 'in use by another session' });
  } finally {
    wss.close();
    await closeServer(server);
  }
});
