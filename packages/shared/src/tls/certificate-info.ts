/**
 * What a certificate says about its holder: the component roles written as the subject OU, and
 * {@link describeCertificate}, which reads a PEM certificate's identity fields with Node's X509Certificate.
 */
import { X509Certificate } from 'node:crypto';
import { InputError } from '../errors.js';

/**
 * The component a certificate belongs to, written as the subject's OU: `manager` (vt-manager, server and client of
 * agents), `agent` (oxad-agent, CN = its registered server name), `clearinghouse` (a callback endpoint), `admin`
 * (an operator's client certificate), `metrics` (a Prometheus scraper's client certificate: `/metrics` only).
 */
export type CertificateRole = 'manager' | 'agent' | 'clearinghouse' | 'admin' | 'metrics';
/** Every {@link CertificateRole}. */
export const CERTIFICATE_ROLES: readonly CertificateRole[] = ['manager', 'agent', 'clearinghouse', 'admin', 'metrics'];

/** True when `s` is a {@link CertificateRole}. */
export function isCertificateRole(s: unknown): s is CertificateRole {
  return typeof s === 'string' && (CERTIFICATE_ROLES as readonly string[]).includes(s);
}

/** What a certificate says, as {@link describeCertificate} reads it. Dates are Date objects (UTC). */
export interface CertificateInfo {
  commonName: string;
  /** The subject OU when it is a known role. */
  role?: CertificateRole;
  dnsNames: string[];
  ipAddresses: string[];
  /** Serial, normalised (lower-case hex, no leading zeros). */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** Issuer DN, e.g. `CN=kvm-crm CA\nO=kvm-crm` as Node prints it. */
  issuer: string;
  /** SHA-256 fingerprint, `AA:BB:…`. */
  fingerprint256: string;
}

/**
 * Reads the identity fields of a PEM certificate (the first one in the text).
 * @throws InputError when the text is not a PEM certificate.
 */
export function describeCertificate(certPem: string): CertificateInfo {
  let x: X509Certificate;
  try {
    x = new X509Certificate(certPem);
  } catch (err) {
    throw new InputError(`not a PEM certificate: ${(err as Error).message}`);
  }
  const subject = Object.fromEntries(x.subject.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const sans = (x.subjectAltName ?? '').split(', ').filter(Boolean);
  const role = subject.OU;
  return {
    commonName: subject.CN ?? '',
    ...(isCertificateRole(role) ? { role } : {}),
    dnsNames: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    ipAddresses: sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice(11)),
    serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    issuer: x.issuer,
    fingerprint256: x.fingerprint256,
  };
}
