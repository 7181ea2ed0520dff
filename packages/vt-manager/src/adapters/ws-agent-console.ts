/**
 * {@link AgentConsoles} over WebSocket (decision record 027): `wss://<agent>/console/<vm uuid>[?force=1]` with
 * mutual TLS like the XML-RPC gateway (our certificate; the agent's must chain to our CA, not be in our CRL, have
 * role `agent` and name the registered server) and the OCF agent password in `X-KvmCrm-Agent-Password`.
 */
import { checkServerIdentity } from 'node:tls';
import { WebSocket, type ClientOptions } from 'ws';
import {
  AGENT_CONSOLE_PATH,
  AGENT_PASSWORD_HEADER,
  CONSOLE_MAX_FRAME_BYTES,
  ConflictError,
  NotFoundError,
  readRefusal,
  serverIdentityChecker,
  UpstreamError,
  wsConsoleEndpoint,
  type ClientTls,
  type ConsoleEndpoint,
} from '@kvm-crm/shared';
import type { Server } from '../db/entities/server.js';
import type { AgentConsoles } from '../services/ports.js';

/** Seconds to wait for the agent to accept a console (TLS, upgrade, serial socket). */
const OPEN_TIMEOUT_MS = 15_000;

/** Opens consoles on agents. */
export class WsAgentConsoles implements AgentConsoles {
  /** @param tls our TLS material; may be a live object (ReloadableTls.clientTls): read at each open. */
  constructor(private readonly tls: ClientTls) {}

  /**
   * Opens VM `vmUuid`'s console on `server`'s agent.
   * @throws UpstreamError for a legacy server, a refused TLS handshake, an unreachable agent or a timeout;
   *   ConflictError / NotFoundError with the agent's reason when it refuses with 409 / 404 (busy, not running,
   *   no such VM); UpstreamError naming the status for other refusals (401: wrong agent password, 403: our
   *   certificate refused).
   */
  async open(server: Server, vmUuid: string, force: boolean): Promise<ConsoleEndpoint> {
    if (server.legacy || !server.agentUrl.startsWith('https:')) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which has no interactive console`);
    const url = new URL(`${AGENT_CONSOLE_PATH}${vmUuid}`, server.agentUrl);
    url.protocol = 'wss:';
    if (force) url.searchParams.set('force', '1');
    const tls = { ...this.tls };
    const ws = new WebSocket(url, {
      ca: tls.ca, cert: tls.cert, key: tls.key, ...(tls.crl ? { crl: tls.crl } : {}), rejectUnauthorized: true,
      // ws hands the TLS options to tls.connect, whose checkServerIdentity returns an Error (not @types/ws' boolean).
      checkServerIdentity: serverIdentityChecker({ name: server.name, role: 'agent' }, checkServerIdentity) as unknown as ClientOptions['checkServerIdentity'],
      headers: { [AGENT_PASSWORD_HEADER]: server.agentPassword },
      handshakeTimeout: OPEN_TIMEOUT_MS, maxPayload: CONSOLE_MAX_FRAME_BYTES, perMessageDeflate: false,
    });
    return new Promise<ConsoleEndpoint>((resolve, reject) => {
      ws.once('open', () => resolve(wsConsoleEndpoint(ws)));
      ws.once('unexpected-response', (_req, res) => {
        void readRefusal(res).then((text) => {
          const why = `agent of ${server.name}: ${text || `HTTP ${res.statusCode}`}`;
          ws.terminate();
          if (res.statusCode === 409) reject(new ConflictError(why));
          else if (res.statusCode === 404) reject(new NotFoundError(why));
          else reject(new UpstreamError(`${why} (HTTP ${res.statusCode})`));
        });
      });
      ws.once('error', (err) => reject(new UpstreamError(`agent of ${server.name}: console connection failed: ${err.message}`)));
    });
  }
}
