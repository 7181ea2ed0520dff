/**
 * The dashboard's JSON controller and static files (api/dashboard-api.ts, api/dashboard-router.ts) on a loopback
 * HTTP server, with a fake admin method table (a test fake: records the calls) and a fake login: session cookie
 * attributes, 401 without a session, CSRF on POSTs, viewer read only, actions mapped to the admin methods (and
 * audited when the table is), logout, 429 with Retry-After, CSP and cache headers on the static files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { NotFoundError, RateLimitedError, type Logger, type Principal, type XmlRpcCallContext } from '@kvm-crm/shared';
import { mountDashboard } from '../../dist/api/dashboard-router.js';
import { SESSION_COOKIE } from '../../dist/api/dashboard-api.js';
import { auditAdminCalls } from '../../dist/api/admin-audit.js';
import { DashboardSessionService } from '../../dist/services/dashboard-sessions.js';

const logs: Array<{ message: string; meta: Record<string, unknown> }> = [];
const logger = {
  info: (message: string, meta: Record<string, unknown> = {}) => logs.push({ message, meta }),
  warn: () => undefined, error: () => undefined, debug: () => undefined,
  child: () => logger,
} as unknown as Logger;

describe('dashboard API with a fake admin method table', () => {
  let server: Server;
  let url: string;
  let dir: string;
  const calls: Array<{ method: string; params: unknown[]; principal?: string }> = [];
  const users: Record<string, { password: string; principal: Principal }> = {
    ada: { password: 'pw-admin', principal: { name: 'ada', roles: ['admin'] } },
    vic: { password: 'pw-viewer', principal: { name: 'vic', roles: ['viewer'] } },
  };
  let locked = false;
  const record = (method: string, answer: unknown) => (params: unknown[], ctx: XmlRpcCallContext) => {
    calls.push({ method, params, principal: ctx.principal?.name });
    return answer;
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-dash-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="/ui/assets/app-abc123.js"></script>');
    await writeFile(path.join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    const admin = auditAdminCalls({
      'host.capacity': record('host.capacity', [{ host: 'kvm1', state: 'up', vms: 2, cpus: { total: 16, used: 2, available: 14 }, memoryMiB: { total: 4096, used: 256, available: 3840 }, diskGiB: { total: 100, used: 2, available: 98 }, refreshedAt: '' }]),
      'host.list': record('host.list', [{ host: 'kvm1', enabled: true, available: true, draining: false }]),
      'vm.list': record('vm.list', Array.from({ length: 120 }, (_, i) => ({ uuid: `u${i}`, name: `vm${i}`, state: i % 2 ? 'running' : 'stopped', server: 'kvm1', ip: `10.0.0.${i}`, interfaces: [] }))),
      'vm.action': record('vm.action', { actionId: 'a1' }),
      'action.list': record('action.list', []),
      'action.show': (p) => {
        throw new NotFoundError(`no action ${(p[0] as { id: string }).id}`);
      },
      'action.retry': record('action.retry', true),
      'action.fail': record('action.fail', true),
      'server.setEnabled': record('server.setEnabled', true),
      'range.list': record('range.list', []),
      'callback.list': record('callback.list', []),
    }, logger);
    const app = express();
    mountDashboard(app, {
      sessions: new DashboardSessionService(),
      login: async (user, password) => {
        if (locked) throw new RateLimitedError('too many failed logins', 7);
        const u = users[user];
        return u && u.password === password ? u.principal : undefined;
      },
      admin, logger, assetsDir: dir,
    });
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const login = async (user: string, password: string) => {
    const r = await fetch(`${url}/ui/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
    const setCookie = r.headers.get('set-cookie') ?? '';
    const body = (await r.json()) as { csrfToken?: string; role?: string; error?: string };
    return { status: r.status, setCookie, body, cookie: setCookie.split(';')[0] ?? '' };
  };
  const req = (p: string, cookie: string, init: { method?: string; csrf?: string; body?: unknown } = {}) =>
    fetch(`${url}/ui/api/${p}`, {
      method: init.method ?? 'GET',
      headers: { cookie, 'content-type': 'application/json', ...(init.csrf ? { 'x-csrf-token': init.csrf } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });

  test('a login sets an HttpOnly, Secure, SameSite=Strict __Host- cookie; a wrong one is 401; a locked one 429', async () => {
    const ok = await login('ada', 'pw-admin');
    assert.equal(ok.status, 200);
    assert.match(ok.setCookie, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=28800$`));
    assert.equal(ok.body.role, 'admin');
    assert.match(ok.body.csrfToken ?? '', /^[A-Za-z0-9_-]{43}$/);
    const bad = await login('ada', 'wrong');
    assert.equal(bad.status, 401);
    assert.equal(bad.setCookie, '');
    locked = true;
    const r = await fetch(`${url}/ui/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ada', password: 'x' }) });
    locked = false;
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '7');
    const empty = await fetch(`${url}/ui/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":""}' });
    assert.equal(empty.status, 400);
  });

  test('without a session every route is 401; with one the reads go through the admin methods', async () => {
    assert.equal((await req('hosts', '')).status, 401);
    assert.equal((await req('hosts', `${SESSION_COOKIE}=forged`)).status, 401);
    const { cookie } = await login('vic', 'pw-viewer');
    calls.length = 0;
    const hosts = (await (await req('hosts', cookie)).json()) as Array<Record<string, unknown>>;
    assert.deepEqual(hosts.map((h) => [h.host, h.state, h.enabled, h.agentReachable, h.vms]), [['kvm1', 'up', true, true, 2]]);
    assert.deepEqual(calls.map((c) => [c.method, c.principal]).sort(), [['host.capacity', 'vic'], ['host.list', 'vic']]);
    const page = (await (await req('vms?state=running&offset=10&limit=20', cookie)).json()) as { total: number; items: Array<{ name: string }> };
    assert.equal(page.total, 60);
    assert.equal(page.items.length, 20);
    assert.equal(page.items[0]!.name, 'vm99', 'newest first, from offset 10');
    assert.equal((await req('vms?limit=0', cookie)).status, 400);
    const missing = await req('actions/nope', cookie);
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /NotFoundError: no action nope/);
    assert.equal((await req('nothing-here', cookie)).status, 404);
  });

  test('POSTs need the CSRF token and role admin; actions call the same admin methods, audited', async () => {
    const a = await login('ada', 'pw-admin');
    const csrf = a.body.csrfToken!;
    calls.length = 0;
    assert.equal((await req('vms/vm3/stop', a.cookie, { method: 'POST' })).status, 403, 'no token');
    assert.equal((await req('vms/vm3/stop', a.cookie, { method: 'POST', csrf: `${csrf.slice(0, -1)}x` })).status, 403, 'wrong token');
    assert.equal(calls.length, 0, 'nothing ran');
    const stop = await req('vms/vm3/stop', a.cookie, { method: 'POST', csrf });
    assert.equal(stop.status, 200);
    assert.deepEqual(await stop.json(), { actionId: 'a1' });
    assert.equal((await req('vms/vm3/reboot', a.cookie, { method: 'POST', csrf })).status, 400, 'only start, stop, delete');
    assert.equal((await req('actions/a9/retry', a.cookie, { method: 'POST', csrf, body: {} })).status, 400, 'a reason is needed');
    assert.equal((await req('actions/a9/fail', a.cookie, { method: 'POST', csrf, body: { why: 'host gone' } })).status, 200);
    assert.equal((await req('hosts/kvm1/enabled', a.cookie, { method: 'POST', csrf, body: { enabled: 'no' } })).status, 400);
    assert.equal((await req('hosts/kvm1/enabled', a.cookie, { method: 'POST', csrf, body: { enabled: false } })).status, 200);
    assert.deepEqual(calls.map((c) => [c.method, c.params, c.principal]), [
      ['vm.action', [{ vm: 'vm3', type: 'stop' }], 'ada'],
      ['action.fail', [{ id: 'a9', why: 'host gone' }], 'ada'],
      ['server.setEnabled', [{ server: 'kvm1', enabled: false }], 'ada'],
    ]);
    const audited = logs.filter((l) => l.message === 'admin call' && l.meta.method === 'vm.action');
    assert.equal(audited.length, 1);
    assert.equal(audited[0]!.meta.principal, 'ada');

    const v = await login('vic', 'pw-viewer');
    calls.length = 0;
    const refused = await req('vms/vm3/start', v.cookie, { method: 'POST', csrf: v.body.csrfToken });
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: string }).error, /role admin is needed/);
    assert.equal((await req('hosts/kvm1/enabled', v.cookie, { method: 'POST', csrf: v.body.csrfToken, body: { enabled: true } })).status, 403);
    assert.equal(calls.length, 0);
  });

  test('logout ends the session on the server', async () => {
    const a = await login('ada', 'pw-admin');
    assert.equal((await req('session', a.cookie)).status, 200);
    assert.equal((await req('logout', a.cookie, { method: 'POST' })).status, 403, 'logout needs the token too');
    const out = await req('logout', a.cookie, { method: 'POST', csrf: a.body.csrfToken });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await req('session', a.cookie)).status, 401);
  });

  test('static files: strict CSP everywhere, index revalidated, hashed assets immutable, API not cached', async () => {
    const index = await fetch(`${url}/ui/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    const js = await fetch(`${url}/ui/assets/app-abc123.js`);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript|^application\/javascript/);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal((await fetch(`${url}/ui/assets/missing.js`)).status, 404);
    assert.equal((await fetch(`${url}/ui`, { redirect: 'manual' })).status, 301);
    const api = await fetch(`${url}/ui/api/session`);
    assert.equal(api.headers.get('cache-control'), 'no-store');
    assert.ok(api.headers.get('content-security-policy'));
  });
});
