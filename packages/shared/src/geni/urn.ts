/**
 * GENI/SFA identifiers: URNs (`urn:publicid:IDN+<authority>+<type>+<name>`) and HRNs (dotted human-readable names),
 * converted as SFA's `Xrn` does (docs/geni-v3.md §4.2, from the original `KA/geniutils/src/xrn/xrn.py`).
 */
import { InputError } from '../errors.js';

/** The URN prefix; compared case-insensitively (§4.2), everything after it case-sensitively. */
export const URN_PREFIX = 'urn:publicid:IDN';

/** Longest URN we accept anywhere (bytes of UTF-16 text); GENI URNs are short. */
export const MAX_URN_LENGTH = 512;

/** A parsed GENI URN. */
export interface GeniUrn {
  /** Authority with `:` between its parts, e.g. `ch.geni.net:proj` or `ocf:i2cat:vtam`. */
  authority: string;
  /**
   * Type: `slice`, `user`, `sliver`, `node`, `image`, `link`, ... For authority URNs the whole `authority+<x>`
   * (`authority+sa`, `authority+cm`, `authority+ma`).
   */
  type: string;
  /** Name after the type (may itself contain `+`, e.g. `Verdaguer+interface+eth1`); `''` for authority URNs. */
  name: string;
}

// Printable ASCII without blanks; `+` separates the fields (RFC 3151 public identifiers, GENI URN rules).
const URN_CHARS = /^[\x21-\x7e]+$/;

/**
 * Parses a GENI URN.
 * @throws InputError when it is not `urn:publicid:IDN+<authority>+<type>+<name>` (authority and type
 *   non-empty; name non-empty unless the type is `authority`), is longer than {@link MAX_URN_LENGTH} or holds blanks
 *   or non-ASCII characters.
 */
export function parseUrn(urn: string): GeniUrn {
  if (typeof urn !== 'string' || urn.length === 0 || urn.length > MAX_URN_LENGTH || !URN_CHARS.test(urn)) {
    throw new InputError(`not a GENI URN: ${describe(urn)}`);
  }
  if (urn.slice(0, URN_PREFIX.length).toLowerCase() !== URN_PREFIX.toLowerCase() || urn[URN_PREFIX.length] !== '+') {
    throw new InputError(`not a GENI URN (must start with ${URN_PREFIX}+): ${describe(urn)}`);
  }
  const parts = urn.slice(URN_PREFIX.length + 1).split('+');
  const [authority, type, ...rest] = parts;
  if (!authority || !type) throw new InputError(`not a GENI URN (authority and type required): ${describe(urn)}`);
  if (authority.split(':').some((p) => p === '')) throw new InputError(`not a GENI URN (empty authority part): ${describe(urn)}`);
  if (type === 'authority') {
    const kind = rest.join('+');
    if (!kind || rest.length !== 1) throw new InputError(`not a GENI authority URN (authority+<sa|ma|cm|...>): ${describe(urn)}`);
    return { authority, type: `authority+${kind}`, name: '' };
  }
  const name = rest.join('+');
  if (!name) throw new InputError(`not a GENI URN (name required for type ${type}): ${describe(urn)}`);
  return { authority, type, name };
}

/** Parses a URN and checks its type (`slice`, `sliver`, `user`, ...; `authority` matches every `authority+x`). */
export function parseUrnOfType(urn: string, type: string): GeniUrn {
  const parsed = parseUrn(urn);
  const ok = type === 'authority' ? parsed.type.startsWith('authority+') : parsed.type === type;
  if (!ok) throw new InputError(`expected a ${type} URN, got type ${parsed.type}: ${describe(urn)}`);
  return parsed;
}

/** Formats a URN from its parts (the inverse of {@link parseUrn}); the prefix is written as `urn:publicid:IDN`. */
export function formatUrn(u: GeniUrn): string {
  return u.type.startsWith('authority+') ? `${URN_PREFIX}+${u.authority}+${u.type}` : `${URN_PREFIX}+${u.authority}+${u.type}+${u.name}`;
}

/** True when two URNs are the same identifier: the `urn:publicid:IDN` prefix case-insensitively, the rest exactly (§4.2). */
export function sameUrn(a: string, b: string): boolean {
  const n = URN_PREFIX.length;
  return a.slice(0, n).toLowerCase() === b.slice(0, n).toLowerCase() && a.slice(n) === b.slice(n);
}

/** Splits an HRN on unescaped dots (`ch\.geni\.net.proj.foo` → `['ch.geni.net', 'proj', 'foo']`, escapes removed). */
export function splitHrn(hrn: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < hrn.length; i++) {
    const c = hrn[i];
    if (c === '\\' && hrn[i + 1] === '.') {
      cur += '.';
      i++;
    } else if (c === '.') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/** Joins HRN parts, escaping dots inside a part (the inverse of {@link splitHrn}). */
export function joinHrn(parts: readonly string[]): string {
  return parts.map((p) => p.replaceAll('.', '\\.')).join('.');
}

/**
 * URN → HRN (§4.2): `urn:publicid:IDN+ch.geni.net:proj+slice+foo` → `ch\.geni\.net.proj.foo`; an authority URN
 * (`…+topdomain+authority+sa`) → its authority HRN (`topdomain`).
 * @throws InputError when `urn` is not a GENI URN.
 */
export function urnToHrn(urn: string): string {
  const u = parseUrn(urn);
  const auth = u.authority.split(':');
  return joinHrn(u.type.startsWith('authority+') ? auth : [...auth, u.name]);
}

/**
 * HRN → URN (§4.2). For `type` `authority+<x>` the whole HRN is the authority (`ocf.i2cat.vtam` + `authority+cm` →
 * `urn:publicid:IDN+ocf:i2cat:vtam+authority+cm`); otherwise the last HRN part is the name and the others the
 * authority (`ocf.i2cat.vtam.Verdaguer` + `node` → `urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer`).
 * @throws InputError when the HRN has an empty part or (for non-authority types) only one part.
 */
export function hrnToUrn(hrn: string, type: string): string {
  const parts = splitHrn(hrn);
  if (parts.some((p) => p === '')) throw new InputError(`not an HRN (empty part): ${describe(hrn)}`);
  if (type.startsWith('authority+')) return formatUrn({ authority: parts.join(':'), type, name: '' });
  if (parts.length < 2) throw new InputError(`an HRN of type ${type} needs an authority and a name: ${describe(hrn)}`);
  return formatUrn({ authority: parts.slice(0, -1).join(':'), type, name: parts.at(-1) as string });
}

/**
 * SFA's `hrn_authfor_hrn`: true when `authorityHrn` equals `hrn` or is a proper prefix of it in whole HRN parts
 * (`ocf.i2cat` is an authority prefix of `ocf.i2cat.myslice`, not of `ocf.i2catx.myslice`).
 */
export function isAuthorityPrefix(authorityHrn: string, hrn: string): boolean {
  const a = splitHrn(authorityHrn);
  const h = splitHrn(hrn);
  return a.length <= h.length && a.every((p, i) => p === h[i]);
}

/** The last part of a URN's name (`…+user+jdoe` → `jdoe`; `…+slice+foo` → `foo`). */
export function urnLeaf(urn: string): string {
  return parseUrn(urn).name;
}

function describe(s: unknown): string {
  if (typeof s !== 'string') return `(${typeof s})`;
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);
}
