/**
 * The manager's outgoing side effects towards peers, as small interfaces: real implementations live in
 * `adapters/`, unit tests use in-memory fakes.
 */
import type { Server } from '../db/entities/server.js';

/** Talks to a server's OXAD agent (ocf-protocol.md §4). */
export interface AgentGateway {
  /**
   * `send(callbackUrl, 1, agentPassword, rspecXml)` on the server's agent; resolves once the agent accepted the
   * query (it answers `""` before doing any work, §4.2).
   * @throws UpstreamError / AuthenticationError / XmlRpcFaultError when the agent is unreachable or refuses.
   */
  send(server: Server, callbackUrl: string, rspecXml: string): Promise<void>;
}

/** Delivers status documents to a clearinghouse callback (`sendAsync(xml)`, ocf-protocol.md §3.3). */
export interface ClientNotifier {
  /**
   * Queues `rspecXml` for delivery to `callbackUrl`. Deliveries to one URL happen in call order; failures are
   * retried a few times and then logged (never thrown).
   */
  sendAsync(callbackUrl: string, rspecXml: string): void;
  /** Resolves when every queued delivery has finished (tests, shutdown). */
  drain(): Promise<void>;
}
