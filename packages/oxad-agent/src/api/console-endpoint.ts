/**
 * The agent's console endpoint (decision record 027): a WebSocket upgrade on `/console/<vm uuid>[?force=1]` of the
 * agent's HTTPS listener. Before the upgrade: the manager's certificate (as for XML-RPC, when the agent requires
 * one), the OCF agent password in the `X-KvmCrm-Agent-Password` header (constant-time compare), a UUID, then the
 * console is reserved and its serial socket connected; any refusal is an HTTP status with a reason. The `ws` package
 * is loaded by the first upgrade that gets that far, not at start (it is ~1.7 MiB of an idle agent's RSS, decision 036).
 */
import { samePassword } from './same-password.js';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import {
  AGENT_CONSOLE_PATH,
  AGENT_PASSWORD_HEADER,
  CONSOLE_MAX_FRAME_BYTES,
  refuseUpgrade,
  upgradeStatusOf,
  wsConsoleEndpoint,
} from '@kvm-crm/shared/console';
import type { Logger } from '@kvm-crm/shared/logger';
import { UUID_PATTERN } from '@kvm-crm/shared/validation';
import type { Principal } from '@kvm-crm/shared/xmlrpc';
import type { ConsoleSessions } from '../services/console-sessions.js';

/** What {@link attachConsoleEndpoint} needs. */
export interface ConsoleEndpointDeps {
  sessions: Pick<ConsoleSessions, 'reserve'>;
  /** The OCF shared agent password (§4.2). */
  password: string;
  /** The HTTP-level authentication (the manager's certificate); absent: only the password guards the console. */
  authenticate?: (req: IncomingMessage) => Promise<Principal>;
  logger: Logger;
}


/**
 * Serves console upgrades on `server` (other upgrade requests get 404). Returns a function that stops taking
 * upgrades (the sessions themselves end through {@link ConsoleSessions.closeAll}).
 */
export function attachConsoleEndpoint(server: Server, deps: ConsoleEndpointDeps): () => void {
  let wss: Promise<WebSocketServer> | undefined;
  const webSockets = () =>
    (wss ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, maxPayload: CONSOLE_MAX_FRAME_BYTES, perMessageDeflate: false })));
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void handle(req, socket, head).catch((err: unknown) => {
      const { status, message } = upgradeStatusOf(err);
      if (status >= 500) deps.logger.error('console upgrade failed', { error: String(err) });
      refuseUpgrade(socket, status, message, err);
    });
  };
  const handle = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://agent.invalid');
    if (!url.pathname.startsWith(AGENT_CONSOLE_PATH)) return refuseUpgrade(socket, 404, `no WebSocket endpoint at ${url.pathname.slice(0, 80)}`);
    let principal = 'manager';
    if (deps.authenticate) principal = (await deps.authenticate(req)).name;
    const given = req.headers[AGENT_PASSWORD_HEADER];
    if (typeof given !== 'string' || !samePassword(given, deps.password)) return refuseUpgrade(socket, 401, 'Password mismatch');
    const vmUuid = url.pathname.slice(AGENT_CONSOLE_PATH.length).toLowerCase();
    if (!UUID_PATTERN.test(vmUuid)) return refuseUpgrade(socket, 400, 'the console path must be /console/<vm uuid>');
    const force = url.searchParams.get('force') === '1';
    const upgrader = await webSockets();
    const reserved = await deps.sessions.reserve(vmUuid, force, principal);
    if (socket.destroyed) return reserved.release();
    let attached = false;
    // ws answers a malformed upgrade with 400 itself and never calls back: the reservation is then given up.
    socket.once('close', () => {
      if (!attached) reserved.release();
    });
    upgrader.handleUpgrade(req, socket, head, (ws) => {
      attached = true;
      void reserved.attach(wsConsoleEndpoint(ws));
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    void wss?.then((s) => s.close());
  };
}
