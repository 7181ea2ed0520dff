/**
 * Login sessions of the web dashboard (`/ui/`, decision record 029): a random id (32 bytes, base64url) handed to the
 * browser in an HttpOnly cookie, a CSRF token (32 bytes) the page sends back in a header on every mutating request,
 * and a server-side expiry (idle and absolute). Kept in this process's memory: a manager restart logs everyone out,
 * which is acceptable for an operator page and keeps session ids out of the database and its backups.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Principal } from '@kvm-crm/shared';

/** Session limits (the manager's `dashboard` options). */
export const dashboardSessionOptionsSchema = z
  .object({
    /** Seconds without a request after which a session ends. Default 1800 (30 minutes). */
    idleSeconds: z.number().int().min(60).max(86_400).default(1800),
    /** Seconds after login after which a session ends whatever its use. Default 28800 (8 hours). */
    maxSeconds: z.number().int().min(60).max(7 * 86_400).default(28_800),
    /** Sessions kept at most; the oldest is dropped for a new one beyond it. Default 1000. */
    maxSessions: z.number().int().min(1).max(100_000).default(1000),
  })
  .strict();

/** Resolved session limits. */
export type DashboardSessionOptions = z.infer<typeof dashboardSessionOptionsSchema>;

/** One logged-in browser. Times in ms since the epoch. */
export interface DashboardSession {
  /** The cookie value (never logged). */
  id: string;
  /** The token the page must send in `X-CSRF-Token` with every POST. */
  csrfToken: string;
  principal: Principal;
  /** `admin` may act; `viewer` only reads. */
  role: 'admin' | 'viewer';
  createdAt: number;
  lastSeenAt: number;
  /** When the principal's roles were last read from the principal store (see {@link DashboardSessionService.findCurrent}). */
  checkedAt: number;
}

/** Reads a principal's current roles (PrincipalService.find); undefined when the principal is gone. */
export type PrincipalLookup = (name: string) => Promise<{ name: string; roles: readonly string[] } | undefined>;

/** How often a session's principal is read again: 60 s (a role change or removal takes effect within a minute). */
export const ROLE_RECHECK_SECONDS = 60;

const sessionRole = (roles: readonly string[]) => (roles.includes('admin') ? 'admin' : roles.includes('viewer') ? 'viewer' : undefined);

/** Creates, finds and ends dashboard sessions (see the file comment). */
export class DashboardSessionService {
  private readonly sessions = new Map<string, DashboardSession>();
  private readonly options: DashboardSessionOptions;

  constructor(
    options: Partial<DashboardSessionOptions> = {},
    /** Clock in ms (tests). */
    private readonly now: () => number = Date.now,
    /** Where {@link findCurrent} reads the principal's roles again; default none (sessions keep their login roles). */
    private readonly lookup?: PrincipalLookup,
    /** Seconds between those reads per session; default {@link ROLE_RECHECK_SECONDS}. */
    private readonly recheckSeconds = ROLE_RECHECK_SECONDS,
  ) {
    this.options = dashboardSessionOptionsSchema.parse(options);
  }

  /** Seconds a session lives at most (the cookie's Max-Age). */
  get maxSeconds(): number {
    return this.options.maxSeconds;
  }

  /**
   * A new session for `principal`, who must hold role `admin` or `viewer` (admin wins when it has both).
   * @throws Error when the principal has neither role (the caller checked the login first).
   */
  create(principal: Principal): DashboardSession {
    const role = sessionRole(principal.roles);
    if (!role) throw new Error(`principal ${principal.name} has neither role admin nor viewer`);
    this.prune();
    if (this.sessions.size >= this.options.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const at = this.now();
    const session: DashboardSession = {
      id: randomBytes(32).toString('base64url'),
      csrfToken: randomBytes(32).toString('base64url'),
      principal: { name: principal.name, roles: [...principal.roles] },
      role,
      createdAt: at,
      lastSeenAt: at,
      checkedAt: at,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id (its idle clock restarted), or undefined when unknown or expired (then dropped). */
  find(id: string | undefined): DashboardSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const at = this.now();
    if (this.expired(s, at)) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeenAt = at;
    return s;
  }

  /**
   * {@link find}, and when the principal's roles were read more than `recheckSeconds` ago, reads them again: a
   * principal that is gone or holds neither `admin` nor `viewer` any more ends the session (undefined); otherwise the
   * session takes the current roles (an admin demoted to viewer reads only from then on).
   * @throws whatever the lookup throws (the database unreachable): the request fails, the session is kept.
   */
  async findCurrent(id: string | undefined): Promise<DashboardSession | undefined> {
    const s = this.find(id);
    if (!s || !this.lookup) return s;
    const at = this.now();
    if (at - s.checkedAt < this.recheckSeconds * 1000) return s;
    const p = await this.lookup(s.principal.name);
    const role = p ? sessionRole(p.roles) : undefined;
    if (!p || !role) {
      this.sessions.delete(s.id);
      return undefined;
    }
    s.principal = { name: p.name, roles: [...p.roles] };
    s.role = role;
    s.checkedAt = at;
    return s;
  }

  /** Whether `token` is the session's CSRF token (constant-time comparison). */
  checkCsrf(session: DashboardSession, token: string | undefined): boolean {
    if (!token) return false;
    const a = Buffer.from(token);
    const b = Buffer.from(session.csrfToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Ends the session (logout); unknown ids are ignored. */
  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** Ends every session of `name` (after the principal was removed). */
  forget(name: string): void {
    for (const [id, s] of this.sessions) if (s.principal.name === name) this.sessions.delete(id);
  }

  /** Sessions alive now (tests, diagnostics). */
  get size(): number {
    this.prune();
    return this.sessions.size;
  }

  private expired(s: DashboardSession, at: number): boolean {
    return at - s.lastSeenAt > this.options.idleSeconds * 1000 || at - s.createdAt > this.options.maxSeconds * 1000;
  }

  private prune(): void {
    const at = this.now();
    for (const [id, s] of this.sessions) if (this.expired(s, at)) this.sessions.delete(id);
  }
}
