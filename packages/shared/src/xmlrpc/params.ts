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

/** Largest `ping` challenge echoed back: characters of text plus one per value (docs/security.md "Input limits"). */
export const MAX_PING_CHALLENGE_LENGTH = 1024;

/**
 * The challenge of `ping(challenge)` / `pingAuth(challenge, …)` (docs/ocf-protocol.md §2.2, §4.2): the value to echo,
 * `''` when absent. Any XML-RPC value is echoed as before, as long as it is small: its text (strings, struct member
 * names) plus one per value counts at most {@link MAX_PING_CHALLENGE_LENGTH}, so a ping cannot make the daemon
 * serialise megabytes a caller sent (an 8 MiB echo stalled the event loop ~170 ms, bench/HOSTILE-RESULTS.md).
 * @throws InputError for a larger challenge.
 */
export function pingChallenge(params: unknown[]): unknown {
  const v = params[0];
  if (v === undefined) return '';
  const size = challengeSize(v, MAX_PING_CHALLENGE_LENGTH);
  if (size > MAX_PING_CHALLENGE_LENGTH) {
    throw new InputError(typeof v === 'string' ? `ping challenge of ${v.length} characters: at most ${MAX_PING_CHALLENGE_LENGTH}` : `ping challenge larger than ${MAX_PING_CHALLENGE_LENGTH} characters`);
  }
  return v;
}

/** Text length plus one per value of `v`, counted until it exceeds `limit` (then any larger number). */
function challengeSize(v: unknown, limit: number): number {
  if (typeof v === 'string') return v.length;
  if (Buffer.isBuffer(v)) return v.length;
  if (Array.isArray(v)) {
    let n = 1;
    for (const x of v) if ((n += challengeSize(x, limit - n)) > limit) break;
    return n;
  }
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    let n = 1;
    for (const [k, x] of Object.entries(v)) if ((n += k.length + challengeSize(x, limit - n)) > limit) break;
    return n;
  }
  return 1;
}
