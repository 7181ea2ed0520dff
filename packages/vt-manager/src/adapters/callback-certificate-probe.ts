/**
 * The certificate check of a clearinghouse callback (decision 014; docs/security.md "Controls"): a TLS handshake
 * with the pinned address, with the trust deliveries use (system roots + our CA + `callbackCaFile`), the URL's
 * host name as SNI and for the name check; the socket is closed after the handshake, nothing is sent.
 */
import { checkServerIdentity, connect } from 'node:tls';
import { describeError, type ClientTls, type PinnedTarget } from '@kvm-crm/shared';
import type { CertificateProbe, ProbeResult } from '../services/callback-policy-service.js';

/** Seconds the handshake may take before the callback counts as unreachable (then `send` is accepted). */
export const PROBE_TIMEOUT_SECONDS = 5;

/** OpenSSL's text for the verification codes a callback certificate commonly fails with. */
const VERIFY_TEXT: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_REVOKED: 'certificate revoked',
};

/** `self-signed certificate, DEPTH_ZERO_SELF_SIGNED_CERT`: the text an operator reads and the code logs show. */
function verifyReason(error: unknown): string {
  const code = error instanceof Error ? ((error as { code?: string }).code ?? error.message) : String(error);
  const text = VERIFY_TEXT[code];
  return text ? `${text}, ${code}` : describeError(error);
}

/**
 * A {@link CertificateProbe} with `tls` (may be a live object; read at each probe).
 * Resolves `trusted`, `untrusted` with OpenSSL's reason (`self-signed certificate`, `certificate has expired`, a name
 * mismatch…), or `unreachable` (refused, reset, timeout); never rejects.
 */
export function tlsCertificateProbe(tls: ClientTls, timeoutSeconds = PROBE_TIMEOUT_SECONDS): CertificateProbe {
  return (target: PinnedTarget) =>
    new Promise<ProbeResult>((resolve) => {
      const host = target.url.hostname.replace(/^\[|\]$/g, '');
      const isIp = host === target.address || host.includes(':') || /^[0-9.]+$/.test(host);
      const socket = connect({
        host: target.address,
        port: target.url.port ? Number(target.url.port) : 443,
        ...(isIp ? {} : { servername: host }),
        // The live material's secure context when there is one (built once per generation; a context of its own
        // per probe parses every trusted root again, decision 032), else the CA list.
        ...(tls.secureContext ? { secureContext: tls.secureContext } : { ca: tls.ca }),
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      });
      const done = (r: ProbeResult) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => done({ outcome: 'unreachable', reason: `no TLS handshake within ${timeoutSeconds} s` }), timeoutSeconds * 1000);
      socket.once('secureConnect', () => {
        if (!socket.authorized) return done({ outcome: 'untrusted', reason: verifyReason(socket.authorizationError) });
        const nameError = checkServerIdentity(host, socket.getPeerCertificate());
        if (nameError) return done({ outcome: 'untrusted', reason: describeError(nameError) });
        done({ outcome: 'trusted' });
      });
      socket.once('error', (err) => done({ outcome: 'unreachable', reason: describeError(err) }));
    });
}
