/**
 * The agent's console endpoint on a plain HTTP server with a fake session service (test-only: a reservation that
 * echoes what the client sends, no libvirt): a real `ws` client upgrades, the endpoint loads `ws` on that first
 * upgrade (decision 036) and relays both ways; a wrong password or a bad UUID is refused before any upgrade.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { AGENT_PASSWORD_HEADER, type ConsoleEndpoint, type RelayOutcome } from '@kvm-crm/shared';
import { attachConsoleEndpoint } from '../../dist/api/console-endpoint.js';

const VM = '3f0c9a52-6a4b-4c39-9a51-2f3d8f6c1e27';
const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, child: () => silent } as never;

/** Fake ConsoleSessions (test only): echoes every frame back; records reservations. */
function echoSessions() {
  const reserved: string[] = [];
  return {
    reserved,
    reserve: async (vmUuid: string) => {
      reserved.push(vmUuid);
      return {
        release: () => undefined,
        attach: (client: ConsoleEndpoint) =>
          new Promise<RelayOutcome>((resolve) => {
            client.onData((data) => client.send(Buffer.concat([Buffer.from('echo:'), data])));
            client.onClose(() => resolve({ reason: 'detached' } as unknown as RelayOutcome));
          }),
      };
    },
  };
}

async function withServer(run: (url: string, sessions: ReturnType<typeof echoSessions>) => Promise<void>): Promise<void> {
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const sessions = echoSessions();
  const detach = attachConsoleEndpoint(server, { sessions, password: 'pw', logger: silent });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await run(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, sessions);
  } finally {
    detach();
    server.closeAllConnections();
    server.close();
  }
}

test('console upgrade: ws is loaded on the first upgrade, frames are relayed both ways', async () => {
  await withServer(async (url, sessions) => {
    const ws = new WebSocket(`${url}/console/${VM}`, { headers: { [AGENT_PASSWORD_HEADER]: 'pw' } });
    await once(ws, 'open');
    const reply = once(ws, 'message');
    ws.send(Buffer.from('hello'), { binary: true });
    const [data] = (await reply) as [Buffer];
    assert.equal(data.toString(), 'echo:hello');
    assert.deepEqual(sessions.reserved, [VM]);
    ws.close();
    await once(ws, 'close');
  });
});

test('console upgrade: a wrong password is 401 and a bad path 400, before any reservation', async () => {
  await withServer(async (url, sessions) => {
    const status = async (path: string, password: string) => {
      const ws = new WebSocket(`${url}${path}`, { headers: { [AGENT_PASSWORD_HEADER]: password } });
      ws.on('error', () => undefined);
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number; destroy(): void }];
      res.destroy();
      return res.statusCode;
    };
    assert.equal(await status(`/console/${VM}`, 'wrong'), 401);
    assert.equal(await status('/console/not-a-uuid', 'pw'), 400);
    assert.deepEqual(sessions.reserved, []);
  });
});
