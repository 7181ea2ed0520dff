/**
 * Dashboard sessions (services/dashboard-sessions.ts) with a fake clock: random ids, the admin/viewer role,
 * idle and absolute expiry, the CSRF check, forgetting a removed principal, the session cap; and the pure VM page
 * and host view of services/dashboard-view.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DashboardSessionService } from '../../dist/services/dashboard-sessions.js';
import { hostsView, pageVms, parseVmPageQuery } from '../../dist/services/dashboard-view.js';

test('sessions: role, random ids, idle and absolute expiry, CSRF, forget, cap', () => {
  let now = 1_000_000;
  const s = new DashboardSessionService({ idleSeconds: 600, maxSeconds: 3600, maxSessions: 3 }, () => now);
  const a = s.create({ name: 'ada', roles: ['viewer', 'admin'] });
  const v = s.create({ name: 'vic', roles: ['viewer'] });
  assert.equal(a.role, 'admin');
  assert.equal(v.role, 'viewer');
  assert.notEqual(a.id, v.id);
  assert.notEqual(a.id, a.csrfToken);
  assert.throws(() => s.create({ name: 'ch', roles: ['clearinghouse'] }), /neither role/);
  assert.equal(s.checkCsrf(a, a.csrfToken), true);
  assert.equal(s.checkCsrf(a, v.csrfToken), false);
  assert.equal(s.checkCsrf(a, undefined), false);
  assert.equal(s.checkCsrf(a, 'short'), false);

  now += 599_000;
  assert.equal(s.find(a.id)?.principal.name, 'ada', 'used within the idle time');
  now += 2000;
  assert.equal(s.find(v.id), undefined, 'vic idle for 601 s');
  for (let i = 0; i < 5; i++) {
    now += 500_000;
    assert.ok(s.find(a.id), `still alive at ${i}`);
  }
  now += 500_000; // 3,601+ s after login
  assert.equal(s.find(a.id), undefined, 'absolute expiry');

  const b = s.create({ name: 'bob', roles: ['admin'] });
  s.create({ name: 'bob', roles: ['admin'] });
  s.create({ name: 'cy', roles: ['viewer'] });
  const d = s.create({ name: 'dee', roles: ['viewer'] });
  assert.equal(s.size, 3, 'capped');
  assert.equal(s.find(b.id), undefined, 'the oldest dropped');
  s.forget('dee');
  assert.equal(s.find(d.id), undefined);
  assert.equal(s.size, 2);
  s.destroy(undefined);
  assert.equal(s.find(undefined), undefined);
});

test('sessions: roles read again at most once per recheck interval; demotion takes effect, removal or no dashboard role ends the session', async () => {
  let now = 1_000_000;
  const roles = new Map<string, string[]>([['ada', ['admin']], ['bob', ['viewer']]]);
  let lookups = 0;
  const s = new DashboardSessionService({ idleSeconds: 3600, maxSeconds: 7200 }, () => now, async (name) => {
    lookups++;
    const r = roles.get(name);
    return r ? { name, roles: r } : undefined;
  }, 60);
  const a = s.create({ name: 'ada', roles: ['admin'] });
  const b = s.create({ name: 'bob', roles: ['viewer'] });
  roles.set('ada', ['viewer']);
  now += 30_000;
  assert.equal((await s.findCurrent(a.id))?.role, 'admin', 'within the interval: no read');
  assert.equal(lookups, 0);
  now += 31_000;
  const demoted = await s.findCurrent(a.id);
  assert.equal(demoted?.role, 'viewer', 'after it: the demotion applies');
  assert.deepEqual(demoted?.principal.roles, ['viewer']);
  assert.equal(lookups, 1);
  assert.equal((await s.findCurrent(a.id))?.role, 'viewer');
  assert.equal(lookups, 1, 'read once per interval, not per request');
  roles.delete('bob');
  roles.set('ada', ['clearinghouse']);
  now += 61_000;
  assert.equal(await s.findCurrent(b.id), undefined, 'a removed principal: session ended');
  assert.equal(await s.findCurrent(a.id), undefined, 'no admin/viewer role any more: session ended');
  assert.equal(s.find(a.id), undefined, 'and dropped');
  assert.equal(await s.findCurrent(undefined), undefined);
});

test('VM page: filters by text (name, uuid, IP, MAC), state and host; newest first; bad paging refused', () => {
  const rows = [
    { uuid: 'u-1', name: 'web', state: 'running', server: 'kvm1', ip: '10.0.0.5', interfaces: [{ ip: '10.0.0.5', mac: '02:00:00:00:00:01' }] },
    { uuid: 'u-2', name: 'db', state: 'stopped', server: 'kvm2', ip: '10.0.0.6', interfaces: [{ ip: '10.0.0.6', mac: '02:00:00:00:00:AB' }] },
    { uuid: 'u-3', name: 'web2', state: 'running', server: 'kvm2', ip: '', interfaces: [] },
  ];
  assert.deepEqual(pageVms(rows, {}).items.map((r) => r.name), ['web2', 'db', 'web']);
  assert.deepEqual(pageVms(rows, { q: 'WEB' }).items.map((r) => r.name), ['web2', 'web']);
  assert.deepEqual(pageVms(rows, { q: '00:ab' }).items.map((r) => r.name), ['db']);
  assert.deepEqual(pageVms(rows, { q: '10.0.0.5' }).items.map((r) => r.name), ['web']);
  assert.deepEqual(pageVms(rows, { state: 'running', host: 'kvm2' }).items.map((r) => r.name), ['web2']);
  const p = pageVms(rows, { offset: 1, limit: 1 });
  assert.deepEqual([p.total, p.items.map((r) => r.name)], [3, ['db']]);
  assert.deepEqual(parseVmPageQuery({ q: 'x', offset: '5', limit: '20' }), { q: 'x', state: undefined, host: undefined, offset: 5, limit: 20 });
  assert.throws(() => parseVmPageQuery({ limit: '501' }), /limit must be an integer from 1 to 500/);
  assert.throws(() => parseVmPageQuery({ offset: '-1' }), /offset/);
  assert.throws(() => parseVmPageQuery({ q: ['a', 'b'] }), /q must be a text/);
});

test('host view joins the capacity report with the flags', () => {
  const v = hostsView(
    [{ host: 'kvm1', state: 'down', vms: 1, cpus: { total: 8, used: 1, available: 7 }, refreshedAt: '' }, { host: 'kvm2', state: 'disabled', vms: 0 }],
    [{ host: 'kvm1', enabled: true, available: false, draining: false }, { host: 'kvm2', enabled: false, available: true, draining: true }],
  );
  assert.deepEqual(v.map((h) => [h.host, h.state, h.enabled, h.agentReachable, h.draining]), [['kvm1', 'down', true, false, false], ['kvm2', 'disabled', false, true, true]]);
  assert.deepEqual(v[0]!.cpus, { total: 8, used: 1, available: 7 });
  assert.equal(v[1]!.memoryMiB, null);
});
