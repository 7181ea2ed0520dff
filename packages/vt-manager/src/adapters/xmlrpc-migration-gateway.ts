/**
 * {@link MigrationAgents} over XML-RPC (decision record 025): the `migration_*` methods of our agents, through the
 * same mutual-TLS client as every agent call (adapters/xmlrpc-agent-gateway.ts: the agent's certificate must name
 * the registered server and have role `agent`). Export and import may hash or convert whole disks: they get a
 * longer timeout than the 30 s of `send`.
 */
import { UpstreamError, wireBytes, wireTicket, type ClientTls, type Logger, type TransferTicket } from '@kvm-crm/shared';
import type { Server } from '../db/entities/server.js';
import type { ExportedVm, MigrationAgents, SendProgress } from '../services/migration/migration-ports.js';
import { XmlRpcAgentGateway } from './xmlrpc-agent-gateway.js';

/** Seconds an export (sha256 of every file, a flatten) or an import may take: 1 h. */
const LONG_CALL_SECONDS = 3600;
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;


export class XmlRpcMigrationGateway implements MigrationAgents {
  private readonly quick: XmlRpcAgentGateway;
  private readonly slow: XmlRpcAgentGateway;

  constructor(tls: ClientTls, logger: Logger) {
    this.quick = new XmlRpcAgentGateway(tls, logger, 30);
    this.slow = new XmlRpcAgentGateway(tls, logger, LONG_CALL_SECONDS);
  }

  private ours(server: Server): void {
    if (server.legacy) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which cannot migrate VMs`);
  }

  async exportVm(source: Server, ticketId: string, vmUuid: string, flatten: boolean): Promise<ExportedVm> {
    this.ours(source);
    const r = (await this.slow.client(source, MAX_ANSWER_BYTES).call<unknown>('migration_export', [source.agentPassword, ticketId, vmUuid, flatten])) as Record<string, unknown> | null;
    if (!r || typeof r.domainXml !== 'string' || typeof r.template !== 'string' || typeof r.sourceDir !== 'string' || !Array.isArray(r.files)) {
      throw new UpstreamError(`agent of ${source.name}: migration_export answer malformed`);
    }
    const files = r.files.map((f: unknown) => {
      const x = f as Record<string, unknown>;
      const sizeBytes = wireBytes(x?.sizeBytes);
      if (typeof x?.name !== 'string' || Number.isNaN(sizeBytes) || typeof x.sha256 !== 'string') throw new UpstreamError(`agent of ${source.name}: migration_export file malformed`);
      return { name: x.name, sizeBytes, sha256: x.sha256 };
    });
    return { files, domainXml: r.domainXml, template: r.template, sourceDir: r.sourceDir };
  }

  async accept(target: Server, ticket: TransferTicket): Promise<void> {
    this.ours(target);
    await this.quick.client(target).call('migration_accept', [target.agentPassword, wireTicket(ticket)]);
  }

  async send(source: Server, ticket: TransferTicket, targetUrl: string): Promise<SendProgress> {
    this.ours(source);
    return progressFrom(await this.quick.client(source).call<unknown>('migration_send', [source.agentPassword, wireTicket(ticket), targetUrl]), source.name);
  }

  async status(source: Server, ticketId: string): Promise<SendProgress> {
    return progressFrom(await this.quick.client(source).call<unknown>('migration_status', [source.agentPassword, ticketId]), source.name);
  }

  async importVm(target: Server, ticketId: string, domainXml: string, sourceDir: string, bridges: Record<string, string>): Promise<void> {
    await this.slow.client(target).call('migration_import', [target.agentPassword, ticketId, domainXml, sourceDir, bridges]);
  }

  async detach(source: Server, ticketId: string, vmUuid: string): Promise<void> {
    await this.quick.client(source).call('migration_detach', [source.agentPassword, ticketId, vmUuid]);
  }

  async reattach(source: Server, ticketId: string, vmUuid: string): Promise<void> {
    await this.quick.client(source).call('migration_reattach', [source.agentPassword, ticketId, vmUuid]);
  }

  async release(source: Server, ticketId: string, vmUuid: string): Promise<void> {
    await this.quick.client(source).call('migration_release', [source.agentPassword, ticketId, vmUuid]);
  }

  async abort(server: Server, ticketId: string): Promise<void> {
    await this.quick.client(server).call('migration_abort', [server.agentPassword, ticketId]);
  }
}

function progressFrom(r: unknown, name: string): SendProgress {
  const o = r as Record<string, unknown> | null;
  const states = ['sending', 'done', 'failed', 'unknown'];
  const bytes = wireBytes(o?.bytes);
  const totalBytes = wireBytes(o?.totalBytes);
  if (!o || typeof o.state !== 'string' || !states.includes(o.state) || Number.isNaN(bytes) || Number.isNaN(totalBytes)) {
    throw new UpstreamError(`agent of ${name}: migration progress answer malformed`);
  }
  return { state: o.state as SendProgress['state'], bytes, totalBytes, error: typeof o.error === 'string' ? o.error : '' };
}
