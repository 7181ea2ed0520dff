/**
 * The project's own certificate authority, with node-forge: create a CA, issue server/client certificates that
 * carry the component's role, write them atomically with safe permissions. Key pairs come from Node's crypto
 * (native RSA key generation, seconds faster than forge's pure-JS one); certificates are built and signed by
 * node-forge, loaded by the first certificate made (forge-loader.ts), not at import. Roles and reading a
 * certificate: `certificate-info.ts`; CRLs: `crl.ts`; the CA folder managed by `vtctl certs`: `certificate-store.ts`;
 * reloadable TLS material for the daemons: `reloadable-tls.ts`; peer checks: `peer-identity.ts`.
 * The folder's public face is `index.ts`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type forge from 'node-forge';
import { writeFileAtomic } from '../atomic-file.js';
import { InputError } from '../errors.js';
import { isCertificateRole, type CertificateRole } from './certificate-info.js';
import { forgeFull } from './forge-loader.js';

/** A certificate and its private key, PEM-encoded. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** Options of {@link createCertificateAuthority}. */
export interface CaOptions {
  /** Subject CN. Default `kvm-crm CA`. */
  commonName?: string;
  /** Validity in days. Default 3650. */
  validityDays?: number;
}

/** What a certificate is for: TLS server, TLS client, or both (extended key usage). */
export type CertificateUsage = 'server' | 'client' | 'server+client';

/** Options of {@link issueCertificate}. */
export interface IssueOptions {
  /** Subject CN: the component's registered name (e.g. the server name of an agent). */
  commonName: string;
  /**
   * The component role, written as the subject OU. Peers check it: agents accept only `manager` clients, the
   * manager's `/xmlrpc/agent` only `agent` clients. Omitted: no OU (such a certificate passes no role check).
   */
  role?: CertificateRole;
  /** subjectAltName DNS names. */
  dnsNames?: string[];
  /** subjectAltName IP addresses (IPv4 or IPv6 text). */
  ipAddresses?: string[];
  usage: CertificateUsage;
  /** Validity in days. Default 825 (the CA/B Forum maximum for server certificates). */
  validityDays?: number;
}

const RSA_BITS = 2048;

function newKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: RSA_BITS,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const lib = forgeFull();
  const forgeKey = lib.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: lib.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), keyPem: privateKey };
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60 * 1000); // tolerate small clock skew
  cert.validity.notAfter = new Date(now.getTime() + days * 24 * 3600 * 1000);
}

/** Creates a self-signed CA certificate (basicConstraints CA:true, keyCertSign, cRLSign). */
export function createCertificateAuthority(options: CaOptions = {}): PemPair {
  const lib = forgeFull();
  const keys = newKeyPair();
  const cert = lib.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, options.validityDays ?? 3650);
  const attrs = [{ name: 'commonName', value: options.commonName ?? 'kvm-crm CA' }, { name: 'organizationName', value: 'kvm-crm' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, lib.md.sha256.create());
  return { certPem: lib.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/**
 * Issues a certificate signed by `ca` for `options.commonName`, with the given role (subject OU), subjectAltNames
 * and usage. A fresh 2048-bit RSA key each time; a random positive 127-bit serial.
 * @throws InputError when the CN is empty, the role unknown, or an IP SAN is not an address.
 */
export function issueCertificate(ca: PemPair, options: IssueOptions): PemPair {
  if (!options.commonName) throw new InputError('certificate common name is empty');
  if (options.role !== undefined && !isCertificateRole(options.role)) throw new InputError(`unknown certificate role ${JSON.stringify(options.role)}`);
  const lib = forgeFull();
  const caCert = lib.pki.certificateFromPem(ca.certPem);
  const caKey = lib.pki.privateKeyFromPem(ca.keyPem);
  const keys = newKeyPair();
  const cert = lib.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, options.validityDays ?? 825);
  cert.setSubject([
    { name: 'commonName', value: options.commonName },
    { name: 'organizationName', value: 'kvm-crm' },
    ...(options.role ? [{ name: 'organizationalUnitName', value: options.role }] : []),
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames: Array<{ type: number; value?: string; ip?: string }> = [];
  for (const dns of options.dnsNames ?? []) altNames.push({ type: 2, value: dns });
  for (const ip of options.ipAddresses ?? []) {
    if (!/^[0-9a-fA-F:.]+$/.test(ip)) throw new InputError(`not an IP address: ${JSON.stringify(ip)}`);
    altNames.push({ type: 7, ip });
  }
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: 'extKeyUsage',
      serverAuth: options.usage !== 'client',
      clientAuth: options.usage !== 'server',
    },
    ...(altNames.length ? [{ name: 'subjectAltName', altNames }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, lib.md.sha256.create());
  return { certPem: lib.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/**
 * Writes `<dir>/<name>.key` (mode 0600) then `<dir>/<name>.crt` (mode 0644), each atomically
 * ({@link writeFileAtomic}), so a daemon reloading them sees whole files; the folder is created 0755 if missing.
 * Between the two renames the key is new and the certificate old: reloaders check that they match and retry.
 * `name` must be a plain file stem. @throws InputError for a name with path separators; fs errors.
 */
export function writePemPair(dir: string, name: string, pair: PemPair): { certFile: string; keyFile: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new InputError(`invalid certificate file name ${JSON.stringify(name)}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  writeFileAtomic(keyFile, pair.keyPem, 0o600);
  writeFileAtomic(certFile, pair.certPem, 0o644);
  return { certFile, keyFile };
}
