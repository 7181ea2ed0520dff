/**
 * Northbound HTTP Basic authentication against the principals (scrypt hashes).
 *
 * A scrypt check costs ~65 ms of CPU on our machines (measured), paid on every OCF call otherwise. Successful
 * checks are cached for `cacheSeconds` under a SHA-256 of user and password, the way web servers cache Basic
 * credentials; failures are never cached. A removed principal can thus keep working for up to `cacheSeconds` on
 * managers other than the one that removed it ({@link forget} clears it on this one).
 */
import { createHash } from 'node:crypto';
import { verifyPassword, type Principal } from '@kvm-crm/shared';
import type { PrincipalEntry } from './principal-service.js';

/** Checks HTTP Basic credentials against the principals, caching successes (see the file comment). */
export class BasicAuthenticator {
  private readonly cache = new Map<string, { principal: Principal; expires: number }>();

  constructor(
    /** Looks a principal up by name. */
    private readonly lookup: (name: string) => Promise<PrincipalEntry | undefined>,
    /** Seconds a successful check is remembered. Default 60; 0 disables the cache. */
    private readonly cacheSeconds = 60,
    /** The password check; replaceable so tests can count calls. Default scrypt {@link verifyPassword}. */
    private readonly verify: (password: string, encoded: string) => boolean = verifyPassword,
  ) {}

  /** The principal when `user`/`pass` match a principal that has `role`, else undefined. */
  async authenticate(user: string, pass: string, role: string): Promise<Principal | undefined> {
    const key = createHash('sha256').update(user).update('\0').update(pass).digest('base64');
    const now = Date.now();
    let hit = this.cache.get(key);
    if (!hit || hit.expires < now) {
      this.cache.delete(key);
      const record = await this.lookup(user);
      if (!record?.passwordScrypt || !this.verify(pass, record.passwordScrypt)) return undefined;
      hit = { principal: { name: record.name, roles: [...record.roles] }, expires: now + this.cacheSeconds * 1000 };
      if (this.cacheSeconds > 0) {
        if (this.cache.size > 1000) this.cache.clear();
        this.cache.set(key, hit);
      }
    }
    return hit.principal.roles.includes(role) ? hit.principal : undefined;
  }

  /** Drops every cached success of `name` (after it was removed or its roles changed). */
  forget(name: string): void {
    for (const [k, v] of this.cache) if (v.principal.name === name) this.cache.delete(k);
  }
}
