/**
 * What the manager's migration code asks of the agents (decision record 025), as a small interface: the real
 * implementation is adapters/xmlrpc-migration-gateway.ts, unit tests use a fake.
 */
import type { TransferFile, TransferTicket } from '@kvm-crm/shared';
import type { Server } from '../../db/entities/server.js';

/** The source's answer to `migration_export`. */
export interface ExportedVm {
  files: TransferFile[];
  domainXml: string;
  /** `''` when flattened. */
  template: string;
  sourceDir: string;
}

/** The source's send progress (`migration_status`). Bytes are file bytes. */
export interface SendProgress {
  state: 'sending' | 'done' | 'failed' | 'unknown';
  bytes: number;
  totalBytes: number;
  error: string;
}

/** The agent calls of a migration. Each throws (UpstreamError, XmlRpcFaultError…) when the agent fails or refuses. */
export interface MigrationAgents {
  exportVm(source: Server, ticketId: string, vmUuid: string, flatten: boolean): Promise<ExportedVm>;
  accept(target: Server, ticket: TransferTicket): Promise<void>;
  send(source: Server, ticket: TransferTicket, targetUrl: string): Promise<SendProgress>;
  status(source: Server, ticketId: string): Promise<SendProgress>;
  importVm(target: Server, ticketId: string, domainXml: string, sourceDir: string, bridges: Record<string, string>): Promise<void>;
  /** Source: undefine (files and XML kept) just before the target defines. */
  detach(source: Server, ticketId: string, vmUuid: string): Promise<void>;
  /** Source: define again from the kept XML (rollback of detach; a no-op when defined). */
  reattach(source: Server, ticketId: string, vmUuid: string): Promise<void>;
  release(source: Server, ticketId: string, vmUuid: string): Promise<void>;
  abort(server: Server, ticketId: string): Promise<void>;
}
