/**
 * {@link AgentGateway} over XML-RPC: HTTPS with our CA (and our client certificate) to OXAD agents, plain HTTP
 * only to servers registered as legacy (with a warning each time).
 */
import { UpstreamError, XmlRpcClient, type ClientTls, type Logger } from '@kvm-crm/shared';
import type { Server } from '../db/entities/server.js';
import type { AgentGateway } from '../services/ports.js';

export class XmlRpcAgentGateway implements AgentGateway {
  constructor(
    private readonly tls: ClientTls,
    private readonly logger: Logger,
    /** Seconds to wait for an agent's reply to `send` (the agent answers before working). Default 30. */
    private readonly timeoutSeconds = 30,
  ) {}

  /** A client for `server`'s agent. */
  client(server: Server): XmlRpcClient {
    if (server.agentUrl.startsWith('http:')) {
      if (!server.legacy) throw new UpstreamError(`server ${server.name} has a plain http agent URL but is not registered as legacy`);
      this.logger.warn('talking to a legacy plain-HTTP agent', { server: server.name });
    }
    return new XmlRpcClient({ url: server.agentUrl, tls: this.tls, timeoutSeconds: this.timeoutSeconds });
  }

  async send(server: Server, callbackUrl: string, rspecXml: string): Promise<void> {
    await this.client(server).call('send', [callbackUrl, 1, server.agentPassword, rspecXml]);
  }
}
