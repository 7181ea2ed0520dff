/**
 * Northbound HTTP Basic authentication against the principals (scrypt hashes; docs/ocf-protocol.md §1.3).
 *
 * A scrypt check costs ~65 ms of CPU on our machines (measured). It runs on libuv's thread pool
 * ({@link verifyPasswordAsync}), at most `maxConcurrentChecks` at once ({@link CheckSlots}), behind a failure
 * backoff per (source, user) and per source ({@link LoginThrottle}: HTTP 429 with `Retry-After`). An unknown user,
 * or one with certificate login only, is checked against a dummy hash with the same parameters, so the answer
 * takes as long as for a known user and timing does not tell which names exist (decision 016).
 *
 * Successful checks are cached for `cacheSeconds` under a SHA-256 of user and password, the way web servers cache
 * Basic credentials; failures are never cached. A cached success is served without a check and without the
 * throttle (it proves the password was right), so a clearinghouse keeps working while someone guesses from its
 * address. Concurrent requests with the same credentials share one check (single flight): a clearinghouse that opens
 * 200 connections at once costs one scrypt, not 200 throttled ones. A removed principal can thus keep working for up to `cacheSeconds` on managers other than the one that
 * removed it ({@link forget} clears it on this one).
 */
import { createHash } from 'node:crypto';
import { dummyPasswordHash, verifyPasswordAsync, type Principal } from '@kvm-crm/shared';
import { CheckSlots } from './check-slots.js';
import { DEFAULT_LOGIN_THROTTLE, LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
import type { PrincipalEntry } from './principal-service.js';

/** Checks HTTP Basic credentials against the principals, caching successes (see the file comment). */
export class BasicAuthenticator {
  private readonly cache = new Map<string, { principal: Principal; expires: number }>();
  /** Checks running now, by credential digest: later requests with the same credentials wait for the same answer. */
  private readonly inFlight = new Map<string, Promise<Principal | undefined>>();
  private readonly throttle: LoginThrottle;
  private readonly slots: CheckSlots;

  constructor(
    /** Looks a principal up by name. */
    private readonly lookup: (name: string) => Promise<PrincipalEntry | undefined>,
    /** Seconds a successful check is remembered. Default 60; 0 disables the cache. */
    private readonly cacheSeconds = 60,
    /** The password check; replaceable so tests can count calls. Default scrypt on the thread pool. */
    private readonly verify: (password: string, encoded: string) => boolean | Promise<boolean> = verifyPasswordAsync,
    /** Concurrency cap and failure backoff (the manager's `login` options). */
    throttle: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE,
    /** Clock in ms (tests). */
    now: () => number = Date.now,
  ) {
    this.throttle = new LoginThrottle(throttle, now);
    this.slots = new CheckSlots(throttle.maxConcurrentChecks, throttle.maxQueuedChecks);
    void dummyPasswordHash(); // made now, off the event loop, so that the first unknown user waits no longer
  }

  /** Password checks running now and waiting (tests, diagnostics). */
  get checks(): { active: number; queued: number } {
    return { active: this.slots.active, queued: this.slots.queued };
  }

  /**
   * The principal when `user`/`pass` match a principal that has `role` (or, given a list, one of those roles), else
   * undefined. `source` is the caller's address (the throttle's key; default `unknown`).
   * @throws RateLimitedError when the (source, user) or the source is locked after failed logins, or too many checks
   *   are queued.
   */
  async authenticate(user: string, pass: string, role: string | readonly string[], source = 'unknown'): Promise<Principal | undefined> {
    const key = createHash('sha256').update(user).update('\0').update(pass).digest('base64');
    const hit = this.cache.get(key);
    let principal: Principal | undefined;
    if (hit && hit.expires >= Date.now()) {
      principal = hit.principal;
    } else {
      this.cache.delete(key);
      let pending = this.inFlight.get(key);
      if (!pending) {
        pending = this.check(key, user, pass, source).finally(() => this.inFlight.delete(key));
        this.inFlight.set(key, pending);
      }
      principal = await pending;
    }
    const wanted = typeof role === 'string' ? [role] : role;
    return principal?.roles.some((r) => wanted.includes(r)) ? principal : undefined;
  }

  /** One password check under the throttle and the check slots; caches a success. @throws RateLimitedError. */
  private async check(key: string, user: string, pass: string, source: string): Promise<Principal | undefined> {
    const attempt = this.throttle.begin(source, user);
    let outcome: 'ok' | 'bad' | undefined;
    try {
      const record = await this.lookup(user);
      const stored = record?.passwordScrypt ?? undefined;
      const encoded = stored ?? (await dummyPasswordHash());
      const matches = await this.slots.run(() => this.verify(pass, encoded));
      outcome = matches && stored !== undefined && record ? 'ok' : 'bad';
      if (outcome !== 'ok' || !record) return undefined;
      const principal: Principal = { name: record.name, roles: [...record.roles] };
      if (this.cacheSeconds > 0) {
        if (this.cache.size > 1000) this.cache.clear();
        this.cache.set(key, { principal, expires: Date.now() + this.cacheSeconds * 1000 });
      }
      return principal;
    } finally {
      if (outcome === 'ok') attempt.succeeded();
      else if (outcome === 'bad') attempt.failed();
      else attempt.release();
    }
  }

  /** Drops every cached success of `name` (after it was removed or its roles changed). */
  forget(name: string): void {
    for (const [k, v] of this.cache) if (v.principal.name === name) this.cache.delete(k);
  }
}
