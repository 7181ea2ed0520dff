/**
 * The hostile input classes of bench/src/hostile-load.ts: each feeds the manager one kind of hostile input over
 * loopback for a bounded time and resolves when it is done. Bodies are built before the measurement starts.
 *
 * A class is plain data (a {@link HostileSpec}: its name, kind and parameters) and the manager is reached through a
 * {@link Target} (port, Basic credentials, CA PEM, ...), also plain data: both cross to the load worker
 * (bench/src/hostile-worker.ts) by `postMessage`, and the worker builds and sends the load on its own event loop.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { lifecycleQuery, methodCallXml } from '@kvm-crm/harness';

/** What the load worker needs to reach the manager: serialisable only. */
export interface Target {
  /** The manager's northbound port on 127.0.0.1. */
  port: number;
  /** The CA certificate (PEM) the manager's certificate is checked against. */
  caPem: string;
  /** Basic credentials of the clearinghouse (role clearinghouse). */
  user: string;
  pass: string;
  /** The registered host's UUID (for provisioning messages naming it). */
  serverUuid: string;
  /** The test clearinghouse's callback URL (for `send`). */
  callbackUrl: string;
}

/** One hostile input class, as data: its name (shown in the table), its kind and the kind's parameters. */
export type HostileSpec =
  | { name: string; kind: 'quiet' }
  | { name: string; kind: 'nested-arrays'; levels: number; count: number; parallel: number }
  | { name: string; kind: 'flat-array'; bytes: number; count: number; parallel: number }
  | { name: string; kind: 'big-string'; bytes: number; count: number; parallel: number }
  | { name: string; kind: 'integer-abuse'; count: number; parallel: number }
  | { name: string; kind: 'wrong-passwords'; waves: number; perWave: number; user: string }
  | { name: string; kind: 'many-actions'; actions: number; count: number; parallel: number }
  | { name: string; kind: 'connections'; count: number; holdMs: number; mode: 'dribble' | 'silent' | 'idle-after-ping' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

/** POSTs `body` to `path` as `user:pass` on a new connection; resolves with the HTTP status (0: connection error). */
export function post(t: Target, path: string, body: string, user: string, pass: string, agent: https.Agent | false = false): Promise<number> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        method: 'POST', host: '127.0.0.1', port: t.port, path, agent, ca: t.caPem, timeout: 120_000,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Sends `bodies` to /xmlrpc/plugin, `parallel` at a time, as the clearinghouse. */
function sendBodies(t: Target, bodies: string[], parallel: number): () => Promise<void> {
  return async () => {
    let next = 0;
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (next < bodies.length) await post(t, '/xmlrpc/plugin', bodies[next++]!, t.user, t.pass);
    }));
  };
}

/** TLS connections to the manager that stay open `holdMs`; `dribble`: each writes one header byte every 200 ms. */
function holdConnections(t: Target, count: number, holdMs: number, mode: 'dribble' | 'silent' | 'idle-after-ping'): () => Promise<void> {
  return async () => {
    const sockets: tls.TLSSocket[] = [];
    const agents: https.Agent[] = [];
    const opened = Array.from({ length: count }, async () => {
      if (mode === 'idle-after-ping') {
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
        agents.push(agent);
        await post(t, '/xmlrpc/plugin', methodCallXml('ping', ['idle']), t.user, t.pass, agent);
        return;
      }
      const s = tls.connect({ host: '127.0.0.1', port: t.port, ca: t.caPem });
      s.on('error', () => undefined);
      sockets.push(s);
    });
    await Promise.all(opened);
    const head = `POST /xmlrpc/plugin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n`;
    const started = Date.now();
    let i = 0;
    while (Date.now() - started < holdMs) {
      if (mode === 'dribble') for (const s of sockets) if (!s.destroyed) s.write(head[i % head.length]!);
      i++;
      await sleep(200);
    }
    for (const s of sockets) s.destroy();
    for (const a of agents) a.destroy();
  };
}

const nested = (levels: number) =>
  `<?xml version="1.0"?><methodCall><methodName>ping</methodName><params><param><value>${'<array><data><value>'.repeat(levels)}1${'</value></data></array>'.repeat(levels)}</value></param></params></methodCall>`;

const flatArray = (bytes: number) => {
  const item = '<value><i4>1</i4></value>';
  return `<?xml version="1.0"?><methodCall><methodName>ping</methodName><params><param><value><array><data>${item.repeat(Math.floor((bytes - 200) / item.length))}</data></array></value></param></params></methodCall>`;
};

/** A provisioning message with `n` start actions on VMs the manager does not know. */
function manyActions(t: Target, n: number): string {
  const blocks = Array.from({ length: n }, () => {
    const xml = lifecycleQuery('start', { serverUuid: t.serverUuid, vmUuid: randomUUID(), name: 'ghost' }).xml;
    return xml.slice(xml.indexOf('<action '), xml.indexOf('</action>') + '</action>'.length);
  });
  const rspec = `<?xml version="1.0" encoding="UTF-8"?>\n<rspec><query><provisioning>${blocks.join('')}</provisioning></query></rspec>`;
  return methodCallXml('send', [t.callbackUrl, rspec]);
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/** Builds what `spec` sends (not measured) and returns the function that feeds it to the manager. */
export function prepareLoad(spec: HostileSpec, t: Target): () => Promise<void> {
  switch (spec.kind) {
    case 'quiet':
      return async () => undefined;
    case 'nested-arrays':
      return sendBodies(t, times(spec.count, () => nested(spec.levels)), spec.parallel);
    case 'flat-array':
      return sendBodies(t, times(spec.count, () => flatArray(spec.bytes)), spec.parallel);
    case 'big-string':
      return sendBodies(t, times(spec.count, () => methodCallXml('ping', ['x'.repeat(spec.bytes - 200)])), spec.parallel);
    case 'integer-abuse':
      return sendBodies(t, times(spec.count, (i) => {
        const v = ['<int>12abc</int>', '<i4>99999999999</i4>', '<int> 0x10</int>', `<int>${'9'.repeat(MiB)}</int>`][i % 4]!;
        return `<?xml version="1.0"?><methodCall><methodName>ping</methodName><params><param><value>${v}</value></param></params></methodCall>`;
      }), spec.parallel);
    case 'wrong-passwords': {
      const body = methodCallXml('ping', ['guess']);
      return async () => {
        for (let wave = 0; wave < spec.waves; wave++) {
          await Promise.all(times(spec.perWave, (i) => post(t, '/xmlrpc/plugin', body, spec.user, `wrong-${wave}-${i}-${randomUUID()}`)));
        }
      };
    }
    case 'many-actions':
      return sendBodies(t, times(spec.count, () => manyActions(t, spec.actions)), spec.parallel);
    case 'connections':
      return holdConnections(t, spec.count, spec.holdMs, spec.mode);
  }
}

/** The quiet baseline, measured first. */
export const QUIET: HostileSpec = { name: 'quiet baseline', kind: 'quiet' };

/** Every class, in the order measured. */
export const HOSTILE_CLASSES: HostileSpec[] = [
  { name: 'nested arrays, 2,000 levels (×8)', kind: 'nested-arrays', levels: 2000, count: 8, parallel: 2 },
  { name: 'flat array, 7.5 MiB (×3)', kind: 'flat-array', bytes: 7.5 * MiB, count: 3, parallel: 1 },
  { name: '8 MiB string (×3)', kind: 'big-string', bytes: 8 * MiB, count: 3, parallel: 1 },
  { name: 'integer abuse (×40)', kind: 'integer-abuse', count: 40, parallel: 4 },
  // A name of its own: the clearinghouse's cached login would pass anyway, but a cold one must not be locked.
  { name: '48 wrong passwords, 16 at a time', kind: 'wrong-passwords', waves: 3, perWave: 16, user: 'victim-bench' },
  { name: 'send with 300 actions (×3)', kind: 'many-actions', actions: 300, count: 3, parallel: 1 },
  { name: 'slow headers, 1 byte / 200 ms ×50', kind: 'connections', count: 50, holdMs: 3000, mode: 'dribble' },
  { name: 'connection flood, 500 silent TLS connections', kind: 'connections', count: 500, holdMs: 2000, mode: 'silent' },
  { name: 'idle keep-alive connections ×200', kind: 'connections', count: 200, holdMs: 2000, mode: 'idle-after-ping' },
];
