/**
 * GIDs (SFA identity certificates) and their chains to the trusted roots (docs/geni-v3.md §9.2 `gid.verify_chain`,
 * §9.3 items 3 and 4), with node:crypto's `X509Certificate`. Pure: the trusted roots are passed in.
 */
import { X509Certificate } from 'node:crypto';
import { isAuthorityPrefix, parseUrn, urnToHrn } from '@kvm-crm/shared';
import { GeniCredentialError } from './geni-credential-error.js';

/** Allowed clock skew when checking certificate validity and credential expiry (§9.3: 60 s). */
export const CLOCK_SKEW_MS = 60_000;
/** Longest certificate chain followed above a leaf. */
const MAX_CHAIN = 8;

/** A trust anchor: the first certificate of a trusted-roots file (§9.4 "Trusted roots"). */
export interface TrustAnchor {
  certificate: X509Certificate;
  /** Its `urn:publicid:IDN+…` identity from subjectAltName, when it has one. */
  urn?: string;
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The certificates of a PEM text in order (a GID: the certificate, then its issuers).
 * @throws GeniCredentialError `<what> holds no certificate` / `<what> holds an unreadable certificate`.
 */
export function certificatesOfPem(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT_RE) ?? [];
  if (blocks.length === 0) throw new GeniCredentialError(`${what} holds no certificate`);
  if (blocks.length > MAX_CHAIN + 1) throw new GeniCredentialError(`${what} holds more than ${MAX_CHAIN + 1} certificates`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new GeniCredentialError(`${what} holds an unreadable certificate`);
    }
  });
}

/** The certificate from base64 DER (an `X509Certificate` element). @throws GeniCredentialError */
export function certificateOfBase64(b64: string, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(b64, 'base64'));
  } catch {
    throw new GeniCredentialError(`${what} holds an unreadable certificate`);
  }
}

/**
 * The `urn:publicid:IDN+…` URI of a certificate's subjectAltName (the GID identity, §9.1), or undefined. The
 * subjectAltName text form is `URI:urn:publicid:IDN+…, URI:urn:uuid:…, email:…`.
 */
export function urnOfCertificate(cert: X509Certificate): string | undefined {
  const san = cert.subjectAltName ?? '';
  for (const part of san.split(/,\s*/)) {
    const m = /^URI:(urn:publicid:IDN\+.*)$/i.exec(part.trim());
    if (m) return m[1];
  }
  return undefined;
}

/** The certificate's URN type and HRN, or undefined when it has no parsable GENI URN. */
function identity(cert: X509Certificate): { urn: string; type: string; hrn: string } | undefined {
  const urn = urnOfCertificate(cert);
  if (!urn) return undefined;
  try {
    return { urn, type: parseUrn(urn).type, hrn: urnToHrn(urn) };
  } catch {
    return undefined;
  }
}

/** A short name of a certificate for reasons: its URN, else its subject. */
export function describeCertificate(cert: X509Certificate): string {
  return urnOfCertificate(cert) ?? cert.subject.replace(/\n/g, ', ');
}

function assertValid(cert: X509Certificate, now: Date, what: string): void {
  const t = now.getTime();
  if (new Date(cert.validFrom).getTime() - CLOCK_SKEW_MS > t) {
    throw new GeniCredentialError(`${what} certificate ${describeCertificate(cert)} is not valid before ${new Date(cert.validFrom).toISOString()}`);
  }
  if (new Date(cert.validTo).getTime() + CLOCK_SKEW_MS < t) {
    throw new GeniCredentialError(`${what} certificate ${describeCertificate(cert)} expired at ${new Date(cert.validTo).toISOString()}`);
  }
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false; // e.g. an MD5 signature OpenSSL 3 refuses
  }
}

/**
 * The SFA issuer rule (`hrn_authfor_hrn` plus "issuers are authorities"): `issuer` is CA:TRUE, its URN type starts
 * with `authority` and its HRN is an authority prefix of the subject's HRN.
 */
function assertMayIssue(issuer: X509Certificate, subject: X509Certificate, what: string): void {
  if (!issuer.ca) throw new GeniCredentialError(`${what}: issuer ${describeCertificate(issuer)} is not a CA (CA:FALSE)`);
  const i = identity(issuer);
  const s = identity(subject);
  if (!i || !s) throw new GeniCredentialError(`${what}: certificate ${describeCertificate(i ? subject : issuer)} has no GENI URN`);
  if (!i.type.startsWith('authority')) throw new GeniCredentialError(`${what}: issuer ${i.urn} is not an authority`);
  if (!isAuthorityPrefix(i.hrn, s.hrn)) throw new GeniCredentialError(`${what}: issuer ${i.urn} is not an authority for ${s.urn}`);
}

/**
 * Verifies that `leaf` chains to one of `anchors` (§9.3 items 3, 4): each certificate signed by the next, every
 * issuer CA:TRUE and an authority whose HRN is an authority prefix of its subject's (SFA namespace rule), every
 * certificate valid at `now` ± 60 s. Issuers are looked up among `pool` (the GID's own chain, the signature's
 * X509Data, the roots' intermediates); a leaf equal to an anchor is trusted as is.
 *
 * @returns the chain from `leaf` to the anchor (both included).
 * @throws GeniCredentialError naming `what` and the reason.
 */
export function verifyChain(
  leaf: X509Certificate,
  pool: readonly X509Certificate[],
  anchors: readonly TrustAnchor[],
  now: Date,
  what: string,
): X509Certificate[] {
  const chain: X509Certificate[] = [leaf];
  let cur = leaf;
  for (let depth = 0; depth <= MAX_CHAIN; depth++) {
    assertValid(cur, now, what);
    if (anchors.some((a) => a.certificate.fingerprint256 === cur.fingerprint256)) return chain;
    const anchor = anchors.find((a) => signedBy(cur, a.certificate));
    if (anchor) {
      assertValid(anchor.certificate, now, `${what} trusted root`);
      assertMayIssue(anchor.certificate, cur, what);
      chain.push(anchor.certificate);
      return chain;
    }
    const issuer = pool.find((c) => c.fingerprint256 !== cur.fingerprint256 && signedBy(cur, c));
    if (!issuer) {
      throw new GeniCredentialError(`${what} certificate ${describeCertificate(cur)} is not signed by a trusted root or by an issuer that chains to one`);
    }
    assertMayIssue(issuer, cur, what);
    chain.push(issuer);
    cur = issuer;
  }
  throw new GeniCredentialError(`${what}: certificate chain longer than ${MAX_CHAIN}`);
}

/** True when `issuer` signed `subject` (issuer name matches and the signature verifies with its key). */
export function isSignedBy(subject: X509Certificate, issuer: X509Certificate): boolean {
  return signedBy(subject, issuer);
}

/**
 * The signing certificate among a signature's X509Data certificates: the one that issued none of the others (GCF
 * puts the signer first, then its chain; xmlsec1 picks the same leaf). @throws GeniCredentialError when there is no
 * single such certificate.
 */
export function signerOf(certs: readonly X509Certificate[], what: string): X509Certificate {
  const leaves = certs.filter((c) => !certs.some((o) => o !== c && o.fingerprint256 !== c.fingerprint256 && o.checkIssued(c)));
  const distinct = [...new Map(leaves.map((c) => [c.fingerprint256, c])).values()];
  if (distinct.length !== 1) throw new GeniCredentialError(`${what}: cannot tell the signing certificate among ${certs.length} (${distinct.length} leaves)`);
  return distinct[0]!;
}
