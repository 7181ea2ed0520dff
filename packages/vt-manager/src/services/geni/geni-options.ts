/**
 * Reading the GENI `options` struct and other arguments (docs/geni-v3.md §8, §10): every failure is a GeniFault
 * with the code the spec gives (BADARGS, BADVERSION).
 */
import { parseGeniTime } from '@kvm-crm/shared';
import { GENI_CODE, GeniFault } from './geni-result.js';

/** The options struct as a record; absent/nil → `{}`. @throws GeniFault BADARGS when it is not a struct. */
export function optionsOf(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null || v === '') return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new GeniFault(GENI_CODE.BADARGS, 'options must be a struct');
  return v as Record<string, unknown>;
}

/**
 * `geni_rspec_version` (§8): when `required` and absent → BADARGS; present but incomplete → BADARGS; not
 * `{type: GENI (any case), version: 3 (int or string)}` → BADVERSION (4).
 */
export function checkRspecVersion(options: Record<string, unknown>, required: boolean): void {
  const v = options['geni_rspec_version'];
  if (v === undefined) {
    if (required) throw new GeniFault(GENI_CODE.BADARGS, 'option geni_rspec_version is required ({type: "GENI", version: 3})');
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GeniFault(GENI_CODE.BADARGS, 'geni_rspec_version must be a struct {type, version}');
  const { type, version } = v as Record<string, unknown>;
  if (type === undefined || version === undefined) throw new GeniFault(GENI_CODE.BADARGS, 'geni_rspec_version needs type and version');
  if (String(type).toLowerCase() !== 'geni' || String(version) !== '3') {
    throw new GeniFault(GENI_CODE.BADVERSION, `RSpec version ${String(type)} ${String(version)} is not supported; this aggregate speaks GENI 3`);
  }
}

/** A boolean option; anything but `true` (or the int 1) is false. */
export function flag(options: Record<string, unknown>, name: string): boolean {
  const v = options[name];
  return v === true || v === 1;
}

/** `geni_compressed`, or the RO's misspelling `geni_compress` (§8). */
export function wantsCompressed(options: Record<string, unknown>): boolean {
  return flag(options, 'geni_compressed') || flag(options, 'geni_compress');
}

/** An RFC 3339 time argument (any offset, §5.4). @throws GeniFault BADARGS naming `what`. */
export function timeArg(v: unknown, what: string): Date {
  if (typeof v !== 'string') throw new GeniFault(GENI_CODE.BADARGS, `${what} must be an RFC 3339 time string`);
  try {
    return parseGeniTime(v);
  } catch {
    throw new GeniFault(GENI_CODE.BADARGS, `${what} is not an RFC 3339 time: ${JSON.stringify(v.slice(0, 64))}`);
  }
}

/** `geni_end_time` when given. */
export function endTimeOf(options: Record<string, unknown>): Date | undefined {
  return options['geni_end_time'] === undefined ? undefined : timeArg(options['geni_end_time'], 'geni_end_time');
}

/** A guest user from `geni_users` (§10): login name and its OpenSSH keys. */
export interface GeniUser {
  name: string;
  keys: string[];
}

/** Most `geni_users` entries and keys per user we take (§10). */
export const GENI_USER_LIMITS = { users: 16, keysPerUser: 20 } as const;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const KEY_LINE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( [\x20-\x7e]*)?$/;

/**
 * `geni_users` (§10): `[{urn, keys[]}]`; user name = the URN's leaf, lower-cased, `^[a-z_][a-z0-9_-]{0,31}$`;
 * keys single-line OpenSSH public keys (`ssh-rsa`, `ssh-ed25519`, `ecdsa-sha2-*`). Absent → `[]`. Users with the same
 * name are merged.
 * @throws GeniFault BADARGS naming the first bad entry.
 */
export function geniUsersOf(options: Record<string, unknown>): GeniUser[] {
  const v = options['geni_users'];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new GeniFault(GENI_CODE.BADARGS, 'geni_users must be an array of {urn, keys}');
  if (v.length > GENI_USER_LIMITS.users) throw new GeniFault(GENI_CODE.BADARGS, `geni_users has ${v.length} entries, at most ${GENI_USER_LIMITS.users}`);
  const byName = new Map<string, string[]>();
  for (const [i, u] of v.entries()) {
    if (typeof u !== 'object' || u === null || Array.isArray(u)) throw new GeniFault(GENI_CODE.BADARGS, `geni_users[${i}] must be a struct {urn, keys}`);
    const rec = u as Record<string, unknown>;
    const urn = rec['urn'];
    if (typeof urn !== 'string') throw new GeniFault(GENI_CODE.BADARGS, `geni_users[${i}] has no urn`);
    const leaf = (urn.split('+').pop() ?? '').toLowerCase();
    if (!USER_NAME.test(leaf)) throw new GeniFault(GENI_CODE.BADARGS, `geni_users[${i}]: user name ${JSON.stringify(leaf.slice(0, 40))} (from the URN) must match ${USER_NAME.source}`);
    const keys = rec['keys'] ?? [];
    if (!Array.isArray(keys)) throw new GeniFault(GENI_CODE.BADARGS, `geni_users[${i}].keys must be an array of strings`);
    if (keys.length > GENI_USER_LIMITS.keysPerUser) throw new GeniFault(GENI_CODE.BADARGS, `geni_users[${i}] has ${keys.length} keys, at most ${GENI_USER_LIMITS.keysPerUser}`);
    const lines = keys.map((k, j) => {
      const line = typeof k === 'string' ? k.trim() : '';
      if (line.length > 8192 || !KEY_LINE.test(line)) throw new GeniFault(GENI_CODE.BADARGS, `geni_users[${i}].keys[${j}] is not a single-line OpenSSH public key (ssh-rsa, ssh-ed25519, ecdsa-sha2-*)`);
      return line;
    });
    byName.set(leaf, [...(byName.get(leaf) ?? []), ...lines]);
  }
  return [...byName].map(([name, keys]) => ({ name, keys: [...new Set(keys)] }));
}
