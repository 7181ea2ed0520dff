/**
 * Explicit patterns for every name and ID that comes from the wire and may reach a path, an argv element or
 * the domain XML. Check with {@link assertPattern} before use; a mismatch is an {@link InputError}.
 */
import { InputError } from './errors.js';

/** RFC 4122 textual UUID, any version, case-insensitive. */
export const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** VM name as Expedient allows it (`OP/utils/validators.py:12`): letters, digits, dash; 1–64 characters. */
export const VM_NAME_PATTERN = /^[0-9a-zA-Z-]{1,64}$/;
/** Action IDs: UUIDs in practice; we accept 1–64 characters of `[A-Za-z0-9._-]`. */
export const ACTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Template catalogue names (one folder each): 1–64 characters of `[A-Za-z0-9._-]`, not starting with a dot. */
export const TEMPLATE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Linux bridge / libvirt network names: 1–15 characters (IFNAMSIZ-1). */
export const BRIDGE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/;
/** Registered server names (also used in certificates): DNS-label-like, 1–63 characters. */
export const SERVER_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/**
 * A guest host name (kvm-crm `<hostname>`, a manifest's `hostname`; decision 024): RFC 1123 dot-separated labels of
 * letters, digits and inner dashes, 1–63 characters each, at most 253 in all, e.g. `tdh-m01.tdh.internal`.
 */
export const GUEST_HOSTNAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** Unicast MAC address, colon-separated, lower or upper case. */
export const MAC_PATTERN = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
/** Dotted-quad IPv4 address (each octet 0–255 checked by {@link isIpv4}). */
const IPV4_SHAPE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** True when `s` is a dotted-quad IPv4 address with every octet in 0–255 and no leading zeros. */
export function isIpv4(s: string): boolean {
  const m = IPV4_SHAPE.exec(s);
  if (!m) return false;
  return m.slice(1).every((o) => Number(o) <= 255 && (o === '0' || !o.startsWith('0')));
}

/**
 * Returns `value` when it matches `pattern`; throws {@link InputError} naming `what` otherwise.
 * The offending value is quoted with JSON escaping and cut to 80 characters so that it cannot forge log lines.
 */
export function assertPattern(value: string | undefined, pattern: RegExp, what: string): string {
  if (value === undefined || !pattern.test(value)) {
    const shown = value === undefined ? 'nothing' : JSON.stringify(value.slice(0, 80));
    throw new InputError(`invalid ${what}: ${shown}`);
  }
  return value;
}

/** Prefix length of a dotted netmask (`255.255.255.0` → 24). @throws InputError for a malformed or non-contiguous mask. */
export function netmaskToPrefix(mask: string): number {
  if (!isIpv4(mask)) throw new InputError(`not a netmask: ${JSON.stringify(mask.slice(0, 40))}`);
  const bits = mask.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  if (!/^1*0*$/.test(bits)) throw new InputError(`not a contiguous netmask: ${mask}`);
  return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
}
