/**
 * X.509 certificate revocation lists (RFC 5280 §5), built and read with node-forge's ASN.1 module.
 *
 * Why a hand-built CRL: node-forge (our CA library) has no CRL builder, and Node's crypto can load a CRL into a TLS
 * secure context (`crl` option) but cannot make one. The alternatives were `@peculiar/x509` or `pkijs`, both
 * maintained, but each pulls in a second ASN.1 stack (and `reflect-metadata`/`tsyringe` for @peculiar) to write one
 * small, fixed structure. A v2 CRL is ~60 lines of DER over forge's mature `asn1` encoder (already a dependency), and
 * the real consumer, OpenSSL inside Node's TLS, checks it on every handshake: our tests load it into
 * `tls.createSecureContext` and assert that revoked peers are refused, both ways.
 *
 * What we write: version v2, sha256WithRSAEncryption, the CA's subject as issuer, thisUpdate/nextUpdate,
 * one entry per revoked serial (with its revocation date and, unless `unspecified`, a reasonCode entry extension),
 * and the CRL extensions cRLNumber and authorityKeyIdentifier (both required of conforming CAs by RFC 5280).
 * The signature is made with Node's crypto (PKCS#1 v1.5), the same algorithm forge uses for our certificates.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import type Forge from 'node-forge';
import { InputError } from '../errors.js';
import { forgeAsn1, forgeFull } from './forge-loader.js';

// node-forge is loaded by the first call that needs it (forge-loader.ts): reading a CRL loads its ASN.1 and PEM
// parts only, making one loads the whole library.
let forge: typeof Forge;
let asn1: typeof Forge.asn1;
function useForge(full: boolean): void {
  forge = full ? forgeFull() : forgeAsn1(); // idempotent: require's cache
  asn1 = forge.asn1;
}

/** CRL reason codes (RFC 5280 §5.3.1), by name; the value is the ENUMERATED code. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  caCompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
} as const;
/** A reason name accepted by {@link createCrl}. */
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** One revoked certificate. */
export interface RevokedCertificate {
  /** Certificate serial number, hex (any case, leading zeros allowed). */
  serial: string;
  /** When it was revoked. */
  revokedAt: Date;
  /** Default `unspecified` (then no reasonCode extension is written, as RFC 5280 recommends). */
  reason?: RevocationReason;
}

/** Options of {@link createCrl}. */
export interface CrlOptions {
  /** Monotonically increasing CRL number (cRLNumber extension). Must be ≥ 0. */
  crlNumber: number;
  /**
   * Days until nextUpdate. OpenSSL refuses every peer once a loaded CRL is past its nextUpdate
   * (`CRL_HAS_EXPIRED`), so the CRL must be re-signed before then (`vtctl certs crl`). Default 365.
   */
  validityDays?: number;
  /** thisUpdate. Default now. */
  now?: Date;
}

/** A CRL as read by {@link parseCrl}. */
export interface ParsedCrl {
  /** Issuer distinguished name, as `CN=…, O=…` (for messages). */
  issuer: string;
  thisUpdate: Date;
  /** Absent when the CRL has none (we always write one). */
  nextUpdate?: Date;
  /** cRLNumber, when present. */
  crlNumber?: number;
  /** Revoked serials, normalised with {@link normaliseSerial}. */
  revoked: Array<{ serial: string; revokedAt: Date; reason: RevocationReason }>;
}

const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const OID_CRL_NUMBER = '2.5.29.20';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_REASON_CODE = '2.5.29.21';

/**
 * A serial number as one canonical string: lower-case hex without leading zeros (`"0"` for zero). Node's
 * `PeerCertificate.serialNumber` is upper case and may drop a leading zero nibble; forge keeps them.
 * @throws InputError when `serial` is not hex.
 */
export function normaliseSerial(serial: string): string {
  const s = serial.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(s)) throw new InputError(`not a hex serial number: ${JSON.stringify(serial.slice(0, 80))}`);
  return s.replace(/^0+(?=.)/, '');
}

const seq = (items: Forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const oid = (o: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(o).getBytes());
const octets = (bytes: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);

/** A DER INTEGER from a non-negative number given in hex (a leading 0x00 keeps it positive). */
function integerFromHex(hex: string): Forge.asn1.Asn1 {
  let h = normaliseSerial(hex);
  if (h.length % 2) h = `0${h}`;
  if (parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, forge.util.hexToBytes(h));
}

/** Time as RFC 5280 wants it: UTCTime through 2049, GeneralizedTime from 2050. */
function time(d: Date): Forge.asn1.Asn1 {
  return d.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

function readTime(node: Forge.asn1.Asn1): Date {
  const v = node.value as string;
  return node.type === asn1.Type.UTCTIME ? asn1.utcTimeToDate(v) : asn1.generalizedTimeToDate(v);
}

function extension(id: string, value: Forge.asn1.Asn1): Forge.asn1.Asn1 {
  return seq([oid(id), octets(asn1.toDer(value).getBytes())]);
}

const toPem = (der: string) => forge.pem.encode({ type: 'X509 CRL', body: der }, { maxline: 64 }).replace(/\r\n/g, '\n');

/**
 * Builds a CRL signed by `ca` listing `revoked`, PEM-encoded (`-----BEGIN X509 CRL-----`).
 * @throws InputError for a bad serial, a negative CRL number or a CA key that does not match the CA certificate.
 */
export function createCrl(ca: { certPem: string; keyPem: string }, revoked: RevokedCertificate[], options: CrlOptions): string {
  if (!Number.isSafeInteger(options.crlNumber) || options.crlNumber < 0) throw new InputError(`bad CRL number ${options.crlNumber}`);
  useForge(true);
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const x509 = new X509Certificate(ca.certPem);
  let caKey;
  try {
    caKey = createPrivateKey(ca.keyPem);
  } catch (err) {
    throw new InputError(`the CA key cannot be read: ${(err as Error).message}`);
  }
  if (!x509.checkPrivateKey(caKey)) throw new InputError('the CA key does not match the CA certificate');
  const now = options.now ?? new Date();
  const next = new Date(now.getTime() + (options.validityDays ?? 365) * 24 * 3600 * 1000);
  const algorithm = seq([oid(OID_SHA256_WITH_RSA), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]);

  const entries = revoked.map((r) => {
    const reason = r.reason ?? 'unspecified';
    if (!(reason in REVOCATION_REASONS)) throw new InputError(`unknown revocation reason ${JSON.stringify(reason)}`);
    const fields = [integerFromHex(r.serial), time(r.revokedAt)];
    if (reason !== 'unspecified') {
      const code = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.ENUMERATED, false, String.fromCharCode(REVOCATION_REASONS[reason]));
      fields.push(seq([extension(OID_REASON_CODE, code)]));
    }
    return seq(fields);
  });
  const keyId = caCert.generateSubjectKeyIdentifier().getBytes();
  const crlExtensions = seq([
    extension(OID_CRL_NUMBER, integerFromHex(options.crlNumber.toString(16))),
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
    extension(OID_AUTHORITY_KEY_ID, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, keyId)])),
  ]);
  const tbs = seq([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(1).getBytes()), // v2
    algorithm,
    forge.pki.distinguishedNameToAsn1(caCert.subject),
    time(now),
    time(next),
    ...(entries.length ? [seq(entries)] : []),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [crlExtensions]),
  ]);
  const tbsDer = asn1.toDer(tbs).getBytes();
  const signature = cryptoSign('sha256', Buffer.from(tbsDer, 'binary'), caKey);
  const crl = seq([tbs, algorithm, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\x00${signature.toString('binary')}`)]);
  return toPem(asn1.toDer(crl).getBytes());
}

/** The raw DER of the first element inside the outer SEQUENCE of `der` (the signed part of a CRL, byte-exact). */
function firstInnerElement(der: string): string {
  const header = (at: number): { start: number; end: number } => {
    let len = der.charCodeAt(at + 1);
    let start = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + der.charCodeAt(start + k);
      start += n;
    }
    return { start, end: start + len };
  };
  const inner = header(0).start;
  return der.slice(inner, header(inner).end);
}

/** Splits a PEM text holding several CRLs into their DER bodies. */
function crlDers(pem: string): string[] {
  useForge(false);
  const out: string[] = [];
  try {
    for (const m of forge.pem.decode(pem)) if (m.type === 'X509 CRL') out.push(m.body);
  } catch (err) {
    throw new InputError(`not a PEM CRL: ${(err as Error).message}`);
  }
  if (out.length === 0) throw new InputError('no "X509 CRL" PEM block found');
  return out;
}

/** `nodes[index]`, or an InputError naming the missing `what` (a CRL that is valid DER but not a CRL). */
function nodeAt(nodes: readonly Forge.asn1.Asn1[] | undefined, index: number, what: string): Forge.asn1.Asn1 {
  const node = nodes?.[index];
  if (node === undefined) throw new InputError(`CRL is malformed: no ${what}`);
  return node;
}

/** The children of a constructed ASN.1 node (`[]` for a primitive one). */
function children(node: Forge.asn1.Asn1): Forge.asn1.Asn1[] {
  return Array.isArray(node.value) ? node.value : [];
}

function parseOne(der: string): { parsed: ParsedCrl; tbsDer: string; signature: Buffer; algorithm: string } {
  let root: Forge.asn1.Asn1;
  try {
    // decodeBitStrings false: the signature BIT STRING stays raw bytes.
    root = (asn1.fromDer as unknown as (b: string, o: object) => Forge.asn1.Asn1)(der, { strict: true, decodeBitStrings: false });
  } catch (err) {
    throw new InputError(`CRL is not valid DER: ${(err as Error).message}`);
  }
  const top = children(root);
  const tbs = nodeAt(top, 0, 'tbsCertList');
  const fields = [...children(tbs)];
  if (fields[0]?.type === asn1.Type.INTEGER) fields.shift(); // version
  let i = 3;
  let nextUpdate: Date | undefined;
  const maybeNext = fields[i];
  if (maybeNext && (maybeNext.type === asn1.Type.UTCTIME || maybeNext.type === asn1.Type.GENERALIZEDTIME) && maybeNext.tagClass === asn1.Class.UNIVERSAL) {
    nextUpdate = readTime(maybeNext);
    i++;
  }
  const revoked: ParsedCrl['revoked'] = [];
  const maybeList = fields[i];
  if (maybeList && maybeList.tagClass === asn1.Class.UNIVERSAL && maybeList.type === asn1.Type.SEQUENCE) {
    for (const entry of maybeList.value as Forge.asn1.Asn1[]) {
      const entryFields = children(entry);
      const serialNode = nodeAt(entryFields, 0, 'serial number of a revoked certificate');
      const dateNode = nodeAt(entryFields, 1, 'revocation date');
      const extNode = entryFields[2];
      let reason: RevocationReason = 'unspecified';
      for (const ext of extNode ? children(extNode) : []) {
        const extFields = children(ext);
        if (asn1.derToOid(nodeAt(extFields, 0, 'extension id').value as string) !== OID_REASON_CODE) continue;
        const code = (asn1.fromDer(nodeAt(extFields, extFields.length - 1, 'reason code').value as string).value as string).charCodeAt(0);
        reason = (Object.entries(REVOCATION_REASONS).find(([, v]) => v === code)?.[0] as RevocationReason | undefined) ?? 'unspecified';
      }
      revoked.push({ serial: normaliseSerial(forge.util.bytesToHex(serialNode.value as string)), revokedAt: readTime(dateNode), reason });
    }
    i++;
  }
  let crlNumber: number | undefined;
  const maybeExt = fields[i];
  if (maybeExt && maybeExt.tagClass === asn1.Class.CONTEXT_SPECIFIC) {
    const extList = children(maybeExt)[0];
    for (const ext of extList ? children(extList) : []) {
      const extFields = children(ext);
      if (asn1.derToOid(nodeAt(extFields, 0, 'extension id').value as string) === OID_CRL_NUMBER) {
        crlNumber = parseInt(forge.util.bytesToHex(asn1.fromDer(nodeAt(extFields, extFields.length - 1, 'CRL number').value as string).value as string) || '0', 16);
      }
    }
  }
  const dn = children(nodeAt(fields, 1, 'issuer'))
    .map((set) => nodeAt(children(set), 0, 'issuer attribute'))
    .map((atv) => {
      const t = nodeAt(children(atv), 0, 'issuer attribute type');
      const v = nodeAt(children(atv), 1, 'issuer attribute value');
      const id = asn1.derToOid(t.value as string);
      const short = (forge.pki.oids[id] as string | undefined) ?? id;
      const name = ({ commonName: 'CN', organizationName: 'O', organizationalUnitName: 'OU', countryName: 'C' } as Record<string, string>)[short] ?? short;
      return `${name}=${String(v.value)}`;
    })
    .join(', ');
  const algorithm = asn1.derToOid(nodeAt(children(nodeAt(top, 1, 'signature algorithm')), 0, 'signature algorithm id').value as string);
  const sigBits = nodeAt(top, 2, 'signature').value as string;
  return {
    parsed: { issuer: dn, thisUpdate: readTime(nodeAt(fields, 2, 'thisUpdate')), ...(nextUpdate ? { nextUpdate } : {}), ...(crlNumber !== undefined ? { crlNumber } : {}), revoked },
    tbsDer: firstInnerElement(der),
    signature: Buffer.from(sigBits.slice(1), 'binary'),
    algorithm,
  };
}

/**
 * Reads every CRL in a PEM text (a file may hold one CRL per CA) and merges them: revoked entries of all, the
 * earliest nextUpdate, the latest thisUpdate, the highest CRL number.
 * @throws InputError when the text holds no CRL or one does not parse.
 */
export function parseCrl(pem: string): ParsedCrl {
  const parts = crlDers(pem).map((d) => parseOne(d).parsed);
  const nexts = parts.map((p) => p.nextUpdate).filter((d): d is Date => Boolean(d));
  const numbers = parts.map((p) => p.crlNumber).filter((n): n is number => n !== undefined);
  return {
    issuer: parts.map((p) => p.issuer).join(' | '),
    thisUpdate: new Date(Math.max(...parts.map((p) => p.thisUpdate.getTime()))),
    ...(nexts.length ? { nextUpdate: new Date(Math.min(...nexts.map((d) => d.getTime()))) } : {}),
    ...(numbers.length ? { crlNumber: Math.max(...numbers) } : {}),
    revoked: parts.flatMap((p) => p.revoked),
  };
}

/**
 * Checks that every CRL in `pem` is signed (sha256WithRSA) by one of the CA certificates in `caPem`.
 * @throws InputError naming the problem: no CRL, an unsupported algorithm, or a signature no CA verifies.
 */
export function assertCrlSignedBy(pem: string, caPem: string | string[]): void {
  useForge(false);
  const cas = (Array.isArray(caPem) ? caPem : [caPem]).flatMap((text) => forge.pem.decode(text).filter((m) => m.type === 'CERTIFICATE'))
    .map((m) => createPublicKey(new X509Certificate(Buffer.from(m.body, 'binary')).publicKey.export({ format: 'pem', type: 'spki' })));
  for (const der of crlDers(pem)) {
    const one = parseOne(der);
    if (one.algorithm !== OID_SHA256_WITH_RSA) throw new InputError(`CRL of ${one.parsed.issuer}: unsupported signature algorithm ${one.algorithm}`);
    const ok = cas.some((key) => cryptoVerify('sha256', Buffer.from(one.tbsDer, 'binary'), key, one.signature));
    if (!ok) throw new InputError(`CRL of ${one.parsed.issuer} is not signed by our CA`);
  }
}
