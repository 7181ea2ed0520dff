/**
 * Positional parameter checks for XML-RPC methods. Python clients tag strings explicitly, other clients may
 * send untyped values (parsed as strings too, docs/ocf-protocol.md §1.1). Every check throws {@link InputError}.
 */
import { InputError } from '../errors.js';

/** The string at `params[index]`; `fallback` when it is absent. @throws InputError when absent without fallback or not a string. */
export function stringParam(params: unknown[], index: number, name: string, fallback?: string): string {
  const v = params[index];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new InputError(`missing parameter ${index + 1} (${name})`);
  }
  if (typeof v !== 'string') throw new InputError(`parameter ${index + 1} (${name}) must be a string`);
  return v;
}

/** The integer at `params[index]` (an `<int>`, or a string of digits). @throws InputError otherwise. */
export function intParam(params: unknown[], index: number, name: string, fallback?: number): number {
  const v = params[index];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new InputError(`missing parameter ${index + 1} (${name})`);
  }
  const n = typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new InputError(`parameter ${index + 1} (${name}) must be an integer`);
  return n;
}

/** The struct at `params[index]`. @throws InputError when absent or not a struct. */
export function structParam(params: unknown[], index: number, name: string): Record<string, unknown> {
  const v = params[index];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`parameter ${index + 1} (${name}) must be a struct`);
  return v as Record<string, unknown>;
}

/** @throws InputError when more than `max` parameters were sent. */
export function maxParams(params: unknown[], max: number): void {
  if (params.length > max) throw new InputError(`too many parameters: ${params.length}, at most ${max}`);
}

/** Longest `ping` challenge echoed back, in characters (docs/security.md "Input limits"). */
export const MAX_PING_CHALLENGE_LENGTH = 1024;

/**
 * The challenge of `ping(challenge)` / `pingAuth(challenge, …)` (docs/ocf-protocol.md §2.2, §4.2): the value to echo,
 * `''` when absent. Only a string of at most {@link MAX_PING_CHALLENGE_LENGTH} characters, a number or a boolean is
 * echoed: a ping must not make the daemon serialise megabytes a caller sent (an 8 MiB echo stalled the event loop
 * ~170 ms, bench/HOSTILE-RESULTS.md).
 * @throws InputError for a longer string or any other type.
 */
export function pingChallenge(params: unknown[]): unknown {
  const v = params[0];
  if (v === undefined) return '';
  if (typeof v === 'string') {
    if (v.length > MAX_PING_CHALLENGE_LENGTH) throw new InputError(`ping challenge of ${v.length} characters: at most ${MAX_PING_CHALLENGE_LENGTH}`);
    return v;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  throw new InputError('ping challenge must be a string, a number or a boolean');
}
