/**
 * Failure backoff for northbound password logins (issue 9 item 6, decision 016, docs/security.md "Input limits").
 *
 * Failures are counted under two keys: (source address, user name) and (source address). A key that reached its
 * threshold within `windowSeconds` is locked: `firstLockSeconds` after the failure that reached it, doubling with
 * every further failure up to `maxLockSeconds`; attempts on a locked key are refused with RateLimitedError (HTTP 429,
 * `Retry-After`) without a password check; a key is forgotten `windowSeconds` after its last failure or the end of
 * its lock, so a guesser who comes back as a lock ends finds it doubled. Attempts still being checked count against the threshold, so 16
 * concurrent guesses give at most `userFailures` checks, not 16. A success resets its (source, user) key only (the
 * source key keeps counting, so one valid account does not let a source spray other names).
 *
 * There is deliberately no key for a user name alone: failures from one address never lock out the same user from
 * another address (a guesser could otherwise lock a clearinghouse out of its own account). A guesser with many
 * addresses is slowed by the scrypt concurrency cap (basic-authenticator.ts) and the per-source keys.
 *
 * Memory: at most `maxTrackedKeys` keys (SHA-256 digests, so long user names cost nothing extra); when full, expired
 * keys are dropped, then the least recently failed ones.
 */
import { createHash } from 'node:crypto';
import { RateLimitedError, z } from '@kvm-crm/shared';

/** The manager's `login` options; every default is declared here. */
export const loginThrottleOptionsSchema = z.object({
  maxConcurrentChecks: z.number().int().min(1).max(64).default(2).describe('Password checks (scrypt, on the thread pool) running at once. Default 2.'),
  maxQueuedChecks: z.number().int().min(0).max(100_000).default(64)
    .describe('Checks waiting for a slot; beyond it a login is answered 429 with `Retry-After: 1`. Default 64.'),
  userFailures: z.number().int().min(1).default(5).describe('Failures of one user name from one address, within the window, before it is locked. Default 5.'),
  sourceFailures: z.number().int().min(1).default(20)
    .describe('Failures from one address (any user names), within the window, before the address is locked. Default 20.'),
  windowSeconds: z.number().positive().default(60).describe('Seconds after the last failure (or the end of its lock) that a key is forgotten. Default 60.'),
  firstLockSeconds: z.number().positive().default(1)
    .describe('Lock after the failure that reaches a threshold, in seconds; doubled for each further failure. Default 1.'),
  maxLockSeconds: z.number().positive().default(300).describe('Longest lock, in seconds. Default 300.'),
  maxTrackedKeys: z.number().int().min(10).default(10_000).describe('Keys remembered at most (memory bound). Default 10000.'),
});
/** Validated `login` options. */
export type LoginThrottleOptions = z.infer<typeof loginThrottleOptionsSchema>;
/** The defaults of {@link loginThrottleOptionsSchema}. */
export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = loginThrottleOptionsSchema.parse({});

interface Entry {
  failures: number;
  /** Attempts of this key being checked now. */
  pending: number;
  lastFailureAt: number;
  lockedUntil: number;
}

/** One reserved attempt (from {@link LoginThrottle.begin}); call exactly one of its methods when it is decided. */
export interface LoginAttempt {
  /** The password matched: resets the (source, user) key. */
  succeeded(): void;
  /** The password did not match (or the user is unknown): counts a failure on both keys. */
  failed(): void;
  /** Nothing was decided (an internal error, a full check queue): the reservation is dropped. */
  release(): void;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses as they are. */
function plainSource(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/** Counts failed logins per (source, user) and per source and refuses attempts on locked keys (module comment). */
export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE,
    /** Clock in ms (tests). */
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of keys remembered (for tests of the memory bound). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Reserves an attempt of `user` from the address `source`.
   * @throws RateLimitedError (with the seconds to wait) when either key is locked or its in-flight attempts would
   *   reach its threshold.
   */
  begin(source: string, user: string): LoginAttempt {
    const src = plainSource(source);
    const now = this.now();
    const keys: Array<[string, number]> = [
      [this.digest('u', src, user), this.options.userFailures],
      [this.digest('s', src, ''), this.options.sourceFailures],
    ];
    let waitMs = 0;
    for (const [key, threshold] of keys) waitMs = Math.max(waitMs, this.waitMs(this.current(key, now), threshold, now));
    if (waitMs > 0) throw new RateLimitedError(`too many failed logins: retry in ${Math.ceil(waitMs / 1000)} s`, waitMs / 1000);
    const entries = keys.map(([key, threshold]) => ({ entry: this.entry(key, now), threshold }));
    for (const { entry } of entries) entry.pending++;
    let done = false;
    const settle = (apply: (e: Entry, threshold: number, isUserKey: boolean) => void) => {
      if (done) return;
      done = true;
      entries.forEach(({ entry, threshold }, i) => {
        entry.pending = Math.max(0, entry.pending - 1);
        apply(entry, threshold, i === 0);
      });
    };
    return {
      succeeded: () => settle((e, _t, isUserKey) => {
        if (isUserKey) Object.assign(e, { failures: 0, lockedUntil: 0 });
      }),
      failed: () => settle((e, threshold) => {
        const at = this.now();
        e.failures++;
        e.lastFailureAt = at;
        if (e.failures >= threshold) {
          const lock = Math.min(this.options.firstLockSeconds * 2 ** (e.failures - threshold), this.options.maxLockSeconds);
          e.lockedUntil = at + lock * 1000;
        }
      }),
      release: () => settle(() => undefined),
    };
  }

  /** Milliseconds to wait before an attempt on `e` may be checked (0: now). */
  private waitMs(e: Entry | undefined, threshold: number, now: number): number {
    if (!e || e.failures + e.pending < threshold) return 0;
    if (e.failures >= threshold && now < e.lockedUntil) return e.lockedUntil - now;
    // Below the threshold with attempts in flight that could reach it, or a lock just ended with a probe in flight.
    return e.pending > 0 ? 1000 : 0;
  }

  /** The entry of `key`, forgetting it when it is idle and `windowSeconds` passed since its last failure or lock. */
  private current(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && this.expired(e, now)) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private expired(e: Entry, now: number): boolean {
    return e.pending === 0 && now - Math.max(e.lastFailureAt, e.lockedUntil) >= this.options.windowSeconds * 1000;
  }

  /** The entry of `key`, created (within the memory bound) when absent; moved to the young end of the map. */
  private entry(key: string, now: number): Entry {
    const e = this.current(key, now) ?? { failures: 0, pending: 0, lastFailureAt: now, lockedUntil: 0 };
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxTrackedKeys) this.evict(now);
    this.entries.set(key, e);
    return e;
  }

  private evict(now: number): void {
    for (const [k, e] of this.entries) if (this.expired(e, now)) this.entries.delete(k);
    for (const [k, e] of this.entries) {
      if (this.entries.size < this.options.maxTrackedKeys) break;
      if (e.pending === 0) this.entries.delete(k);
    }
  }

  private digest(kind: 'u' | 's', source: string, user: string): string {
    return createHash('sha256').update(kind).update('\0').update(source).update('\0').update(user).digest('base64');
  }
}
