/**
 * Who is on the other end of a TLS connection: the role and names in a peer certificate, the server-side check of a
 * client certificate (verified by OpenSSL against our CA and CRL during the handshake, then checked against the
 * current revocation list and the required role), and the client-side check of a server certificate
 * (`checkServerIdentity` that wants a given name and role instead of the URL's host name).
 */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { normaliseSerial } from './crl.js';
import type { CertificateRole } from './certificate-info.js';

/** The role in a peer certificate: its subject OU (the first one when several), or undefined. */
export function peerCertificateRole(cert: PeerCertificate): string | undefined {
  const ou = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.OU;
  return Array.isArray(ou) ? ou[0] : ou;
}

/** The subject CN of a peer certificate (the first one when several), or undefined. */
export function peerCertificateCommonName(cert: PeerCertificate): string | undefined {
  const cn = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** The names a peer certificate is for: its CN first, then its DNS and IP subjectAltNames (no duplicates). */
export function peerCertificateNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn = peerCertificateCommonName(cert);
  if (cn) names.push(cn);
  for (const san of (cert.subjectaltname ?? '').split(', ')) {
    const m = /^(?:DNS|IP Address):(.+)$/.exec(san.trim());
    if (m && !names.includes(m[1]!)) names.push(m[1]!);
  }
  return names;
}

/** A client certificate that passed {@link verifiedClientCertificate}. */
export interface VerifiedPeer {
  certificate: PeerCertificate;
  /** Normalised serial (lower-case hex, no leading zeros). */
  serial: string;
  commonName: string;
  role?: string;
  /** CN, then DNS and IP SANs. */
  names: string[];
}

/** Why a client certificate was refused (a sentence for the caller and the log). */
export interface PeerRefusal {
  refusal: string;
  /** True when the client presented no certificate at all. */
  missing: boolean;
}

/**
 * Checks the client certificate of a server-side TLS socket: present, verified in the handshake (signed by the
 * CA of the secure context, not expired, not in its CRL: `socket.authorized`), not in `isRevoked` (the current
 * revocation list: it also catches connections made before the list was reloaded, and resumed TLS sessions), and of
 * `role` when given. Returns the peer, or a refusal naming the reason (OpenSSL's code, e.g. `CERT_REVOKED`).
 * A plain (non-TLS) socket gives a refusal with `missing: true`.
 */
export function verifiedClientCertificate(
  socket: TLSSocket,
  options: { isRevoked?: (serial: string) => boolean; role?: CertificateRole } = {},
): VerifiedPeer | PeerRefusal {
  const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  if (!cert || Object.keys(cert).length === 0) return { refusal: 'no client certificate presented', missing: true };
  const cn = peerCertificateCommonName(cert) ?? '';
  if (!socket.authorized) {
    return { refusal: `client certificate ${JSON.stringify(cn)} not accepted: ${String(socket.authorizationError ?? 'not verified')}`, missing: false };
  }
  const serial = normaliseSerial(cert.serialNumber ?? '0');
  if (options.isRevoked?.(serial)) return { refusal: `client certificate ${JSON.stringify(cn)} (serial ${serial}) is revoked`, missing: false };
  const role = peerCertificateRole(cert);
  if (options.role && role !== options.role) {
    return { refusal: `client certificate ${JSON.stringify(cn)} has role ${role ?? '(none)'}; role ${options.role} is required`, missing: false };
  }
  return { certificate: cert, serial, commonName: cn, ...(role ? { role } : {}), names: peerCertificateNames(cert) };
}

/** True when `r` is a refusal from {@link verifiedClientCertificate}. */
export function isPeerRefusal(r: VerifiedPeer | PeerRefusal): r is PeerRefusal {
  return 'refusal' in r;
}

/** What a client expects of the server certificate, beyond chaining to its CA. */
export interface ExpectedPeer {
  /**
   * The certificate must name this (CN or a SAN), instead of the usual match with the URL's host: the manager
   * wants the registered server name in an agent's certificate, whatever address the agent URL uses.
   */
  name?: string;
  /** The certificate's role (subject OU) must be this. */
  role?: CertificateRole;
}

/**
 * A `checkServerIdentity` for `tls.connect`/`https.request`: when `expected.name` is set, the certificate must name
 * it (CN or SAN); otherwise Node's standard host-name check runs. When `expected.role` is set the OU must match.
 * Returns an Error (the connection is refused) or undefined.
 */
export function serverIdentityChecker(
  expected: ExpectedPeer,
  defaultCheck: (host: string, cert: PeerCertificate) => Error | undefined,
): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    if (expected.name !== undefined) {
      const names = peerCertificateNames(cert);
      if (!names.includes(expected.name)) {
        return Object.assign(new Error(`server certificate is for ${JSON.stringify(names)}, not the registered name ${JSON.stringify(expected.name)}`), {
          code: 'ERR_KVMCRM_PEER_NAME',
        });
      }
    } else {
      const err = defaultCheck(host, cert);
      if (err) return err;
    }
    if (expected.role !== undefined && peerCertificateRole(cert) !== expected.role) {
      return Object.assign(new Error(`server certificate has role ${peerCertificateRole(cert) ?? '(none)'}, not ${expected.role}`), { code: 'ERR_KVMCRM_PEER_ROLE' });
    }
    return undefined;
  };
}
