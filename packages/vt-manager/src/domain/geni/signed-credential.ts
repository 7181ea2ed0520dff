/**
 * The hardened reader of an SFA/GENI signed credential (docs/geni-v3.md §9.1 format, §9.3 checks 1 and 2).
 *
 * It does what xmlsec1 cannot: it refuses DTDs before any parser sees the bytes, bounds size, depth and element
 * count, makes sure every id in the document is unique (signature-wrapping defence), pairs each credential with the
 * signature `Sig_<refid>` whose single `Reference URI` is `#<refid>`, and reads the fields the verifier then uses
 * (owner, target, expiry, privileges, the signer's certificates) from exactly those elements. It does not check a
 * signature value: the xmlsec1 adapter does that, on the same bytes.
 *
 * Tokenising and well-formedness are `saxes`' (strict XML 1.0 + namespaces), as in `@kvm-crm/shared`'s rspec
 * reader; that reader drops prefixed attributes (`xml:id`) and namespaces, which a credential needs, hence this one.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { parseGeniTime } from '@kvm-crm/shared';
import { GeniCredentialError } from './geni-credential-error.js';
import { isUtf8EncodingName, normaliseCredentialEncoding } from './credential-encoding.js';

/** Largest credential accepted, in UTF-8 bytes (§9.3: each ≤ 256 KiB). */
export const MAX_CREDENTIAL_BYTES = 256 * 1024;
/** Deepest chain of `<parent>` delegations accepted (the credential itself is depth 0). */
export const MAX_DELEGATION_DEPTH = 8;
/** Element nesting and count limits of one credential document. */
const MAX_ELEMENT_DEPTH = 64;
const MAX_ELEMENTS = 4000;
/** Most certificates in one signature's KeyInfo (the signer and its chain; finding the signer is quadratic). */
export const MAX_SIGNATURE_CERTIFICATES = 10;

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';

/** Canonicalisation algorithms accepted (§9.3 item 2: C14N 1.0 inclusive required, exclusive accepted). */
const C14N_ALGORITHMS = new Set([
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
  'http://www.w3.org/2001/10/xml-exc-c14n#',
  'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
]);
/** Signature algorithms accepted (§9.3 item 2: rsa-sha1, what every SFA tool signs with, and rsa-sha256). */
const SIGNATURE_ALGORITHMS = new Set([
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
]);
/** Digest algorithms accepted (sha1, sha256). */
const DIGEST_ALGORITHMS = new Set(['http://www.w3.org/2000/09/xmldsig#sha1', 'http://www.w3.org/2001/04/xmlenc#sha256']);
/** Transforms accepted inside a Reference: the enveloped-signature transform and the c14n ones. */
const TRANSFORMS = new Set(['http://www.w3.org/2000/09/xmldsig#enveloped-signature', ...C14N_ALGORITHMS]);

/** One `<privilege>` of a credential. */
export interface CredentialPrivilege {
  /** Privilege name as written (`refresh`, `embed`, `*`, C-BAS `GLOBAL_…`); compared case-insensitively. */
  name: string;
  /** `<can_delegate>` is `true` (case-insensitive) or `1`. */
  canDelegate: boolean;
}

/** The `Signature` that signs one credential, as read from `<signatures>`. */
export interface CredentialSignature {
  /** `Sig_<refid>`: the value given to `xmlsec1 --node-id`. */
  id: string;
  /** Algorithm URIs of SignedInfo. */
  c14nAlgorithm: string;
  signatureAlgorithm: string;
  digestAlgorithm: string;
  /** The base64 DER bodies of `KeyInfo/X509Data/X509Certificate`, in document order (signer and its chain). */
  x509Certificates: string[];
}

/** One `<credential>` (the top one or a delegating parent) with its signature. */
export interface CredentialBody {
  /** Its `xml:id` (`ref0`, `ref1`, …). */
  refId: string;
  /** `<owner_gid>` text: PEM, the owner certificate first, optionally followed by its issuers. */
  ownerGid: string;
  ownerUrn: string;
  /** `<target_gid>` text: PEM, the target certificate first, optionally followed by its issuers. */
  targetGid: string;
  targetUrn: string;
  /** `<expires>`, parsed as UTC when it has no zone. */
  expires: Date;
  privileges: CredentialPrivilege[];
  /** The signature of this credential. */
  signature: CredentialSignature;
  /** The delegating credential (`<parent><credential>`), if any. */
  parent?: CredentialBody;
}

/** A parsed signed credential. */
export interface SignedCredential {
  /** The top-level credential; `parent` links lead to the root (undelegated) one. */
  credential: CredentialBody;
  /** Every signature id to verify, top credential first (`Sig_ref0`, then its parents'). */
  signatureIds: string[];
  /**
   * The exact text this reader accepted, its start normalised to `<?xml version="1.0" encoding="UTF-8"?>` (see
   * `credential-encoding.ts`): the only text to hand to the signature check, so that xmlsec1 reads the same tree.
   */
  text: string;
}

/** An element of the tree: local name, namespace URI, attributes by qualified name, children, direct text. */
interface Node {
  local: string;
  uri: string;
  attributes: Map<string, string>;
  children: Node[];
  text: string;
}

function fail(reason: string): never {
  throw new GeniCredentialError(reason);
}

/**
 * Reads and structurally checks one signed credential (§9.1 format; §9.3 items 1 and 2).
 *
 * Checks, in order: UTF-8 only (no declared encoding but UTF-8, no other byte order mark, no NUL or other character
 * XML forbids, no lone surrogate: `credential-encoding.ts`, decision 023); size (≤ {@link MAX_CREDENTIAL_BYTES}
 * UTF-8 bytes); no `<!DOCTYPE`/`<!ENTITY` anywhere (before any parsing, and the parser's doctype event again);
 * well-formed XML within depth/element limits, with nothing a genuine SFA credential never holds and another parser
 * might read differently: no comment, processing instruction or CDATA section, no non-whitespace text beside child
 * elements (mixed content, e.g. stray text directly under `<signed-credential>`); root `signed-credential` with exactly one `credential`
 * child and one `signatures` child; every id (`xml:id`, `Id`, `ID`, `id` attributes) unique in the document;
 * each credential (and each `parent/credential`, ≤ {@link MAX_DELEGATION_DEPTH} levels) has an `xml:id`, type
 * `privilege`, the owner/target/expires/privileges fields, and a `Signature` child of `signatures` with `xml:id`
 * `Sig_<refid>` whose SignedInfo has exactly one `Reference` with `URI="#<refid>"`, accepted algorithms (C14N 1.0,
 * rsa-sha1/rsa-sha256, sha1/sha256) and at least one `X509Certificate`. No other `Signature` may exist.
 *
 * @throws GeniCredentialError naming the first problem (never quoting the credential's content).
 */
export function parseSignedCredential(xml: string): SignedCredential {
  if (typeof xml !== 'string' || xml.length === 0) fail('the credential is empty');
  xml = normaliseCredentialEncoding(xml);
  if (xml.length > MAX_CREDENTIAL_BYTES || Buffer.byteLength(xml, 'utf8') > MAX_CREDENTIAL_BYTES) {
    fail(`the credential is larger than ${MAX_CREDENTIAL_BYTES} bytes`);
  }
  if (/<!(?:DOCTYPE|ENTITY)/i.test(xml)) fail('the credential contains a DOCTYPE or ENTITY declaration (refused)');
  const root = readTree(xml);
  if (root.local !== 'signed-credential' || root.uri !== '') fail(`the root element is <${root.local}>, not <signed-credential>`);

  const ids = new Map<string, number>();
  collectIds(root, ids);
  for (const [id, count] of ids) if (count > 1) fail(`the id ${JSON.stringify(clip(id))} occurs ${count} times (signature wrapping refused)`);

  const credentials = root.children.filter((c) => c.local === 'credential');
  const signaturesElements = root.children.filter((c) => c.local === 'signatures');
  if (credentials.length !== 1) fail(`<signed-credential> has ${credentials.length} <credential> children, not one`);
  if (signaturesElements.length !== 1) fail(`<signed-credential> has ${signaturesElements.length} <signatures> children, not one`);
  const signatures = signaturesElements[0]!.children.filter((c) => c.local === 'Signature');
  const byId = new Map<string, Node>();
  for (const s of signatures) {
    if (s.uri !== DSIG_NS) fail('a <Signature> is not in the XML-DSig namespace');
    const id = s.attributes.get('xml:id');
    if (!id) fail('a <Signature> has no xml:id');
    byId.set(id, s);
  }
  // Signatures elsewhere in the document (inside a credential, say) are never looked at by us but xmlsec1 could be
  // pointed at them by id: refuse them.
  if (countSignatures(root) !== signatures.length) fail('a <Signature> outside <signatures> (refused)');

  const signatureIds: string[] = [];
  const credential = readCredential(credentials[0]!, byId, signatureIds, 0);
  if (signatureIds.length !== signatures.length) fail(`there are ${signatures.length} signatures for ${signatureIds.length} credentials`);
  return { credential, signatureIds, text: xml };
}

function readCredential(el: Node, signatures: Map<string, Node>, signatureIds: string[], depth: number): CredentialBody {
  if (depth > MAX_DELEGATION_DEPTH) fail(`delegation deeper than ${MAX_DELEGATION_DEPTH} levels`);
  const refId = el.attributes.get('xml:id');
  if (!refId) fail('a <credential> has no xml:id');
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(refId)) fail(`credential id ${JSON.stringify(clip(refId))} is not a plain NCName`);
  const where = `credential ${refId}`;
  const type = field(el, 'type', where);
  if (type !== 'privilege') fail(`${where}: type ${JSON.stringify(clip(type))} is not "privilege"`);
  const ownerGid = field(el, 'owner_gid', where);
  const ownerUrn = field(el, 'owner_urn', where);
  const targetGid = field(el, 'target_gid', where);
  const targetUrn = field(el, 'target_urn', where);
  const expiresText = field(el, 'expires', where);
  let expires: Date;
  try {
    expires = parseGeniTime(expiresText);
  } catch {
    fail(`${where}: <expires> is not an RFC 3339 time`);
  }
  const privilegesEl = only(el, 'privileges', where);
  const privileges = privilegesEl.children
    .filter((p) => p.local === 'privilege')
    .map((p) => {
      const name = field(p, 'name', `${where} privilege`);
      const can = optionalField(p, 'can_delegate')?.toLowerCase();
      return { name, canDelegate: can === 'true' || can === '1' };
    });

  const sigId = `Sig_${refId}`;
  const sig = signatures.get(sigId);
  if (!sig) fail(`${where} has no signature ${sigId}`);
  signatureIds.push(sigId);
  const signature = readSignature(sig, sigId, refId);

  const parents = el.children.filter((c) => c.local === 'parent');
  if (parents.length > 1) fail(`${where} has ${parents.length} <parent> elements`);
  let parent: CredentialBody | undefined;
  if (parents.length === 1) {
    const inner = parents[0]!.children.filter((c) => c.local === 'credential');
    if (inner.length !== 1) fail(`${where}: <parent> holds ${inner.length} credentials, not one`);
    parent = readCredential(inner[0]!, signatures, signatureIds, depth + 1);
  }
  return { refId, ownerGid, ownerUrn, targetGid, targetUrn, expires, privileges, signature, ...(parent ? { parent } : {}) };
}

function readSignature(sig: Node, sigId: string, refId: string): CredentialSignature {
  const where = `signature ${sigId}`;
  const signedInfo = onlyNs(sig, 'SignedInfo', where);
  const c14nAlgorithm = algorithm(onlyNs(signedInfo, 'CanonicalizationMethod', where), where);
  if (!C14N_ALGORITHMS.has(c14nAlgorithm)) fail(`${where}: canonicalisation ${clip(c14nAlgorithm)} not accepted`);
  const signatureAlgorithm = algorithm(onlyNs(signedInfo, 'SignatureMethod', where), where);
  if (!SIGNATURE_ALGORITHMS.has(signatureAlgorithm)) fail(`${where}: signature algorithm ${clip(signatureAlgorithm)} not accepted`);
  const references = signedInfo.children.filter((c) => c.local === 'Reference');
  if (references.length !== 1) fail(`${where} has ${references.length} references, not one`);
  const reference = references[0]!;
  if (reference.attributes.get('URI') !== `#${refId}`) fail(`${where} does not reference #${refId}`);
  for (const t of reference.children.filter((c) => c.local === 'Transforms').flatMap((c) => c.children)) {
    const alg = algorithm(t, where);
    if (!TRANSFORMS.has(alg)) fail(`${where}: transform ${clip(alg)} not accepted`);
  }
  const digestAlgorithm = algorithm(onlyNs(reference, 'DigestMethod', where), where);
  if (!DIGEST_ALGORITHMS.has(digestAlgorithm)) fail(`${where}: digest algorithm ${clip(digestAlgorithm)} not accepted`);
  const keyInfo = sig.children.find((c) => c.local === 'KeyInfo' && c.uri === DSIG_NS);
  const x509Certificates = (keyInfo?.children ?? [])
    .filter((c) => c.local === 'X509Data' && c.uri === DSIG_NS)
    .flatMap((d) => d.children.filter((c) => c.local === 'X509Certificate' && c.uri === DSIG_NS))
    .map((c) => c.text.replace(/\s+/g, ''))
    .filter((b64) => b64 !== '');
  if (x509Certificates.length === 0) fail(`${where} carries no X509 certificate (a bare KeyValue key is never trusted)`);
  if (x509Certificates.length > MAX_SIGNATURE_CERTIFICATES) fail(`${where} carries more than ${MAX_SIGNATURE_CERTIFICATES} certificates`);
  return { id: sigId, c14nAlgorithm, signatureAlgorithm, digestAlgorithm, x509Certificates };
}

function algorithm(el: Node, where: string): string {
  const a = el.attributes.get('Algorithm');
  if (!a) fail(`${where}: <${el.local}> has no Algorithm`);
  return a;
}

function only(el: Node, name: string, where: string): Node {
  const found = el.children.filter((c) => c.local === name);
  if (found.length !== 1) fail(`${where} has ${found.length} <${name}> elements, not one`);
  return found[0]!;
}

function onlyNs(el: Node, name: string, where: string): Node {
  const n = only(el, name, where);
  if (n.uri !== DSIG_NS) fail(`${where}: <${name}> is not in the XML-DSig namespace`);
  return n;
}

function field(el: Node, name: string, where: string): string {
  const text = only(el, name, where).text.trim();
  if (text === '') fail(`${where}: <${name}> is empty`);
  return text;
}

function optionalField(el: Node, name: string): string | undefined {
  const found = el.children.filter((c) => c.local === name);
  if (found.length > 1) fail(`more than one <${name}>`);
  return found[0]?.text.trim();
}

function collectIds(el: Node, ids: Map<string, number>): void {
  for (const [name, value] of el.attributes) {
    if (name === 'xml:id' || name === 'Id' || name === 'ID' || name === 'id') ids.set(value, (ids.get(value) ?? 0) + 1);
  }
  for (const c of el.children) collectIds(c, ids);
}

function countSignatures(el: Node): number {
  return (el.local === 'Signature' ? 1 : 0) + el.children.reduce((n, c) => n + countSignatures(c), 0);
}

function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

/** Builds the tree with saxes; any well-formedness error or exceeded limit becomes a GeniCredentialError. */
function readTree(xml: string): Node {
  const parser = new SaxesParser({ xmlns: true, position: true, defaultXMLVersion: '1.0', forceXMLVersion: true });
  const stack: Node[] = [];
  let root: Node | undefined;
  let count = 0;
  parser.on('error', (err) => {
    fail(`the credential is not well-formed XML: ${err.message.replace(/\.$/, '')}`);
  });
  // One byte string, one tree (decision 023): refuse what libxml2 could read differently and no genuine credential
  // holds.
  parser.on('xmldecl', (decl) => {
    if (decl.encoding !== undefined && !isUtf8EncodingName(decl.encoding)) fail('the credential declares an encoding other than UTF-8');
  });
  parser.on('doctype', () => fail('the credential contains a DOCTYPE or ENTITY declaration (refused)'));
  parser.on('comment', () => fail('the credential contains an XML comment (refused)'));
  parser.on('processinginstruction', () => fail('the credential contains a processing instruction (refused)'));
  parser.on('cdata', () => fail('the credential contains a CDATA section (refused)'));
  parser.on('opentagstart', () => {
    if (++count > MAX_ELEMENTS) fail(`the credential has more than ${MAX_ELEMENTS} elements`);
    if (stack.length + 1 > MAX_ELEMENT_DEPTH) fail(`the credential nests elements deeper than ${MAX_ELEMENT_DEPTH} levels`);
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    const attributes = new Map<string, string>();
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === 'xmlns' || a.name === 'xmlns') continue;
      if (a.prefix === 'xml' && a.uri !== XML_NS) continue;
      attributes.set(a.name, a.value);
    }
    const node: Node = { local: tag.local, uri: tag.uri, attributes, children: [], text: '' };
    const top = stack[stack.length - 1];
    if (top) top.children.push(node);
    else root = node;
    stack.push(node);
  });
  parser.on('closetag', () => {
    const node = stack.pop();
    if (node && node.children.length > 0 && node.text.trim() !== '') fail(`<${node.local}> holds text beside its child elements (refused)`);
  });
  parser.on('text', (t: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
    else if (t.trim() !== '') fail('the credential has text outside its root element');
  });
  try {
    parser.write(xml);
    parser.close();
  } catch (err) {
    if (err instanceof GeniCredentialError) throw err;
    fail('the credential is not well-formed XML');
  }
  if (!root) fail('the credential has no root element');
  return root;
}
