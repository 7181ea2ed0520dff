/**
 * What an operator may add to the GENI trusted roots (`vtctl geni trust add`; docs/geni-v3.md §9.1, §9.4): a PEM
 * authority certificate (CA:TRUE, an `urn:publicid:IDN+<authority>+authority+<kind>` URI in subjectAltName, valid
 * now), optionally followed by its issuers; and the file name it is stored under. Pure.
 */
import { X509Certificate } from 'node:crypto';
import { InputError, parseUrn } from '@kvm-crm/shared';
import { urnOfCertificate } from './gid-chain.js';

/** Largest PEM text accepted, in bytes. */
export const MAX_TRUSTED_ROOT_PEM_BYTES = 64 * 1024;
const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A checked root: the normalised PEM to store, its anchor and the file name derived from its URN. */
export interface TrustedRootCandidate {
  /** The certificates as PEM, anchor first, nothing else (text around the PEM blocks is dropped). */
  pem: string;
  anchor: X509Certificate;
  /** `urn:publicid:IDN+…+authority+…`. */
  urn: string;
  /** `<authority with : as .>-<kind>.gid`, e.g. `ch.geni.net-ca.gid`, `kvmcrm-test-sa.gid`. */
  fileName: string;
}

/**
 * Checks a PEM text for `vtctl geni trust add`.
 * @throws InputError when it holds no certificate or an unreadable one, is too large, or its first certificate is
 *   not CA:TRUE, has no authority URN, or is not valid at `now`.
 */
export function checkTrustedRootPem(text: string, now: Date = new Date()): TrustedRootCandidate {
  if (typeof text !== 'string' || text.length === 0) throw new InputError('the certificate text is empty');
  if (Buffer.byteLength(text, 'utf8') > MAX_TRUSTED_ROOT_PEM_BYTES) throw new InputError(`the certificate text is larger than ${MAX_TRUSTED_ROOT_PEM_BYTES} bytes`);
  const blocks = text.match(PEM_CERT_RE) ?? [];
  if (blocks.length === 0) throw new InputError('no PEM certificate (-----BEGIN CERTIFICATE-----) in the text');
  let certs: X509Certificate[];
  try {
    certs = blocks.map((b) => new X509Certificate(b));
  } catch {
    throw new InputError('a certificate in the text cannot be read');
  }
  const anchor = certs[0]!;
  if (!anchor.ca) throw new InputError(`certificate ${anchor.subject.replace(/\n/g, ', ')} is not a CA (basicConstraints CA:TRUE required)`);
  const urn = urnOfCertificate(anchor);
  if (!urn) throw new InputError('the certificate has no urn:publicid:IDN URI in its subjectAltName');
  let authority: string;
  let type: string;
  try {
    ({ authority, type } = parseUrn(urn));
  } catch {
    throw new InputError(`the certificate URN ${JSON.stringify(urn.slice(0, 200))} is not a GENI URN`);
  }
  if (!type.startsWith('authority+')) throw new InputError(`the certificate URN ${urn} is not an authority URN (…+authority+sa|ca|ma|cm)`);
  const t = now.getTime();
  if (new Date(anchor.validTo).getTime() < t) throw new InputError(`the certificate ${urn} expired at ${new Date(anchor.validTo).toISOString()}`);
  if (new Date(anchor.validFrom).getTime() > t) throw new InputError(`the certificate ${urn} is not valid before ${new Date(anchor.validFrom).toISOString()}`);
  return { pem: certs.map((c) => c.toString().trim()).join('\n') + '\n', anchor, urn, fileName: rootFileName(authority, type) };
}

/** `<authority with : as .>-<kind>.gid`, characters outside `[A-Za-z0-9._-]` as `_`, at most 100 characters. */
export function rootFileName(authority: string, type: string): string {
  const kind = type.slice('authority+'.length);
  const base = `${authority.replaceAll(':', '.')}-${kind}`.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 96);
  return `${base || 'authority'}.gid`;
}
