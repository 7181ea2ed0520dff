/**
 * Northbound HTTP Basic authentication against the configured principals (scrypt hashes).
 *
 * A scrypt check costs ~65 ms of CPU on our machines (measured), which is paid on every OCF call otherwise.
 * Successful checks are cached for `cacheSeconds` under a SHA-256 of user and password, the way web servers
 * cache Basic credentials; failures are never cached. Removing a user takes effect at the next restart anyway
 * (principals come from the config file).
 */
import { createHash } from 'node:crypto';
import { verifyPassword, type Principal } from '@kvm-crm/shared';

/** A configured principal. */
export interface PrincipalRecord {
  name: string;
  passwordScrypt: string;
  roles: string[];
}

export class BasicAuthenticator {
  private readonly cache = new Map<string, { principal: Principal; expires: number }>();

  constructor(
    private readonly users: readonly PrincipalRecord[],
    /** Seconds a successful check is remembered. Default 60; 0 disables the cache. */
    private readonly cacheSeconds = 60,
    /** The password check; replaceable so tests can count calls. Default scrypt {@link verifyPassword}. */
    private readonly verify: (password: string, encoded: string) => boolean = verifyPassword,
  ) {}

  /** The principal when `user`/`pass` match a configured principal that has `role`, else undefined. */
  authenticate(user: string, pass: string, role: string): Principal | undefined {
    const key = createHash('sha256').update(user).update('\0').update(pass).digest('base64');
    const now = Date.now();
    let principal = this.cache.get(key);
    if (!principal || principal.expires < now) {
      this.cache.delete(key);
      const record = this.users.find((u) => u.name === user);
      if (!record || !this.verify(pass, record.passwordScrypt)) return undefined;
      principal = { principal: { name: record.name, roles: [...record.roles] }, expires: now + this.cacheSeconds * 1000 };
      if (this.cacheSeconds > 0) {
        if (this.cache.size > 1000) this.cache.clear();
        this.cache.set(key, principal);
      }
    }
    return principal.principal.roles.includes(role) ? principal.principal : undefined;
  }
}
