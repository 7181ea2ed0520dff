/**
 * The hostile input classes of bench/src/hostile-load.ts: each feeds the manager one kind of hostile input over
 * loopback for a bounded time and resolves when it is done. Bodies are built before the measurement starts.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { lifecycleQuery, methodCallXml, type Cluster } from '@kvm-crm/harness';

/** One hostile input class: `prepare` builds what it sends (not measured), `run` feeds it to the manager. */
export interface HostileClass {
  name: string;
  prepare(c: Cluster): Promise<() => Promise<void>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

/** POSTs `body` to `path` as `user:pass` on a new connection; resolves with the HTTP status (0: connection error). */
export function post(c: Cluster, path: string, body: string, user: string, pass: string, agent: https.Agent | false = false): Promise<number> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        method: 'POST', host: '127.0.0.1', port: c.manager.port, path, agent, ca: c.ca.certPem, timeout: 120_000,
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

function creds(c: Cluster): { user: string; pass: string } {
  const u = new URL(c.pluginUrl);
  return { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) };
}

/** Sends `bodies` to /xmlrpc/plugin, `parallel` at a time, as the clearinghouse. */
function bodiesClass(name: string, make: (c: Cluster) => string[], parallel = 2): HostileClass {
  return {
    name,
    async prepare(c) {
      const bodies = make(c);
      const { user, pass } = creds(c);
      return async () => {
        let next = 0;
        await Promise.all(Array.from({ length: parallel }, async () => {
          while (next < bodies.length) await post(c, '/xmlrpc/plugin', bodies[next++]!, user, pass);
        }));
      };
    },
  };
}

/** TLS connections to the manager that stay open `holdMs`; `dribble`: each writes one header byte every 200 ms. */
function connectionsClass(name: string, count: number, holdMs: number, mode: 'dribble' | 'silent' | 'idle-after-ping'): HostileClass {
  return {
    name,
    async prepare(c) {
      const { user, pass } = creds(c);
      return async () => {
        const sockets: tls.TLSSocket[] = [];
        const agents: https.Agent[] = [];
        const opened = Array.from({ length: count }, async () => {
          if (mode === 'idle-after-ping') {
            const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
            agents.push(agent);
            await post(c, '/xmlrpc/plugin', methodCallXml('ping', ['idle']), user, pass, agent);
            return;
          }
          const s = tls.connect({ host: '127.0.0.1', port: c.manager.port, ca: c.ca.certPem });
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
    },
  };
}

const nested = (levels: number) =>
  `<?xml version="1.0"?><methodCall><methodName>ping</methodName><params><param><value>${'<array><data><value>'.repeat(levels)}1${'</value></data></array>'.repeat(levels)}</value></param></params></methodCall>`;

const flatArray = (bytes: number) => {
  const item = '<value><i4>1</i4></value>';
  return `<?xml version="1.0"?><methodCall><methodName>ping</methodName><params><param><value><array><data>${item.repeat(Math.floor((bytes - 200) / item.length))}</data></array></value></param></params></methodCall>`;
};

/** A provisioning message with `n` start actions on VMs the manager does not know. */
function manyActions(c: Cluster, n: number): string {
  const blocks = Array.from({ length: n }, () => {
    const xml = lifecycleQuery('start', { serverUuid: c.serverUuid, vmUuid: randomUUID(), name: 'ghost' }).xml;
    return xml.slice(xml.indexOf('<action '), xml.indexOf('</action>') + '</action>'.length);
  });
  const rspec = `<?xml version="1.0" encoding="UTF-8"?>\n<rspec><query><provisioning>${blocks.join('')}</provisioning></query></rspec>`;
  return methodCallXml('send', [c.clearinghouse.callbackUrl, rspec]);
}

/** Every class, in the order measured. */
export const HOSTILE_CLASSES: HostileClass[] = [
  bodiesClass('nested arrays, 2,000 levels (×8)', () => Array.from({ length: 8 }, () => nested(2000))),
  bodiesClass('flat array, 7.5 MiB (×3)', () => Array.from({ length: 3 }, () => flatArray(7.5 * MiB)), 1),
  bodiesClass('8 MiB string (×3)', () => Array.from({ length: 3 }, () => methodCallXml('ping', ['x'.repeat(8 * MiB - 200)])), 1),
  bodiesClass('integer abuse (×40)', () =>
    Array.from({ length: 40 }, (_, i) => {
      const v = ['<int>12abc</int>', '<i4>99999999999</i4>', '<int> 0x10</int>', `<int>${'9'.repeat(MiB)}</int>`][i % 4]!;
      return `<?xml version="1.0"?><methodCall><methodName>ping</methodName><params><param><value>${v}</value></param></params></methodCall>`;
    }), 4),
  {
    name: '48 wrong passwords, 16 at a time',
    async prepare(c) {
      // A name of its own: the clearinghouse's cached login would pass anyway, but a cold one must not be locked.
      const user = 'victim-bench';
      const body = methodCallXml('ping', ['guess']);
      return async () => {
        for (let wave = 0; wave < 3; wave++) await Promise.all(Array.from({ length: 16 }, (_, i) => post(c, '/xmlrpc/plugin', body, user, `wrong-${wave}-${i}-${randomUUID()}`)));
      };
    },
  },
  bodiesClass('send with 300 actions (×3)', (c) => Array.from({ length: 3 }, () => manyActions(c, 300)), 1),
  connectionsClass('slow headers, 1 byte / 200 ms ×50', 50, 3000, 'dribble'),
  connectionsClass('connection flood, 500 silent TLS connections', 500, 2000, 'silent'),
  connectionsClass('idle keep-alive connections ×200', 200, 2000, 'idle-after-ping'),
];
