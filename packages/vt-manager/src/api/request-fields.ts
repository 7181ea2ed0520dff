/**
 * Reading the fields of an admin request struct (every `/xmlrpc/admin` method takes one struct): typed results, and
 * an InputError naming the field when it is missing or mistyped.
 */
import { InputError } from '@kvm-crm/shared';

/**
 * The string field `key` of a request struct.
 * @throws InputError when it is absent, null, empty or not a string.
 */
export function requireString(o: Record<string, unknown>, key: string): string {
  const v = optionalString(o, key);
  if (v === undefined) throw new InputError(`missing field ${key}`);
  return v;
}

/**
 * The optional string field `key` of a request struct: undefined when absent, null or empty.
 * @throws InputError when it is present and not a string.
 */
export function optionalString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new InputError(`field ${key} must be a string`);
  return v;
}

/**
 * An optional ISO 8601 time field: null when absent or `""` (clears the expiry).
 * @throws InputError when it is not a string or not a time.
 */
export function optionalTime(o: Record<string, unknown>, key: string): Date | null {
  const at = optionalString(o, key);
  const when = at === undefined ? null : new Date(at);
  if (when && Number.isNaN(when.getTime())) throw new InputError(`${key} must be an ISO 8601 time or ""`);
  return when;
}

/** The optional list-of-strings field `key` (absent: `[]`). @throws InputError when it is not a list of strings. */
export function strList(o: Record<string, unknown>, key: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InputError(`field ${key} must be a list of strings`);
  return v as string[];
}
