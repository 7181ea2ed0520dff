/** The agent's shared-password check, used by every endpoint that takes the OCF agent password. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of two passwords (through their SHA-256, so lengths do not leak). */
export function samePassword(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}
