/**
 * Salted scrypt password hashes, in the self-describing form `scrypt$N$r$p$<salt b64>$<hash b64>`.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/** scrypt cost parameters: N=2^15, r=8, p=1 (≈32 MiB, tens of ms per check). */
const N = 32768;
const R = 8;
const P = 1;
const KEYLEN = 32;

/** Hashes `password` with a fresh 16-byte salt. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, KEYLEN, { N, r: R, p: P, maxmem: 128 * N * R * 2 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** True when `password` matches `encoded` (constant-time compare). A malformed `encoded` never matches. */
export function verifyPassword(password: string, encoded: string): boolean {
  const parts = encoded.split('$');
  const [scheme, nText, rText, pText, saltText, hashText] = parts;
  if (parts.length !== 6 || scheme !== 'scrypt' || saltText === undefined || hashText === undefined) return false;
  const [n, r, p] = [nText, rText, pText].map(Number) as [number, number, number];
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || n > 2 ** 20) return false;
  const salt = Buffer.from(saltText, 'base64');
  const expected = Buffer.from(hashText, 'base64');
  if (expected.length === 0) return false;
  const actual = scryptSync(password, salt, expected.length, { N: n, r, p, maxmem: 128 * n * r * 2 });
  return timingSafeEqual(actual, expected);
}
