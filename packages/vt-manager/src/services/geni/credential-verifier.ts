/**
 * GENI AM API v3 credential checks (docs/geni-v3.md §9.3 items 1–7, §9.5 slice binding, §9.6 optional caller
 * match). The structural checks and the certificate chains are done here and in `domain/geni/` in TypeScript; the
 * XML-DSig signature values by the {@link XmlSignatureVerifier} port (the xmlsec1 adapter, decision 023), run last
 * so that a hostile caller cannot make the manager start programs with credentials that fail a cheap check.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { isAuthorityPrefix, parseUrn, parseUrnOfType, sameUrn, urnToHrn, type Logger } from '@kvm-crm/shared';
import { GeniCredentialError } from '../../domain/geni/geni-credential-error.js';
import {
  certificateOfBase64, certificatesOfPem, CLOCK_SKEW_MS, isSignedBy, signerOf, urnOfCertificate, verifyChain,
} from '../../domain/geni/gid-chain.js';
import { firstUndelegatedPrivilege, METHOD_OPERATION, privilegesAllow, type GeniMethod } from '../../domain/geni/sfa-rights.js';
import { parseSignedCredential, type CredentialBody } from '../../domain/geni/signed-credential.js';
import { Xmlsec1SignatureVerifier, type XmlSignatureVerifier } from '../../adapters/xmlsec1-signature-verifier.js';
import type { TrustedRootsSnapshot } from '../../adapters/trusted-roots-store.js';

export { GeniCredentialError } from '../../domain/geni/geni-credential-error.js';
export type { GeniMethod } from '../../domain/geni/sfa-rights.js';

/** Most SFA credentials looked at in one call (§9.3). */
export const MAX_CREDENTIALS = 10;
/** Accepted verifications kept (LRU), and for how long at most, in milliseconds (decision 023 item 6). */
export const VERIFICATION_CACHE_ENTRIES = 1000;
export const VERIFICATION_CACHE_MS = 5 * 60_000;

/** A credential that passed every check. */
export interface VerifiedCredential {
  /** `owner_urn` (equal to the owner GID's URN). */
  ownerUrn: string;
  /** `target_urn` (equal to the target GID's URN). */
  targetUrn: string;
  /** The target URN's type: `slice`, `user`, `authority+sa` … */
  targetType: string;
  /** `<expires>` of the top credential (a delegated one never outlives its parents): the sliver expiry limit (§5.4). */
  expires: Date;
  /** Privilege names of the top credential, as written. */
  privileges: string[];
}

/** What the verifier knows of the call besides the credentials (§9.6). */
export interface CredentialCallContext {
  /**
   * The TLS client certificate of the caller, if it presented one: an `X509Certificate`, or node:tls's
   * `PeerCertificate` (its `raw` DER is read). It is checked against the GENI trusted roots here, so the endpoint
   * should pass what the socket got even when the manager's own CA did not authorise it (`socket.authorized` false).
   */
  peerCertificate?: X509Certificate | { raw: Buffer };
}

/**
 * How many credentials {@link GeniCredentialVerifier.verify} needs to pass before it stops (each pass may cost an
 * xmlsec1 run): `any` — the first that passes (methods without slice binding: ListResources); `slices` — enough
 * to bind every one of these slice URNs (§9.5), trying first the credentials whose target is one of them or an
 * authority over them, then the rest; `all` (the default) — every credential.
 */
export type CredentialNeed = { kind: 'any' } | { kind: 'slices'; sliceUrns: readonly string[] } | { kind: 'all' };

/** The credential checks the GENI API calls. */
export interface GeniCredentialVerifier {
  /**
   * §9.3 items 1–7 for `method` over the raw XML-RPC credentials parameter (an array of `{geni_type, geni_version?,
   * geni_value}` structs or bare strings, §1.8; structs whose `geni_type` is not `geni_sfa` are ignored). Returns
   * the credentials that passed (≥ 1): every one, or with `need` only as many as needed (see {@link CredentialNeed}).
   * @throws GeniCredentialError "No credential was found with appropriate privileges. Tried <owners>. Last failure:
   *   <reason>" (never echoes the credential); SignatureCheckBusyError (an UpstreamError: SERVERERROR 5) when the
   *   signature checker's wait list is full.
   */
  verify(method: GeniMethod, credentials: unknown, context?: CredentialCallContext, need?: CredentialNeed): Promise<VerifiedCredential[]>;
}

/** Where {@link SfaCredentialVerifier} finds the trusted roots: a {@link TrustedRootsStore} or a fixed snapshot. */
export interface TrustedRootsSource {
  readonly current: TrustedRootsSnapshot;
}

/** Options of {@link SfaCredentialVerifier}. */
export interface SfaCredentialVerifierOptions {
  roots: TrustedRootsSource;
  logger: Logger;
  /**
   * The verification time (certificate validity, `<expires>`, and xmlsec1's `--verification-time`). Default the
   * clock; tests of old fixtures pass a fixed time.
   */
  now?: () => Date;
  /** Path of the xmlsec1 program (default `xmlsec1` from PATH); ignored when `signatures` is given. */
  xmlsec1Path?: string;
  /** The signature checker; default an {@link Xmlsec1SignatureVerifier}. */
  signatures?: XmlSignatureVerifier;
  /**
   * §9.6 (`geni.requireCallerMatch`, default false = bearer credentials, the original's behaviour): when true, a
   * credential passes only if the call came with a TLS client certificate that chains to the trusted roots and
   * whose URN equals the credential's `owner_urn`.
   */
  requireCallerMatch?: boolean;
}

/** The raw credential texts of the XML-RPC parameter (§1.8): bare strings and `geni_sfa` structs. */
export function sfaCredentialTexts(credentials: unknown): string[] {
  if (!Array.isArray(credentials)) throw new GeniCredentialError('the credentials parameter is not a list');
  const texts: string[] = [];
  for (const c of credentials) {
    if (typeof c === 'string') texts.push(c);
    else if (c && typeof c === 'object') {
      const o = c as Record<string, unknown>;
      if (typeof o.geni_type === 'string' && o.geni_type.toLowerCase() !== 'geni_sfa') continue; // ABAC …: ignored
      if (typeof o.geni_value !== 'string') throw new GeniCredentialError('a credential struct has no string geni_value');
      texts.push(o.geni_value);
    }
    // anything else (numbers, nil) is not a credential: ignored like an unknown type
  }
  if (texts.length > MAX_CREDENTIALS) throw new GeniCredentialError(`more than ${MAX_CREDENTIALS} credentials were given`);
  return texts;
}

/** An accepted verification in the cache, and until when it may be reused (epoch ms). */
interface CachedVerification {
  verified: VerifiedCredential;
  validUntil: number;
}

/**
 * The real verifier (§9.3 with §9.2's rules). Accepted verifications are cached (decision 023 item 6): keyed by
 * the sha256 of the credential text, the method's operation (its privilege need) and, with `requireCallerMatch`,
 * the caller's certificate; reused until min(credential expiry, certificates' expiry, now + 5 min); at most
 * {@link VERIFICATION_CACHE_ENTRIES} (least recently used dropped); emptied when the trusted roots change.
 * Refusals are never cached.
 */
export class SfaCredentialVerifier implements GeniCredentialVerifier {
  private readonly signatures: XmlSignatureVerifier;
  private readonly now: () => Date;
  private readonly cache = new Map<string, CachedVerification>();
  private cacheRoots: TrustedRootsSnapshot | undefined;

  constructor(private readonly options: SfaCredentialVerifierOptions) {
    this.signatures = options.signatures ?? new Xmlsec1SignatureVerifier(options.xmlsec1Path ? { xmlsec1Path: options.xmlsec1Path } : {});
    this.now = options.now ?? (() => new Date());
  }

  async verify(method: GeniMethod, credentials: unknown, context: CredentialCallContext = {}, need: CredentialNeed = { kind: 'all' }): Promise<VerifiedCredential[]> {
    const operation = METHOD_OPERATION[method];
    if (!operation) throw new GeniCredentialError(`method ${String(method)} takes no credentials`);
    const texts = orderForNeed(sfaCredentialTexts(credentials), need);
    const passed: VerifiedCredential[] = [];
    const owners: string[] = [];
    let lastFailure = 'no SFA credential was given';
    for (const xml of texts) {
      try {
        passed.push(await this.verifyCached(method, operation, xml, context, owners));
      } catch (err) {
        if (!(err instanceof GeniCredentialError)) throw err;
        lastFailure = err.message;
      }
      if (enough(passed, need)) break;
    }
    if (passed.length > 0) return passed;
    const tried = owners.length > 0 ? owners.join(', ') : 'no readable credential';
    this.options.logger.info('GENI credentials refused', { method, owners: tried, reason: lastFailure });
    throw new GeniCredentialError(`No credential was found with appropriate privileges. Tried ${tried}. Last failure: ${lastFailure}`);
  }

  /** {@link verifyOne} through the cache of accepted verifications. */
  private async verifyCached(method: GeniMethod, operation: string, xml: string, context: CredentialCallContext, owners: string[]): Promise<VerifiedCredential> {
    const roots = this.options.roots.current;
    if (roots !== this.cacheRoots) {
      this.cache.clear();
      this.cacheRoots = roots;
    }
    let key = `${createHash('sha256').update(xml, 'utf8').digest('hex')} ${operation}`;
    if (this.options.requireCallerMatch) {
      const peer = context.peerCertificate;
      const raw = peer instanceof X509Certificate ? peer.raw : peer && Buffer.isBuffer(peer.raw) ? peer.raw : undefined;
      key += ` ${raw ? createHash('sha256').update(raw).digest('hex') : 'none'}`;
    }
    const now = this.now().getTime();
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      if (hit.validUntil > now) {
        this.cache.set(key, hit); // most recently used
        const v = hit.verified;
        owners.push(v.ownerUrn.length > 200 ? `${v.ownerUrn.slice(0, 200)}…` : v.ownerUrn);
        return { ...v, privileges: [...v.privileges] };
      }
    }
    const { verified, certificatesValidUntil } = await this.verifyOne(method, operation, xml, context, owners);
    const validUntil = Math.min(verified.expires.getTime(), certificatesValidUntil, now + VERIFICATION_CACHE_MS);
    if (validUntil > now) {
      this.cache.set(key, { verified: { ...verified, privileges: [...verified.privileges] }, validUntil });
      while (this.cache.size > VERIFICATION_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    }
    return verified;
  }

  /** All checks of one credential; `owners` gets its owner URN as soon as it is read. @throws GeniCredentialError */
  private async verifyOne(
    method: GeniMethod, operation: string, xml: string, context: CredentialCallContext, owners: string[],
  ): Promise<{ verified: VerifiedCredential; certificatesValidUntil: number }> {
    const now = this.now();
    const doc = parseSignedCredential(xml);
    const top = doc.credential;
    owners.push(top.ownerUrn.length > 200 ? `${top.ownerUrn.slice(0, 200)}…` : top.ownerUrn);
    const chain: CredentialBody[] = [];
    for (let c: CredentialBody | undefined = top; c; c = c.parent) chain.push(c);

    let targetType: string;
    try {
      targetType = parseUrn(top.targetUrn).type;
      for (const c of chain) {
        parseUrn(c.ownerUrn);
        parseUrn(c.targetUrn);
      }
    } catch {
      throw new GeniCredentialError(`credential ${top.refId}: an owner_urn or target_urn is not a GENI URN`);
    }

    // 6. expiry, every credential of the chain
    for (const c of chain) {
      if (c.expires.getTime() + CLOCK_SKEW_MS < now.getTime()) {
        throw new GeniCredentialError(`credential ${c.refId} expired at ${c.expires.toISOString()}`);
      }
    }
    // 7. privileges of the top credential
    if (!privilegesAllow(top.privileges, operation, targetType)) {
      const names = top.privileges.map((p) => p.name).join(' ') || 'none';
      throw new GeniCredentialError(`credential privileges (${names.slice(0, 200)}) on a ${targetType} do not allow ${method} (needs ${operation})`);
    }

    const roots = this.options.roots.current;
    if (roots.roots.length === 0) throw new GeniCredentialError('no trusted root is configured');
    const anchors = roots.roots;

    // 3, 4. signer, owner and target chains of every credential
    const read = chain.map((c) => {
      const where = `credential ${c.refId}`;
      const ownerCerts = certificatesOfPem(c.ownerGid, `${where} owner_gid`);
      const targetCerts = certificatesOfPem(c.targetGid, `${where} target_gid`);
      const owner = ownerCerts[0]!;
      const target = targetCerts[0]!;
      if (!sameUrnSafe(urnOfCertificate(owner), c.ownerUrn)) throw new GeniCredentialError(`${where}: owner_urn is not the URN of owner_gid`);
      if (!sameUrnSafe(urnOfCertificate(target), c.targetUrn)) throw new GeniCredentialError(`${where}: target_urn is not the URN of target_gid`);
      verifyChain(owner, [...ownerCerts.slice(1), ...roots.intermediates], anchors, now, `${where} owner_gid`);
      verifyChain(target, [...targetCerts.slice(1), ...roots.intermediates], anchors, now, `${where} target_gid`);
      const sigCerts = c.signature.x509Certificates.map((b) => certificateOfBase64(b, `signature ${c.signature.id}`));
      const signer = signerOf(sigCerts, `signature ${c.signature.id}`);
      verifyChain(signer, [...sigCerts, ...roots.intermediates], anchors, now, `signer of ${where}`);
      return { c, owner, target, signer };
    });

    // §9.2 verify_parent: delegation rules, child by child
    for (let i = 0; i + 1 < read.length; i++) {
      const child = read[i]!;
      const parent = read[i + 1]!;
      const where = `delegated credential ${child.c.refId}`;
      const bad = firstUndelegatedPrivilege(child.c.privileges, parent.c.privileges, targetType);
      if (bad !== undefined) throw new GeniCredentialError(`${where}: privilege ${bad.slice(0, 64)} is not delegatable by its parent ${parent.c.refId}`);
      if (child.target.fingerprint256 !== parent.target.fingerprint256) throw new GeniCredentialError(`${where}: target GID differs from its parent's`);
      if (child.c.expires.getTime() > parent.c.expires.getTime()) throw new GeniCredentialError(`${where}: expires after its parent`);
      if (child.signer.fingerprint256 !== parent.owner.fingerprint256) throw new GeniCredentialError(`${where}: not signed by its parent's owner`);
    }

    // 5. issuer authority of the root (undelegated) credential
    const root = read[read.length - 1]!;
    if (!isSignedBy(root.target, root.signer)) {
      const signerUrn = urnOfCertificate(root.signer);
      let ok = false;
      try {
        ok = signerUrn !== undefined && parseUrn(signerUrn).type.startsWith('authority') && isAuthorityPrefix(urnToHrn(signerUrn), urnToHrn(root.c.targetUrn));
      } catch {
        ok = false;
      }
      if (!ok) throw new GeniCredentialError(`credential ${root.c.refId}: its signer ${signerUrn ?? 'without URN'} is not an authority for ${root.c.targetUrn}`);
    }

    // §9.6 caller match (option)
    if (this.options.requireCallerMatch) {
      const given = context.peerCertificate;
      if (!given || (!(given instanceof X509Certificate) && !Buffer.isBuffer(given.raw))) {
        throw new GeniCredentialError('the caller presented no client certificate (geni.requireCallerMatch)');
      }
      let peer: X509Certificate;
      try {
        peer = given instanceof X509Certificate ? given : new X509Certificate(given.raw);
      } catch {
        throw new GeniCredentialError('the caller\'s client certificate cannot be read');
      }
      verifyChain(peer, roots.intermediates, anchors, now, 'caller');
      if (!sameUrnSafe(urnOfCertificate(peer), top.ownerUrn)) throw new GeniCredentialError(`the caller is not the credential owner ${top.ownerUrn}`);
    }

    // 2, 3. the signature values, last (xmlsec1)
    const check = await this.signatures.verify(doc.text, doc.signatureIds, anchors.map((r) => r.path), now);
    if (!check.ok) throw new GeniCredentialError(check.reason);

    const certificatesValidUntil = Math.min(...read.flatMap((r) => [r.owner, r.target, r.signer]).map((c) => new Date(c.validTo).getTime()));
    return {
      verified: { ownerUrn: top.ownerUrn, targetUrn: top.targetUrn, targetType, expires: top.expires, privileges: top.privileges.map((p) => p.name) },
      certificatesValidUntil: Number.isNaN(certificatesValidUntil) ? 0 : certificatesValidUntil,
    };
  }
}

/** The target URN of a credential text, read cheaply for ordering only (never trusted); undefined if unreadable. */
function claimedTarget(xml: string): string | undefined {
  try {
    return parseSignedCredential(xml).credential.targetUrn;
  } catch {
    return undefined;
  }
}

/** Whether `target` (a credential's target URN) could bind `sliceUrn`: the slice itself or an authority over it. */
function targets(target: string, sliceUrn: string): boolean {
  try {
    if (sameUrn(target, sliceUrn)) return true;
    return parseUrn(target).type.startsWith('authority') && isAuthorityPrefix(urnToHrn(target), urnToHrn(sliceUrn));
  } catch {
    return false;
  }
}

/** The credential texts in the order `need` prefers: for `slices`, those claiming a wanted target first (stable). */
function orderForNeed(texts: string[], need: CredentialNeed): string[] {
  if (need.kind !== 'slices' || texts.length < 2) return texts;
  const matching = (xml: string) => {
    const t = claimedTarget(xml);
    return t !== undefined && need.sliceUrns.some((s) => targets(t, s));
  };
  const first = texts.filter(matching);
  return [...first, ...texts.filter((t) => !first.includes(t))];
}

/** Whether the credentials that passed so far satisfy `need`. */
function enough(passed: readonly VerifiedCredential[], need: CredentialNeed): boolean {
  if (passed.length === 0) return false;
  if (need.kind === 'any') return true;
  if (need.kind === 'all') return false;
  return need.sliceUrns.every((s) => {
    try {
      bindToSlice(passed, s);
      return true;
    } catch {
      return false;
    }
  });
}

function sameUrnSafe(a: string | undefined, b: string): boolean {
  return a !== undefined && sameUrn(a, b);
}

/**
 * §9.5 slice binding: the first credential whose target is `sliceUrn` (a slice credential), else the first whose
 * target is an authority whose HRN is an authority prefix of the slice's HRN (an operator credential).
 * @throws InputError when `sliceUrn` is not a slice URN; GeniCredentialError when no credential is for that slice.
 */
export function bindToSlice(verified: readonly VerifiedCredential[], sliceUrn: string): VerifiedCredential {
  parseUrnOfType(sliceUrn, 'slice');
  const exact = verified.find((v) => v.targetType === 'slice' && sameUrn(v.targetUrn, sliceUrn));
  if (exact) return exact;
  const sliceHrn = urnToHrn(sliceUrn);
  const authority = verified.find((v) => v.targetType.startsWith('authority') && isAuthorityPrefix(urnToHrn(v.targetUrn), sliceHrn));
  if (authority) return authority;
  const targets = verified.map((v) => v.targetUrn).join(', ') || 'none';
  throw new GeniCredentialError(`no credential is for slice ${sliceUrn} (the credentials are for ${targets.slice(0, 400)})`);
}
