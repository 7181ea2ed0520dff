/**
 * Who is calling the manager's `/xmlrpc/agent` (`sendAsync` from agents, docs/ocf-protocol.md §5.1).
 *
 * 1. The Basic credentials of the callback URL (`agentCallback` in the config) are always required: OCF agents
 *    send them, and a wrong pair is answered 401 as before.
 * 2. A caller with a client certificate must present one that OpenSSL verified in the handshake (our CA, valid,
 *    not in the CRL), that the current CRL does not list, of role `agent`, whose CN (or else a DNS/IP SAN) is the
 *    name of a registered, non-legacy server. It is then that server.
 * 3. A caller without a certificate is accepted only as a server registered as legacy (a plain-http OCF agent
 *    cannot present one): the call must come from an address of that server's agent URL host (the IP literal, or
 *    what its name resolves to). Anything else is refused.
 *
 * Refusals are NotAllowedError (HTTP 403 with the reason in the body and the `x-kvm-crm-refusal` header).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import { In, type DataSource } from 'typeorm';
import { isPeerRefusal, NotAllowedError, readBasicCredentials, verifiedClientCertificate, type Logger, type Principal, type ReloadableTls } from '@kvm-crm/shared';
import { Server } from '../db/entities/server.js';

/** Options of {@link createAgentCallerAuth}. */
export interface AgentCallerAuthOptions {
  /** The `agentCallback` credentials from the manager's config. */
  callback: { user: string; password: string };
  /** The manager's TLS material: its CRL's serials are checked on every request. */
  tls: Pick<ReloadableTls, 'isRevoked'>;
  dataSource: DataSource;
  logger: Logger;
}

/** Constant-time equality of two secrets of any lengths (SHA-256 digests compared with timingSafeEqual). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; brackets and zone ids removed. */
function plainAddress(address: string): string {
  return address.replace(/^\[|\]$/g, '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').replace(/%.*$/, '').toLowerCase();
}

/** The addresses of the host of `agentUrl` (the literal, or what it resolves to); empty when it does not resolve. */
async function agentHostAddresses(agentUrl: string): Promise<string[]> {
  let host: string;
  try {
    host = plainAddress(new URL(agentUrl).hostname);
  } catch {
    return [];
  }
  if (isIP(host)) return [host];
  try {
    return (await lookup(host, { all: true })).map((a) => plainAddress(a.address));
  } catch {
    return [];
  }
}

/**
 * Builds the `authenticate` function of the `/xmlrpc/agent` endpoint. It resolves to `{name: <server name>,
 * roles: ['agent']}` (plus `'legacy'` for a legacy agent), to undefined for wrong Basic credentials (HTTP 401), and
 * throws NotAllowedError for everything else (see the module comment).
 */
export function createAgentCallerAuth(options: AgentCallerAuthOptions): (req: Request) => Promise<Principal | undefined> {
  const servers = () => options.dataSource.getRepository(Server);
  return async (req) => {
    const c = readBasicCredentials(req);
    if (!c) return undefined;
    // Both compared every time (no `&&` short cut), so the time does not tell whether the user name was right.
    const userOk = sameSecret(c.user, options.callback.user);
    const passOk = sameSecret(c.pass, options.callback.password);
    if (!(userOk && passOk)) return undefined;

    const socket = req.socket as TLSSocket;
    const remote = plainAddress(socket.remoteAddress ?? '');
    const peer = verifiedClientCertificate(socket, { isRevoked: (s) => options.tls.isRevoked(s), role: 'agent' });
    if (!isPeerRefusal(peer)) {
      const candidates = await servers().find({ where: { name: In(peer.names) }, select: { id: true, name: true, legacy: true } });
      // The CN decides; a SAN only when no server has the CN's name.
      const server = candidates.find((s) => s.name === peer.commonName) ?? peer.names.map((n) => candidates.find((s) => s.name === n)).find(Boolean);
      if (!server) throw new NotAllowedError(`agent certificate ${JSON.stringify(peer.commonName)} (serial ${peer.serial}) names no registered server`);
      if (server.legacy) throw new NotAllowedError(`server ${server.name} is registered as legacy; register it without --legacy to use its certificate`);
      return { name: server.name, roles: ['agent'] };
    }
    if (!peer.missing) throw new NotAllowedError(peer.refusal);

    const legacy = await servers().find({ where: { legacy: true }, select: { id: true, name: true, agentUrl: true, legacy: true } });
    const matching: string[] = [];
    for (const s of legacy) if ((await agentHostAddresses(s.agentUrl)).includes(remote)) matching.push(s.name);
    const [only] = matching;
    if (only !== undefined && matching.length === 1) {
      options.logger.warn('status from a legacy agent without a client certificate', { server: only, remote });
      return { name: only, roles: ['agent', 'legacy'] };
    }
    if (matching.length > 1) throw new NotAllowedError(`no client certificate, and ${remote} is the address of several legacy servers (${matching.join(', ')})`);
    throw new NotAllowedError(`no client certificate: only servers registered as legacy may call without one, and ${remote} is not the address of any`);
  };
}
