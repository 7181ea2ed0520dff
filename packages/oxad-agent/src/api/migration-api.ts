/**
 * The kvm-crm agent extensions of an offline migration (decision record 025, docs/compatibility.md): XML-RPC methods
 * the manager calls (mutual TLS, role `manager`, plus the OCF agent password like every method), and the HTTPS
 * endpoint `PUT /migration/transfer/<ticket id>/<file>` the source agent pushes files to (mutual TLS, role `agent`).
 */
import { samePassword } from './same-password.js';
import type { TLSSocket } from 'node:tls';
import type { Request, Response } from 'express';
import {
  AuthenticationError,
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  describeError,
} from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { isPeerRefusal, verifiedClientCertificate } from '@kvm-crm/shared/tls';
import { parsePeerUrl, stringParam, type XmlRpcMethod } from '@kvm-crm/shared/xmlrpc';
import type { MigrationAgentService, SendProgress } from '../services/migration-service.js';


/** The migration methods, spread into the agent's method table; each takes the OCF agent password first. */
export function migrationApi(deps: { migration: MigrationAgentService; password: string }): Record<string, XmlRpcMethod> {
  const auth = (p: unknown[]) => {
    if (!samePassword(stringParam(p, 0, 'password'), deps.password)) throw new AuthenticationError('Password mismatch');
  };
  const struct = (p: unknown[], i: number, what: string): Record<string, unknown> => {
    const v = p[i];
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${what} must be a struct`);
    return v as Record<string, unknown>;
  };
  const m = deps.migration;
  return {
    /** `migration_export(password, ticketId, vmUuid, flatten)` → `{files: [{name, sizeBytes (decimal string), sha256}], domainXml, template, sourceDir}`. */
    migration_export: async (p) => {
      auth(p);
      const r = await m.exportVm(stringParam(p, 1, 'ticketId'), stringParam(p, 2, 'vmUuid'), p[3] === true);
      return { ...r, files: r.files.map((f) => ({ ...f, sizeBytes: String(f.sizeBytes) })) };
    },
    /** `migration_accept(password, ticket)` → `{ticketId, totalBytes}`. */
    migration_accept: async (p) => {
      auth(p);
      return m.accept(struct(p, 1, 'ticket'));
    },
    /** `migration_send(password, ticket, targetUrl)` → `{state, bytes, totalBytes, error}` (byte counts as decimal strings); the push runs on in the background. */
    migration_send: async (p) => {
      auth(p);
      const url = stringParam(p, 2, 'targetUrl');
      parsePeerUrl(url);
      return wireProgress(await m.send(struct(p, 1, 'ticket'), url));
    },
    /** `migration_status(password, ticketId)` → `{state: sending|done|failed|unknown, bytes, totalBytes, error}`. */
    migration_status: async (p) => {
      auth(p);
      return wireProgress(m.status(stringParam(p, 1, 'ticketId')));
    },
    /** `migration_import(password, ticketId, domainXml, sourceDir, bridges)` → `{domain}`. */
    migration_import: async (p) => {
      auth(p);
      const bridges = Object.fromEntries(Object.entries(struct(p, 4, 'bridges')).map(([k, v]) => [k, String(v)]));
      return m.importVm(stringParam(p, 1, 'ticketId'), stringParam(p, 2, 'domainXml'), stringParam(p, 3, 'sourceDir'), bridges);
    },
    /** `migration_detach(password, ticketId, vmUuid)` → `{detached}`: source undefines, keeps files and XML. */
    migration_detach: async (p) => {
      auth(p);
      return m.detach(stringParam(p, 1, 'ticketId'), stringParam(p, 2, 'vmUuid'));
    },
    /** `migration_reattach(password, ticketId, vmUuid)` → `{reattached}`: source defines again (rollback). */
    migration_reattach: async (p) => {
      auth(p);
      return m.reattach(stringParam(p, 1, 'ticketId'), stringParam(p, 2, 'vmUuid'));
    },
    /** `migration_release(password, ticketId, vmUuid)` → `{removed}`. */
    migration_release: async (p) => {
      auth(p);
      return m.release(stringParam(p, 1, 'ticketId'), stringParam(p, 2, 'vmUuid'));
    },
    /** `migration_abort(password, ticketId)` → `{removed: [what…]}`. */
    migration_abort: async (p) => {
      auth(p);
      return m.abort(stringParam(p, 1, 'ticketId'));
    },
  };
}

/** Progress with its byte counts as decimal strings (XML-RPC's <int> holds 32 bits). */
function wireProgress(p: SendProgress): Record<string, string> {
  return { state: p.state, bytes: String(p.bytes), totalBytes: String(p.totalBytes), error: p.error };
}

/** HTTP status of an error of the transfer endpoint. */
function statusOf(err: unknown): number {
  if (err instanceof NotFoundError) return 404;
  if (err instanceof NotAllowedError) return 403;
  if (err instanceof ConflictError) return 409;
  if (err instanceof InputError) return 400;
  return 500;
}

/**
 * Most bytes of a refused upload read and discarded before the refusal is sent: 64 MiB. The sender writes its body
 * while we answer; answering first would close the connection under it (it sees EPIPE instead of our reason).
 * Longer bodies are cut off (the sender sees a reset).
 */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

/** Sends `status` with `text` after reading what is left of the request body (up to {@link DRAIN_LIMIT_BYTES}). */
async function refuse(req: Request, res: Response, status: number, text: string): Promise<void> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!req.readableEnded && !req.destroyed && length <= DRAIN_LIMIT_BYTES) {
    await new Promise<void>((resolve) => {
      req.once('end', resolve);
      req.once('error', () => resolve());
      req.once('close', resolve);
      req.resume();
    });
  }
  if (!res.headersSent) res.status(status).type('text/plain').send(text);
}

/**
 * The express handler of `PUT /migration/transfer/:ticket/:file`: a verified, unrevoked client certificate of role
 * `agent` is required (403 otherwise), then {@link MigrationAgentService.receive} runs on the request body.
 * Answers 200 `{sha256, sizeBytes}` or an error status with the reason as text.
 */
export function transferEndpoint(deps: { migration: MigrationAgentService; isRevoked: (serial: string) => boolean; logger: Logger }) {
  return async (req: Request, res: Response): Promise<void> => {
    const ticket = String(req.params['ticket'] ?? '');
    const file = String(req.params['file'] ?? '');
    const peer = verifiedClientCertificate(req.socket as TLSSocket, { isRevoked: deps.isRevoked, role: 'agent' });
    if (isPeerRefusal(peer)) {
      deps.logger.warn('transfer refused', { reason: peer.refusal });
      await refuse(req, res, 403, `transfers need an agent certificate: ${peer.refusal}`);
      return;
    }
    try {
      const r = await deps.migration.receive(ticket, file, peer.names, req);
      res.status(200).json(r);
    } catch (err) {
      const status = statusOf(err);
      deps.logger.warn('transfer refused', { from: peer.commonName, file: file.slice(0, 80), status, reason: describeError(err) });
      await refuse(req, res, status, status === 500 ? 'transfer failed on the target' : describeError(err));
    }
  };
}
