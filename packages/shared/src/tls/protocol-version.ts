/**
 * The lowest TLS version a listener accepts (`tls.minVersion` in both daemons' options; docs/security.md
 * "Legacy TLS"). TLS 1.2 by default; TLS 1.0 is an explicit opt-in for OCF clearinghouses whose transport speaks
 * nothing newer (Expedient's M2Crypto `SSL_Transport(Context(protocol='tlsv1'))`).
 */
import { z } from 'zod';

/** The versions `tls.minVersion` may name. */
export const tlsMinVersionSchema = z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
export type TlsMinVersion = z.infer<typeof tlsMinVersionSchema>;

/** True when `version` is below TLS 1.2 (a legacy opt-in, warned about at start). */
export function isLegacyTlsVersion(version: TlsMinVersion): boolean {
  return version === 'TLSv1' || version === 'TLSv1.1';
}

/**
 * Secure-context options for `minVersion`, to pass to every `createServer`/`setSecureContext` of a listener (a
 * secure context carries them, so a reload must pass them again). OpenSSL 3 refuses TLS 1.0 and 1.1 at its default
 * security level (their handshakes sign with SHA-1), so a legacy version also lowers the level to 0 for that listener.
 */
export function protocolContextOptions(minVersion: TlsMinVersion = 'TLSv1.2'): { minVersion: TlsMinVersion; ciphers?: string } {
  return isLegacyTlsVersion(minVersion) ? { minVersion, ciphers: 'DEFAULT:@SECLEVEL=0' } : { minVersion };
}
