/**
 * Metrics and health building blocks (decision record 028): a registry per instance, snapshot sharing, bounded
 * labels, readiness checks with timeouts, the `/healthz` `/readyz` `/metrics` handler with its authorisation, the
 * plain-HTTP listener, and the XML-RPC observer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import express from 'express';
import { Counter } from 'prom-client';
import { InputError } from '../../dist/errors.js';
import { createLogger } from '../../dist/logger.js';
import { boundedLabel, createMetricsRegistry, sharedSnapshot } from '../../dist/metrics/metrics-registry.js';
import { observabilityHandler, startMetricsListener } from '../../dist/metrics/observability-endpoints.js';
import { cachedReadiness, runReadinessChecks } from '../../dist/metrics/readiness.js';
import { createXmlRpcHandler, serialiseMethodCall } from '../../dist/xmlrpc/server.js';

const logger = createLogger({ component: 'test', silent: true });

function request(port: number, p: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

async function serve(t: { after(fn: () => unknown): void }, app: express.Express): Promise<number> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return (server.address() as { port: number }).port;
}

test('each registry is its own: counters of one instance never show in another, defaults collected in each', async () => {
  const a = createMetricsRegistry();
  const b = createMetricsRegistry();
  const ca = new Counter({ name: 'kvmcrm_test_total', help: 'test', registers: [a] });
  new Counter({ name: 'kvmcrm_test_total', help: 'test', registers: [b] }); // same name, no clash
  ca.inc(3);
  assert.match(await a.metrics(), /^kvmcrm_test_total 3$/m);
  assert.match(await b.metrics(), /^kvmcrm_test_total 0$/m);
  assert.match(await a.metrics(), /^nodejs_eventloop_lag_seconds /m);
});

test('sharedSnapshot: one read serves calls within maxAge and while it runs; a failed read is not kept', async () => {
  let now = 0;
  let reads = 0;
  let fail = false;
  const read = sharedSnapshot(async () => {
    reads++;
    if (fail) throw new Error('down');
    return reads;
  }, 1000, () => now);
  assert.deepEqual(await Promise.all([read(), read()]), [1, 1]);
  now = 999;
  assert.equal(await read(), 1);
  now = 1000;
  assert.equal(await read(), 2);
  fail = true;
  now = 5000;
  await assert.rejects(read(), /down/);
  fail = false;
  assert.equal(await read(), 4, 'the failure was not cached');
  assert.equal(boundedLabel('create', ['create']), 'create');
  assert.equal(boundedLabel('x'.repeat(100), ['create']), 'other');
});

test('runReadinessChecks: each check named with its error; a hanging check times out; ready only when all pass', async () => {
  const report = await runReadinessChecks([
    { name: 'fine', run: async () => undefined },
    { name: 'broken', run: async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:3306'); } },
    { name: 'slow', run: () => new Promise(() => undefined) },
  ], 0.2);
  assert.equal(report.ready, false);
  assert.equal(report.status, 'not ready');
  assert.deepEqual(report.failed, ['broken', 'slow']);
  assert.equal(report.checks.find((c) => c.name === 'broken')?.error, 'connect ECONNREFUSED 127.0.0.1:3306');
  assert.equal(report.checks.find((c) => c.name === 'slow')?.error, 'timed out after 0.2 s');
  assert.equal(report.checks.find((c) => c.name === 'fine')?.error, undefined);
  assert.equal((await runReadinessChecks([{ name: 'fine', run: async () => undefined }])).ready, true);
});

test('cachedReadiness: concurrent callers share one run, a report is reused for ttlSeconds, then the checks run again; timeout reason class', async () => {
  let runs = 0;
  let release: () => void = () => undefined;
  const readiness = cachedReadiness([{ name: 'db', failure: 'unreachable', run: () => { runs++; return new Promise<void>((r) => { release = r; }); } }], { ttlSeconds: 0.3, timeoutSeconds: 5 });
  const all = Promise.all([readiness(), readiness(), readiness()]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(runs, 1, 'one run in flight for three callers');
  release();
  const reports = await all;
  assert.ok(reports.every((r) => r.ready));
  await readiness();
  assert.equal(runs, 1, 'cached within ttl');
  await new Promise((r) => setTimeout(r, 350));
  const next = readiness();
  release();
  await next;
  assert.equal(runs, 2, 'run again after ttl');
  const slow = await runReadinessChecks([{ name: 'slow', failure: 'unreachable', run: () => new Promise(() => undefined) }], 0.1);
  assert.equal(slow.checks[0]?.reason, 'timeout');
});

test('observabilityHandler: /healthz, /readyz 200/503 with JSON, /metrics behind authorize (refusals counted), other paths passed on', async (t) => {
  const registry = createMetricsRegistry();
  new Counter({ name: 'kvmcrm_handler_test_total', help: 'test', registers: [registry] }).inc();
  let ready = true;
  const refused: number[] = [];
  const handle = observabilityHandler({
    registry, logger,
    readiness: () => runReadinessChecks([{ name: 'database', failure: 'unreachable', run: async () => { if (!ready) throw new Error('database down'); } }]),
    authorize: async (req) => (req.headers['x-allow'] === 'yes' ? undefined : { status: 401, reason: 'credentials required' }),
    onRefused: (r) => refused.push(r.status),
  });
  const app = express();
  app.use((req, res, next) => {
    if (!handle(req, res)) next();
  });
  app.get('/other', (_req, res) => void res.send('other'));
  const port = await serve(t, app);

  const h = await request(port, '/healthz');
  assert.equal(h.status, 200);
  assert.equal((JSON.parse(h.body) as { status: string }).status, 'ok');
  assert.equal((await request(port, '/readyz')).status, 200);
  ready = false;
  const down = await request(port, '/readyz');
  assert.equal(down.status, 503);
  assert.deepEqual((JSON.parse(down.body) as { failed: string[] }).failed, ['database']);
  assert.deepEqual((JSON.parse(down.body) as { checks: unknown[] }).checks, [{ name: 'database', ok: false, reason: 'unreachable' }], 'anonymous: name, ok and a generic reason only');
  assert.doesNotMatch(down.body, /database down/);
  const full = JSON.parse((await request(port, '/readyz', { headers: { 'x-allow': 'yes' } })).body) as { checks: Array<{ error?: string }> };
  assert.equal(full.checks[0]?.error, 'database down', 'an authorised caller gets the error text');

  const no = await request(port, '/metrics');
  assert.equal(no.status, 401);
  assert.match(String(no.headers['www-authenticate']), /^Basic /);
  assert.deepEqual(refused, [401]);
  const yes = await request(port, '/metrics', { headers: { 'x-allow': 'yes' } });
  assert.equal(yes.status, 200);
  assert.match(yes.body, /^kvmcrm_handler_test_total 1$/m);
  assert.equal((await request(port, '/other')).body, 'other');
  assert.equal((await request(port, '/metrics', { method: 'POST', headers: { 'x-allow': 'yes' } })).status, 404, 'POST is not ours');
});

test('startMetricsListener: plain HTTP without credentials, 404 elsewhere; closes', async () => {
  const registry = createMetricsRegistry();
  const listener = await startMetricsListener({ host: '127.0.0.1', port: 0 }, { registry, logger, readiness: () => runReadinessChecks([]) });
  try {
    assert.equal((await request(listener.port, '/metrics')).status, 200);
    assert.equal((await request(listener.port, '/readyz')).status, 200);
    assert.equal((await request(listener.port, '/xmlrpc/admin')).status, 404);
  } finally {
    await listener.close();
  }
  await assert.rejects(request(listener.port, '/metrics'), /ECONNREFUSED/);
});

test('XML-RPC observer: results and faults by method (unknown names bounded), refusals by status', async (t) => {
  const calls: Array<[string, string | undefined]> = [];
  const refusals: number[] = [];
  const app = express();
  app.post('/rpc', createXmlRpcHandler({
    methods: { ok: () => 'yes', bad: () => { throw new InputError('no'); } },
    logger,
    introspection: false,
    authenticate: async (req) => (req.headers.authorization ? { name: 'u', roles: [] } : undefined),
    observer: { call: (m, f) => calls.push([m, f]), refused: (s) => refusals.push(s) },
  }));
  const port = await serve(t, app);
  const post = (method: string, auth = true) => request(port, '/rpc', { method: 'POST', headers: auth ? { authorization: 'Basic dTpw' } : {}, body: serialiseMethodCall(method, []) });
  await post('ok');
  await post('bad');
  await post('no.such.method.' + 'x'.repeat(20));
  await request(port, '/rpc', { method: 'POST', headers: { authorization: 'Basic dTpw' }, body: 'not xml' });
  assert.equal((await post('ok', false)).status, 401);
  assert.deepEqual(calls, [['ok', undefined], ['bad', 'InputError'], ['(unknown)', 'InputError'], ['(unparsed)', 'InputError']]);
  assert.deepEqual(refusals, [401]);
});

test('certificate role metrics: issued as a client certificate with OU metrics (vtctl certs issue NAME --role metrics)', async (t) => {
  const { mkdtemp, rm, readFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const { CertificateStore, describeCertificate, CERTIFICATE_ROLES } = await import('../../dist/tls/index.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-metrics-cert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.ok(CERTIFICATE_ROLES.includes('metrics'));
  const store = new CertificateStore(dir);
  store.initCa();
  store.issue('prometheus', { role: 'metrics', commonName: 'prometheus' });
  const info = describeCertificate(await readFile(path.join(dir, 'prometheus.crt'), 'utf8'));
  assert.equal(info.role, 'metrics');
  assert.equal(info.commonName, 'prometheus');
});
