/**
 * The URNs this aggregate builds for itself, as the original FELIX KVM-CRM did (docs/geni-v3.md §4.1, §4.3,
 * `KG/drivers/vtam.py`): the component manager, one node per server and one sliver per VM.
 *
 * With authority HRN `ocf.i2cat` (config `geni.authorityHrn`) the CM HRN is `ocf.i2cat.vtam`, so
 * - component manager: `urn:publicid:IDN+ocf:i2cat:vtam+authority+cm`
 * - node (server `Verdaguer`): `urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer`
 * - sliver (slice `…+slice+myslice`, client_id `vm1`): `urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm1`
 *
 * The word `vtam` is required: the FELIX RO keeps a node only if both its `component_id` and its
 * `component_manager_id` contain it (§1 item 6).
 *
 * Every name that goes into a URN is checked first (§4.3: names that are not valid kvm-crm names or contain `.`, `+`,
 * `:`, `/` or blanks are BADARGS), so a URN built here always parses back to the same parts.
 */
import { InputError } from '../errors.js';
import { SERVER_NAME_PATTERN, VM_NAME_PATTERN } from '../validation.js';
import { formatUrn, parseUrn, parseUrnOfType, splitHrn, type GeniUrn } from './urn.js';

/** The component-manager suffix appended to the authority HRN (§4.1: `CM_HRN = HRN + ".vtam"`). */
export const CM_HRN_SUFFIX = 'vtam';

/** One part of an authority HRN (`ocf`, `i2cat`): DNS-label-like, 1–63 characters. */
const AUTHORITY_PART_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;
/** Longest authority HRN accepted (characters). */
const MAX_AUTHORITY_HRN_LENGTH = 128;

/**
 * The leaf of a slice URN as it may appear inside a sliver URN: 1–64 of `[A-Za-z0-9_-]`, starting with a letter or
 * digit (GENI slice names are `[A-Za-z0-9][A-Za-z0-9-]{0,18}`; `_` is allowed for SFA slice HRNs). No `.`, `+`, `:`,
 * `/` or blanks (§4.3), which would change the sliver URN's structure.
 */
export const SLICE_LEAF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Checks an authority HRN (config `geni.authorityHrn`, e.g. `ocf.i2cat`): dot-separated parts, each 1–63 characters of
 * `[A-Za-z0-9_-]` starting and ending with a letter or digit; at most 128 characters; no escaped dots.
 * @returns the HRN unchanged.
 * @throws InputError naming the bad value.
 */
export function assertAuthorityHrn(authorityHrn: string): string {
  if (
    typeof authorityHrn !== 'string' ||
    authorityHrn.length > MAX_AUTHORITY_HRN_LENGTH ||
    !authorityHrn.split('.').every((p) => AUTHORITY_PART_PATTERN.test(p))
  ) {
    throw new InputError(`invalid GENI authority HRN (dot-separated parts of [A-Za-z0-9_-], e.g. ocf.i2cat): ${show(authorityHrn)}`);
  }
  return authorityHrn;
}

/** The component manager's HRN: `${authorityHrn}.vtam` (§4.1). @throws InputError for a bad authority HRN. */
export function componentManagerHrn(authorityHrn: string): string {
  return `${assertAuthorityHrn(authorityHrn)}.${CM_HRN_SUFFIX}`;
}

/** The URN authority of the component manager: `ocf.i2cat` → `ocf:i2cat:vtam`. */
function cmAuthority(authorityHrn: string): string {
  return splitHrn(componentManagerHrn(authorityHrn)).join(':');
}

/**
 * The component manager URN (§4.3): `ocf.i2cat` → `urn:publicid:IDN+ocf:i2cat:vtam+authority+cm`.
 * @throws InputError for a bad authority HRN.
 */
export function componentManagerUrn(authorityHrn: string): string {
  return formatUrn({ authority: cmAuthority(authorityHrn), type: 'authority+cm', name: '' });
}

/**
 * A server's node URN (§4.3; also used as `component_name`): (`ocf.i2cat`, `Verdaguer`) →
 * `urn:publicid:IDN+ocf:i2cat:vtam+node+Verdaguer`.
 * @throws InputError for a bad authority HRN or a server name that is not a registered-server name
 *   ({@link SERVER_NAME_PATTERN}: DNS label, no `.`, `+`, `:`, `/`, blanks).
 */
export function nodeUrn(authorityHrn: string, serverName: string): string {
  assertName(serverName, SERVER_NAME_PATTERN, 'server name');
  return formatUrn({ authority: cmAuthority(authorityHrn), type: 'node', name: serverName });
}

/**
 * A sliver URN (§4.3): `urn:publicid:IDN+<auth>:vtam:<server>:<slice-leaf>+sliver+<clientId>`, e.g.
 * (`ocf.i2cat`, `Verdaguer`, `urn:publicid:IDN+ocf:i2cat+slice+myslice`, `vm1`) →
 * `urn:publicid:IDN+ocf:i2cat:vtam:Verdaguer:myslice+sliver+vm1`.
 *
 * Unique only per (server, slice leaf, client_id): two slices with the same leaf from two authorities collide, which
 * the caller resolves (ALREADYEXISTS or a suffixed client id, §4.3). Callers store the URN and look it up exactly.
 * @throws InputError (→ BADARGS) when `sliceUrn` is not a slice URN, its leaf is not {@link SLICE_LEAF_PATTERN}, the
 *   client id is not a VM name ({@link VM_NAME_PATTERN}), the server name is invalid or the authority HRN is bad.
 */
export function sliverUrn(authorityHrn: string, serverName: string, sliceUrn: string, clientId: string): string {
  assertName(serverName, SERVER_NAME_PATTERN, 'server name');
  assertName(clientId, VM_NAME_PATTERN, 'client_id (VM name: letters, digits and dashes, 1-64)');
  const sliceLeaf = sliceLeafOf(sliceUrn);
  return formatUrn({ authority: `${cmAuthority(authorityHrn)}:${serverName}:${sliceLeaf}`, type: 'sliver', name: clientId });
}

/**
 * The leaf of a slice URN, checked for use inside a sliver URN (`urn:publicid:IDN+ocf:i2cat+slice+myslice` → `myslice`).
 * @throws InputError when it is not a slice URN or the leaf is not {@link SLICE_LEAF_PATTERN}.
 */
export function sliceLeafOf(sliceUrn: string): string {
  const slice = parseUrnOfType(sliceUrn, 'slice');
  return assertName(slice.name, SLICE_LEAF_PATTERN, 'slice name (letters, digits, _ and -, 1-64)');
}

/**
 * The server named by a node URN of this component manager (`…+ocf:i2cat:vtam+node+Verdaguer` → `Verdaguer`).
 * @returns `undefined` when `urn` is not a URN, not of type `node`, of another authority, or its name is not a
 *   server name (e.g. an interface URN `…+node+Verdaguer+interface+eth1`). Never throws for bad `urn` input.
 * @throws InputError only for a bad `authorityHrn` (configuration error).
 */
export function serverNameOfNodeUrn(authorityHrn: string, urn: string): string | undefined {
  const authority = cmAuthority(authorityHrn);
  const parsed = tryParse(urn);
  if (!parsed || parsed.type !== 'node' || parsed.authority !== authority) return undefined;
  return SERVER_NAME_PATTERN.test(parsed.name) ? parsed.name : undefined;
}

/**
 * Splits a sliver URN of this component manager into its parts (the inverse of {@link sliverUrn}). For the check of
 * §6 step (3) on sliver URNs that do not exist; existing slivers are resolved by exact lookup of the stored URN.
 * @returns `undefined` when `urn` is not a sliver URN of the form `…+<auth>:vtam:<server>:<slice-leaf>+sliver+<id>`
 *   of this component manager with valid names. Never throws for bad `urn` input.
 * @throws InputError only for a bad `authorityHrn`.
 */
export function parseSliverUrn(
  authorityHrn: string,
  urn: string,
): { serverName: string; sliceLeaf: string; clientId: string } | undefined {
  const authority = cmAuthority(authorityHrn);
  const parsed = tryParse(urn);
  if (!parsed || parsed.type !== 'sliver' || !parsed.authority.startsWith(`${authority}:`)) return undefined;
  const rest = parsed.authority.slice(authority.length + 1).split(':');
  if (rest.length !== 2) return undefined;
  const [serverName, sliceLeaf] = rest as [string, string];
  const clientId = parsed.name;
  if (!SERVER_NAME_PATTERN.test(serverName) || !SLICE_LEAF_PATTERN.test(sliceLeaf) || !VM_NAME_PATTERN.test(clientId)) {
    return undefined;
  }
  return { serverName, sliceLeaf, clientId };
}

/** True when `urn` is this component manager's own URN (prefix case-insensitive, §4.2). */
export function isComponentManagerUrn(authorityHrn: string, urn: string): boolean {
  const parsed = tryParse(urn);
  return parsed !== undefined && parsed.type === 'authority+cm' && parsed.authority === cmAuthority(authorityHrn);
}

function tryParse(urn: string): GeniUrn | undefined {
  try {
    return parseUrn(urn);
  } catch {
    return undefined;
  }
}

function assertName(value: string, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new InputError(`invalid ${what}: ${show(value)}`);
  return value;
}

function show(value: unknown): string {
  if (typeof value !== 'string') return `(${typeof value})`;
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}
