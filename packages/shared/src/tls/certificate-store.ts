/**
 * The CA folder that `vtctl certs` manages:
 *
 * ```
 * ca.crt ca.key            the CA (key 0600)
 * <name>.crt <name>.key    issued certificates (keys 0600); `agent-<server>` for agents, `manager` for the manager
 * crl.pem                  the CA's CRL, re-signed on every revocation (daemons watch it)
 * index.json               every certificate ever issued here: name, role, CN, SANs, serial, validity, revocation
 * ```
 *
 * Every file is written atomically (temporary file, fsync, rename). `index.json` is the revocation database (like
 * OpenSSL's `index.txt`); certificates found in the folder without an entry (issued before the index existed) are
 * adopted when they are signed by the CA. One admin process at a time is assumed (no lock).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { writeFileAtomic } from '../atomic-file.js';
import { createCertificateAuthority, issueCertificate, writePemPair, type CertificateUsage, type PemPair } from './certificate-authority.js';
import { describeCertificate, isCertificateRole, CERTIFICATE_ROLES, type CertificateRole } from './certificate-info.js';
import { createCrl, normaliseSerial, REVOCATION_REASONS, type RevocationReason } from './crl.js';

/** One certificate issued from the folder's CA, as kept in `index.json` and shown by `vtctl certs list`. */
export interface StoredCertificate {
  /** File stem: `<name>.crt` / `<name>.key`. */
  name: string;
  role?: CertificateRole;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  usage: CertificateUsage;
  /** Lower-case hex, no leading zeros. */
  serial: string;
  /** ISO 8601. */
  notBefore: string;
  /** ISO 8601. */
  notAfter: string;
  /** True for the certificate now in `<name>.crt`; false once rotated or re-issued. */
  current: boolean;
  /** Set once revoked (listed in the CRL). */
  revoked?: { at: string; reason: RevocationReason };
}

interface IndexFile {
  version: 1;
  /** Last CRL number written. */
  crlNumber: number;
  /** Days each CRL is valid (nextUpdate − thisUpdate). */
  crlValidityDays: number;
  certificates: StoredCertificate[];
}

/** Options of {@link CertificateStore.issue}. */
export interface StoreIssueOptions {
  role: CertificateRole;
  /** Subject CN. Default: the name. */
  commonName?: string;
  /** DNS SANs. Default: the CN. Agents always get their CN as a DNS SAN. */
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Default by role: manager, agent → server+client; clearinghouse → server; admin, metrics → client. */
  usage?: CertificateUsage;
  /** Validity in days. Default 825. */
  validityDays?: number;
  /** Replace an existing current certificate of that name (it stays valid unless revoked). Default false. */
  replace?: boolean;
}

/** Default extended key usage of each role. */
export const ROLE_USAGE: Record<CertificateRole, CertificateUsage> = {
  manager: 'server+client',
  agent: 'server+client',
  clearinghouse: 'server',
  admin: 'client',
  metrics: 'client',
};

const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 24 * 3600 * 1000;

/**
 * The CA folder of `vtctl certs` (see the module comment): issues, lists and revokes certificates, keeps
 * `index.json` and re-signs `crl.pem`. Errors: InputError, NotFoundError, ConflictError as each method says.
 */
export class CertificateStore {
  /** `ca.crt` */
  readonly caFile: string;
  /** `ca.key` */
  readonly caKeyFile: string;
  /** `crl.pem` */
  readonly crlFile: string;
  /** `index.json` */
  readonly indexFile: string;

  /** A store over folder `dir` (nothing is read or written yet). */
  constructor(readonly dir: string) {
    this.caFile = path.join(dir, 'ca.crt');
    this.caKeyFile = path.join(dir, 'ca.key');
    this.crlFile = path.join(dir, 'crl.pem');
    this.indexFile = path.join(dir, 'index.json');
  }

  /** True when the folder holds a CA certificate and key. */
  hasCa(): boolean {
    return existsSync(this.caFile) && existsSync(this.caKeyFile);
  }

  /**
   * Creates the CA (unless the folder has one), the index and the CRL (unless present).
   * @param options.crlValidityDays days each CRL is valid, default 365 (kept in the index for later CRLs).
   * @returns whether a new CA was created.
   */
  initCa(options: { commonName?: string; validityDays?: number; crlValidityDays?: number } = {}): { created: boolean } {
    let created = false;
    if (!this.hasCa()) {
      writePemPair(this.dir, 'ca', createCertificateAuthority({ commonName: options.commonName, validityDays: options.validityDays }));
      created = true;
    }
    const index = this.readIndex();
    if (options.crlValidityDays !== undefined) index.crlValidityDays = this.checkDays(options.crlValidityDays);
    if (created || !existsSync(this.crlFile) || options.crlValidityDays !== undefined) this.writeCrl(index);
    else this.writeIndex(index);
    return { created };
  }

  /**
   * Issues a certificate named `name` (file stem) with a role, and writes `<name>.key` (0600) and `<name>.crt`.
   * @throws InputError for a bad name, role or SAN; ConflictError when `name` exists and `replace` is not set;
   *   NotFoundError when the folder has no CA.
   */
  issue(name: string, options: StoreIssueOptions): StoredCertificate {
    if (name === 'ca' || name === 'crl' || name === 'index') throw new InputError(`${JSON.stringify(name)} is reserved`);
    if (!isCertificateRole(options.role)) throw new InputError(`unknown role ${JSON.stringify(options.role)}: ${CERTIFICATE_ROLES.join(', ')}`);
    const ca = this.readCa();
    const index = this.readIndex();
    const existing = index.certificates.find((c) => c.name === name && c.current);
    if (existing && !options.replace) throw new ConflictError(`a certificate named ${name} exists (serial ${existing.serial}): rotate it, or issue with replace`);
    const commonName = options.commonName ?? name;
    let dnsNames = options.dnsNames?.length ? [...options.dnsNames] : [commonName];
    if (options.role === 'agent' && !dnsNames.includes(commonName)) dnsNames = [commonName, ...dnsNames];
    const usage = options.usage ?? ROLE_USAGE[options.role];
    const pair = issueCertificate(ca, { commonName, role: options.role, dnsNames, ipAddresses: options.ipAddresses ?? [], usage, validityDays: options.validityDays });
    writePemPair(this.dir, name, pair);
    const entry = this.entryFor(name, pair.certPem, usage);
    for (const c of index.certificates) if (c.name === name) c.current = false;
    index.certificates.push(entry);
    this.writeIndex(index);
    return entry;
  }

  /**
   * Certificates of the folder, oldest first: the current ones, or with `all` also rotated ones. Certificates
   * in the folder that the index does not know yet are adopted first.
   */
  list(options: { all?: boolean } = {}): StoredCertificate[] {
    const index = this.readIndex();
    return index.certificates.filter((c) => options.all || c.current);
  }

  /**
   * Revokes the current certificate named `nameOrSerial`, or the certificate with that serial (any hex form), and
   * re-signs the CRL. @throws NotFoundError when nothing matches; ConflictError when it is already revoked;
   * InputError for an unknown reason.
   */
  revoke(nameOrSerial: string, reason: RevocationReason = 'unspecified'): StoredCertificate {
    if (!(reason in REVOCATION_REASONS)) throw new InputError(`unknown reason ${JSON.stringify(reason)}: ${Object.keys(REVOCATION_REASONS).join(', ')}`);
    const index = this.readIndex();
    let target = index.certificates.find((c) => c.name === nameOrSerial && c.current);
    if (!target && /^[0-9A-Fa-f:]+$/.test(nameOrSerial)) {
      const serial = normaliseSerial(nameOrSerial);
      target = index.certificates.find((c) => c.serial === serial);
    }
    if (!target) throw new NotFoundError(`no certificate named or with serial ${JSON.stringify(nameOrSerial)} in ${this.dir}`);
    if (target.revoked) throw new ConflictError(`certificate ${target.name} (serial ${target.serial}) was already revoked at ${target.revoked.at}`);
    target.revoked = { at: new Date().toISOString(), reason };
    this.writeCrl(index);
    return target;
  }

  /**
   * Replaces certificate `name` by a new key and certificate with the same role, CN, SANs and usage (validity
   * `validityDays`, default 825), written atomically; running daemons pick them up without a restart. The old
   * certificate stays valid (connections made with it go on) unless `revokeOld`, which revokes it as `superseded`.
   * @throws NotFoundError when there is no current certificate `name`.
   */
  rotate(name: string, options: { validityDays?: number; revokeOld?: boolean } = {}): { previous: StoredCertificate; current: StoredCertificate } {
    const ca = this.readCa();
    const index = this.readIndex();
    const previous = index.certificates.find((c) => c.name === name && c.current);
    if (!previous) throw new NotFoundError(`no current certificate named ${JSON.stringify(name)} in ${this.dir}`);
    const pair = issueCertificate(ca, {
      commonName: previous.commonName, ...(previous.role ? { role: previous.role } : {}), dnsNames: previous.dnsNames,
      ipAddresses: previous.ipAddresses, usage: previous.usage, validityDays: options.validityDays,
    });
    writePemPair(this.dir, name, pair);
    const current = this.entryFor(name, pair.certPem, previous.usage);
    previous.current = false;
    index.certificates.push(current);
    if (options.revokeOld) {
      previous.revoked = { at: new Date().toISOString(), reason: 'superseded' };
      this.writeCrl(index);
    } else {
      this.writeIndex(index);
    }
    return { previous, current };
  }

  /**
   * Re-signs the CRL (new number, thisUpdate now, nextUpdate in `validityDays`, default as configured at init or
   * 365) listing every revoked certificate. Do it before the current CRL's nextUpdate.
   * @returns the CRL file, its number and how many serials it lists.
   */
  refreshCrl(validityDays?: number): { file: string; crlNumber: number; revoked: number; nextUpdate: string } {
    const index = this.readIndex();
    if (validityDays !== undefined) index.crlValidityDays = this.checkDays(validityDays);
    this.writeCrl(index);
    return {
      file: this.crlFile, crlNumber: index.crlNumber, revoked: index.certificates.filter((c) => c.revoked).length,
      nextUpdate: new Date(Date.now() + index.crlValidityDays * DAY_MS).toISOString(),
    };
  }

  /** The CA certificate and key. @throws NotFoundError when the folder has none. */
  readCa(): PemPair {
    if (!this.hasCa()) throw new NotFoundError(`no CA in ${this.dir} (ca.crt and ca.key): run \`vtctl certs init\` first`);
    return { certPem: readFileSync(this.caFile, 'utf8'), keyPem: readFileSync(this.caKeyFile, 'utf8') };
  }

  private checkDays(days: number): number {
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new InputError(`CRL validity must be 1..3650 days, not ${days}`);
    return days;
  }

  private entryFor(name: string, certPem: string, usage: CertificateUsage): StoredCertificate {
    const info = describeCertificate(certPem);
    return {
      name, ...(info.role ? { role: info.role } : {}), commonName: info.commonName, dnsNames: info.dnsNames, ipAddresses: info.ipAddresses,
      usage, serial: info.serial, notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString(), current: true,
    };
  }

  private readIndex(): IndexFile {
    let index: IndexFile = { version: 1, crlNumber: 0, crlValidityDays: 365, certificates: [] };
    if (existsSync(this.indexFile)) {
      try {
        index = JSON.parse(readFileSync(this.indexFile, 'utf8')) as IndexFile;
      } catch (err) {
        throw new InputError(`${this.indexFile}: not valid JSON: ${(err as Error).message}`);
      }
      if (index.version !== 1 || !Array.isArray(index.certificates)) throw new InputError(`${this.indexFile}: unknown format`);
    }
    this.adopt(index);
    return index;
  }

  /** Adds to `index` the CA-signed certificates of the folder it does not know (issued before the index). */
  private adopt(index: IndexFile): void {
    if (!existsSync(this.caFile) || !existsSync(this.dir)) return;
    const ca = new X509Certificate(readFileSync(this.caFile));
    const known = new Set(index.certificates.map((c) => c.serial));
    for (const file of readdirSync(this.dir).filter((f) => f.endsWith('.crt') && f !== 'ca.crt').sort()) {
      const name = file.slice(0, -4);
      let x: X509Certificate;
      try {
        x = new X509Certificate(readFileSync(path.join(this.dir, file)));
      } catch {
        continue; // not a certificate: nothing to adopt (the file is left alone; `list` never showed it either)
      }
      if (!x.checkIssued(ca) || !x.verify(ca.publicKey)) continue;
      const pem = x.toString();
      const serial = describeCertificate(pem).serial;
      if (known.has(serial)) continue;
      const eku = x.keyUsage ?? [];
      const server = eku.includes(OID_SERVER_AUTH);
      const client = eku.includes(OID_CLIENT_AUTH);
      const usage: CertificateUsage = server && client ? 'server+client' : client ? 'client' : 'server';
      for (const c of index.certificates) if (c.name === name) c.current = false;
      index.certificates.push(this.entryFor(name, pem, usage));
      known.add(serial);
    }
  }

  private writeIndex(index: IndexFile): void {
    writeFileAtomic(this.indexFile, JSON.stringify(index, null, 2) + '\n', 0o644);
  }

  /** Writes the CRL (next number) and then the index. */
  private writeCrl(index: IndexFile): void {
    const ca = this.readCa();
    index.crlNumber += 1;
    const revoked = index.certificates
      .flatMap((c) => (c.revoked ? [{ serial: c.serial, revokedAt: new Date(c.revoked.at), reason: c.revoked.reason }] : []));
    const crl = createCrl(ca, revoked, { crlNumber: index.crlNumber, validityDays: index.crlValidityDays });
    writeFileAtomic(this.crlFile, crl, 0o644);
    this.writeIndex(index);
  }
}
