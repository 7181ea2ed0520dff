/**
 * A `ping` client in a worker thread of its own (bench/src/listing.ts): it calls the manager's plugin `ping` one
 * call after another over its own kept-alive HTTPS connection until told to stop, and reports the longest wait (ms,
 * request sent to last byte). Its event loop is not the one that receives the listings' 5 × 29 MiB answers, so what it
 * sees is the manager's stall, not the benchmark process's own (TLS decryption and copying of those answers).
 *
 * workerData: `{ port, ca, authorization }` (`authorization`: the `Authorization` header value). Messages in:
 * `'stop'`. Messages out: `{ worst: number, calls: number }` once stopped.
 */
import https from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';
import { serialiseMethodCall } from '@kvm-crm/shared/xmlrpc';

const { port, ca, authorization } = workerData as { port: number; ca: string; authorization: string };
const agent = new https.Agent({ keepAlive: true, ca, maxSockets: 1 });
const body = Buffer.from(serialiseMethodCall('ping', ['x']));

const ping = () =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now();
    const req = https.request({
      host: '127.0.0.1', port, path: '/xmlrpc/plugin', method: 'POST', agent,
      headers: { 'Content-Type': 'text/xml', 'Content-Length': body.length, Authorization: authorization },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`ping: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });

let stop = false;
parentPort!.on('message', (m) => { if (m === 'stop') stop = true; });
let worst = 0;
let calls = 0;
await ping(); // the connection (TLS handshake) is made before the first timed call
parentPort!.postMessage({ ready: true });
while (!stop) {
  worst = Math.max(worst, await ping());
  calls += 1;
}
agent.destroy();
parentPort!.postMessage({ worst, calls });
