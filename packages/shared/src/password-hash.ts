/**
 * Salted scrypt password hashes, in the self-describing form `scrypt$N$r$p$<salt b64>$<hash b64>`.
 *
 * Servers check passwords with {@link verifyPasswordAsync}: scrypt then runs on libuv's thread pool, not on the
 * event loop (a check costs tens of ms of CPU). The synchronous forms are for tools (`vtctl user hash`) and tests.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt cost parameters: N=2^15, r=8, p=1 (≈32 MiB, tens of ms per check). */
const N = 32768;
const R = 8;
const P = 1;
const KEYLEN = 32;

/** Hashes `password` with a fresh 16-byte salt. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, KEYLEN, { N, r: R, p: P, maxmem: 128 * N * R * 2 });
  return encode(salt, hash);
}

/** As {@link hashPassword}, with scrypt off the event loop. */
export async function hashPasswordAsync(password: string): Promise<string> {
  const salt = randomBytes(16);
  return encode(salt, await scryptAsync(password, salt, KEYLEN, { N, r: R, p: P, maxmem: 128 * N * R * 2 }));
}

function encode(salt: Buffer, hash: Buffer): string {
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** The parts of an encoded hash, or undefined when it is malformed or its cost is out of range (N > 2^20). */
function decode(encoded: string): { n: number; r: number; p: number; salt: Buffer; expected: Buffer } | undefined {
  const parts = encoded.split('$');
  const [scheme, nText, rText, pText, saltText, hashText] = parts;
  if (parts.length !== 6 || scheme !== 'scrypt' || saltText === undefined || hashText === undefined) return undefined;
  const [n, r, p] = [nText, rText, pText].map(Number) as [number, number, number];
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || n > 2 ** 20) return undefined;
  const expected = Buffer.from(hashText, 'base64');
  if (expected.length === 0) return undefined;
  return { n, r, p, salt: Buffer.from(saltText, 'base64'), expected };
}

/** True when `password` matches `encoded` (constant-time compare). A malformed `encoded` never matches. */
export function verifyPassword(password: string, encoded: string): boolean {
  const h = decode(encoded);
  if (!h) return false;
  const actual = scryptSync(password, h.salt, h.expected.length, { N: h.n, r: h.r, p: h.p, maxmem: 128 * h.n * h.r * 2 });
  return timingSafeEqual(actual, h.expected);
}

/**
 * As {@link verifyPassword}, with scrypt on the thread pool: resolves true when `password` matches `encoded`
 * (constant-time compare of the derived keys), false otherwise and for a malformed `encoded`. Never rejects.
 */
export async function verifyPasswordAsync(password: string, encoded: string): Promise<boolean> {
  const h = decode(encoded);
  if (!h) return false;
  try {
    const actual = await scryptAsync(password, h.salt, h.expected.length, { N: h.n, r: h.r, p: h.p, maxmem: 128 * h.n * h.r * 2 });
    return timingSafeEqual(actual, h.expected);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random password with this module's parameters (made once per process, off the event loop). Checking a
 * password against it costs what a real check costs, so an unknown user name takes as long as a known one.
 */
export function dummyPasswordHash(): Promise<string> {
  dummy ??= hashPasswordAsync(randomBytes(24).toString('base64'));
  return dummy;
}
