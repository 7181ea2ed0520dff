/**
 * The TLS option types the daemons pass around: what an HTTPS listener serves ({@link ServerTls}) and what an
 * outgoing HTTPS call presents and trusts ({@link ClientTls}). All material is PEM text. `reloadable-tls.ts` builds
 * them from files; `xmlrpc/` consumes them.
 */
import type { SecureContext } from 'node:tls';
import type { ExpectedPeer } from './peer-identity.js';
import type { TlsMinVersion } from './protocol-version.js';

/** TLS material of a listening daemon (PEM strings). */
export interface ServerTls {
  cert: string;
  key: string;
  /** CA used to verify client certificates, when clients present one. */
  ca?: string;
  /**
   * CRL(s) (PEM) of the CA: a client certificate they list fails verification in the handshake
   * (`socket.authorized` false, `authorizationError` `CERT_REVOKED`).
   */
  crl?: string | string[];
  /**
   * Ask clients for a certificate. The handshake still succeeds without one (`rejectUnauthorized: false`); each
   * endpoint decides whether it requires a verified certificate (`socket.authorized`). Default true.
   */
  requestCert?: boolean;
  /** Lowest TLS version accepted. Default `TLSv1.2` (see protocol-version.ts). */
  minVersion?: TlsMinVersion;
}

/** TLS material for outgoing HTTPS calls (PEM strings). */
export interface ClientTls {
  /** CA certificates to trust. When omitted, the system roots are used. */
  ca?: string | string[];
  /** Our client certificate, for mutual TLS. */
  cert?: string;
  /** Key of `cert`. */
  key?: string;
  /**
   * CRL(s) (PEM) of the CA(s): a server certificate they list is refused in the handshake (`CERT_REVOKED`).
   * OpenSSL then wants a CRL for every CA of the server's chain, so give it only for peers under our CA.
   */
  crl?: string | string[];
  /** Verify the server certificate and host name. Default true. */
  rejectUnauthorized?: boolean;
  /**
   * A secure context built from exactly `ca`, `cert`, `key` and `crl` (ReloadableTls.clientTls builds one per
   * generation of the material). When given, XmlRpcClient connects with it instead of building a context per new
   * connection (~2.4 ms with the system roots), and keys its connection pool by it rather than by the PEM text.
   */
  secureContext?: SecureContext;
  /**
   * What the server certificate must say: `name` (CN or SAN) replaces the check against the URL's host, `role`
   * (subject OU) is checked too. Pooled connections are kept apart per expectation.
   */
  expectPeer?: ExpectedPeer;
}
