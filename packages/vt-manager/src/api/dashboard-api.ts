/**
 * `/ui/api/…`: the web dashboard's JSON controller (decision record 029). Thin: every read and every action is a
 * call of the audited admin XML-RPC method table (api/admin-*.ts through auditAdminCalls), so the dashboard has no
 * code path of its own into the services and its actions are logged as `admin call` like vtctl's.
 *
 * Login: `POST /login {user, password}` is checked by the manager's BasicAuthenticator (throttled, decision 016) for
 * role `admin` or `viewer`, and answered with a session cookie (`__Host-kvmcrm-ui`: HttpOnly, Secure,
 * SameSite=Strict, Path=/) and the session's CSRF token. Every other request needs the cookie; every POST also
 * needs the token in `X-CSRF-Token` and role `admin` for actions (a viewer gets 403).
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { AuthenticationError, InputError, KvmCrmError, NotAllowedError, NotFoundError, RateLimitedError, type Logger, type Principal, type XmlRpcMethod } from '@kvm-crm/shared';
import type { DashboardSession, DashboardSessionService } from '../services/dashboard-sessions.js';
import { hostsView, pageVms, parseVmPageQuery } from '../services/dashboard-view.js';

/** The session cookie's name (`__Host-`: the browser keeps it only when Secure, Path=/ and without Domain). */
export const SESSION_COOKIE = '__Host-kvmcrm-ui';
/** The header that carries the CSRF token on POSTs. */
export const CSRF_HEADER = 'x-csrf-token';

/** What the controller needs. */
export interface DashboardApiDeps {
  sessions: DashboardSessionService;
  /**
   * Checks a password login for role `admin` or `viewer` (BasicAuthenticator: throttled). Resolves undefined when
   * refused. @throws RateLimitedError when the source or user is locked.
   */
  login: (user: string, password: string, source: string) => Promise<Principal | undefined>;
  /** The admin method table, audited (the same one `/xmlrpc/admin` serves). */
  admin: Record<string, XmlRpcMethod>;
  logger: Logger;
}

/** VM verbs offered on the page (vm.action types). */
const VM_VERBS = new Set(['start', 'stop', 'delete']);

type Locals = { session: DashboardSession };

/** The session cookie's value from the request, if any. */
function cookieValue(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A string field of a JSON body. @throws InputError when absent, not a string, empty, or longer than `max`. */
function bodyString(body: unknown, key: string, max = 1000): string {
  const v = body && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) throw new InputError(`field ${key} must be a text of 1 to ${max} characters`);
  return v;
}

/**
 * The router to mount at `/ui/api`. Errors become `{error}` with the KvmCrmError's HTTP status (429 with
 * Retry-After); anything else is logged and answered 500 `internal error`.
 */
export function dashboardApi(deps: DashboardApiDeps): Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  const call = async (method: string, params: unknown[], req: Request, res: Response): Promise<unknown> => {
    const fn = deps.admin[method];
    if (!fn) throw new KvmCrmError(`admin method ${method} is not offered`);
    const { session } = res.locals as Locals;
    return fn(params, { principal: session.principal, remoteAddress: req.socket.remoteAddress, log: deps.logger });
  };
  const sessionView = (s: DashboardSession) => ({ user: s.principal.name, role: s.role, csrfToken: s.csrfToken });
  const setCookie = (res: Response, value: string, maxAge: number) =>
    res.set('Set-Cookie', `${SESSION_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`);

  router.post('/login', async (req, res) => {
    const user = bodyString(req.body, 'user', 100);
    const password = bodyString(req.body, 'password', 1000);
    const principal = await deps.login(user, password, req.socket.remoteAddress ?? 'unknown');
    if (!principal) throw new AuthenticationError('wrong user or password, or no dashboard role (admin or viewer)');
    deps.sessions.destroy(cookieValue(req));
    const session = deps.sessions.create(principal);
    deps.logger.info('dashboard login', { principal: principal.name, role: session.role, remote: req.socket.remoteAddress });
    setCookie(res, session.id, deps.sessions.maxSeconds);
    res.json(sessionView(session));
  });

  // Everything below needs a session; a POST also the CSRF token.
  router.use(async (req, res, next) => {
    const session = await deps.sessions.findCurrent(cookieValue(req)); // roles read again at most once a minute
    if (!session) throw new AuthenticationError('not logged in');
    if (req.method !== 'GET' && req.method !== 'HEAD' && !deps.sessions.checkCsrf(session, req.get(CSRF_HEADER))) throw new NotAllowedError('missing or wrong CSRF token');
    (res.locals as Locals).session = session;
    next();
  });
  const adminOnly = (_req: Request, res: Response, next: NextFunction) => {
    if ((res.locals as Locals).session.role !== 'admin') throw new NotAllowedError('role admin is needed for actions; this login is read only');
    next();
  };

  router.get('/session', (_req, res) => res.json(sessionView((res.locals as Locals).session)));
  router.post('/logout', (req, res) => {
    deps.sessions.destroy((res.locals as Locals).session.id);
    setCookie(res, '', 0);
    res.status(204).end();
  });
  router.get('/hosts', async (req, res) => {
    const [capacity, facts] = await Promise.all([call('host.capacity', [], req, res), call('host.list', [], req, res)]);
    res.json(hostsView(capacity as Record<string, unknown>[], facts as Record<string, unknown>[]));
  });
  router.get('/vms', async (req, res) => {
    const query = parseVmPageQuery(req.query as Record<string, unknown>);
    res.json(pageVms((await call('vm.list', [], req, res)) as Record<string, unknown>[], query));
  });
  router.get('/actions', async (req, res) => {
    const status = typeof req.query.status === 'string' && req.query.status ? req.query.status : undefined;
    const vm = typeof req.query.vm === 'string' && req.query.vm ? req.query.vm : undefined;
    const rows = (await call('action.list', [{ ...(status ? { status } : {}), ...(vm ? { vm } : {}) }], req, res)) as unknown[];
    res.json(rows.slice(0, 200));
  });
  router.get('/actions/:id', async (req, res) => res.json(await call('action.show', [{ id: req.params.id }], req, res)));
  router.get('/pools', async (req, res) => res.json(await call('range.list', [], req, res)));
  router.get('/callbacks', async (req, res) => res.json(await call('callback.list', [{ limit: 200 }], req, res)));

  router.post('/vms/:vm/:verb', adminOnly, async (req, res) => {
    const verb = String(req.params.verb);
    if (!VM_VERBS.has(verb)) throw new InputError(`verb must be one of ${[...VM_VERBS].join(', ')}`);
    res.json(await call('vm.action', [{ vm: req.params.vm, type: verb }], req, res));
  });
  router.post('/actions/:id/:verb', adminOnly, async (req, res) => {
    const verb = String(req.params.verb);
    if (verb !== 'retry' && verb !== 'fail') throw new InputError('verb must be retry or fail');
    res.json(await call(`action.${verb}`, [{ id: req.params.id, why: bodyString(req.body, 'why', 500) }], req, res));
  });
  router.post('/hosts/:host/enabled', adminOnly, async (req, res) => {
    const enabled = (req.body as Record<string, unknown> | undefined)?.enabled;
    if (typeof enabled !== 'boolean') throw new InputError('field enabled must be a boolean');
    res.json(await call('server.setEnabled', [{ server: req.params.host, enabled }], req, res));
  });

  router.use((_req, _res, next) => next(new NotFoundError('no such dashboard API route')));
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof RateLimitedError) res.set('Retry-After', String(err.retryAfterSeconds));
    if (err instanceof KvmCrmError) {
      res.status(err.httpStatus).json({ error: `${err.name}: ${err.message}` });
      return;
    }
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: 'malformed request' }); // express.json: bad JSON, body too large
      return;
    }
    deps.logger.error('dashboard API error', { error: String(err) });
    res.status(500).json({ error: 'InternalError: internal error' });
  });
  return router;
}
