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
