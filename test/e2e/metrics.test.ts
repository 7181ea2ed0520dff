/**
 * Metrics and health end to end (issue #13, decision record 028): a real manager and agent on libvirt. After a
 * create and a start through the OCF API the manager's `/metrics` shows the action counters moved, the VM running,
 * its host's agent up and its address taken, and the agent's shows its actions, virsh/qemu-img durations and the
 * running domain. `/metrics` needs role `metrics` (or `admin`) on the manager and a manager or metrics certificate on
 * the agent; others get 401/403 and are counted. `/healthz` and `/readyz` answer JSON; the separate plain-HTTP
 * listener serves the same registry without credentials.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Cluster, createQuery, lifecycleQuery, startCluster } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (enough for our metrics: no escaped quotes in label values). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `exposition line ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of `name` whose labels include `labels` (undefined when absent). */
function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET over HTTPS trusting the run's CA, with optional Basic credentials or a client certificate file stem. */
function httpsGet(port: number, p: string, c: Cluster, auth: { basic?: [string, string]; cert?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: p, method: 'GET', ca: c.ca.certPem, servername: 'localhost', agent: false,
      checkServerIdentity: () => undefined, // the agent's certificate names its server, not 127.0.0.1: the CA is what we check here
      ...(auth.basic ? { auth: `${auth.basic[0]}:${auth.basic[1]}` } : {}),
      ...(auth.cert ? { cert: readFileSync(path.join(c.certsDir, `${auth.cert}.crt`)), key: readFileSync(path.join(c.certsDir, `${auth.cert}.key`)) } : {}),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function httpGet(port: number, p: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject);
  });
}

describe('metrics and health on a real manager and agent', () => {
  let c: Cluster;
  const scraper: [string, string] = ['scraper', 'scraper-password-1'];
  before(async () => {
    c = await startCluster({ managerOptions: () => ({ metrics: { listen: { host: '127.0.0.1', port: 0 } } }) });
    await c.admin.call('user.add', [{ name: scraper[0], password: scraper[1], roles: ['metrics'] }]);
    await c.admin.call('user.add', [{ name: 'looker', password: 'looker-password-1', roles: ['viewer'] }]);
    await c.admin.call('user.add', [{ name: 'scraper-cert', roles: ['metrics'] }]);
    c.certStore.issue('scraper-cert', { role: 'metrics', commonName: 'scraper-cert' });
    c.certStore.issue('wrong-role', { role: 'clearinghouse', commonName: 'wrong-role', usage: 'server+client' });
  });
  after(async () => {
    await c?.cleanup();
  });

  test('after a create and a start the counters moved on the manager and on the agent', async () => {
    const managerScrape = async () => {
      const r = await httpsGet(c.manager.port, '/metrics', c, { basic: scraper });
      assert.equal(r.status, 200, r.body);
      assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      return parseExposition(r.body);
    };
    const before = await managerScrape();
    const count = (s: Sample[], type: string, result = 'SUCCESS') => sample(s, 'kvmcrm_actions_total', { type, result }) ?? 0;
    const freeBefore = sample(before, 'kvmcrm_pool_free_addresses', { kind: 'ipv4' });
    assert.ok(freeBefore !== undefined && freeBefore > 0, 'the run\'s IPv4 range is listed');
    assert.equal(sample(before, 'kvmcrm_agent_up', { server: c.serverName }), 1, 'the agent is up');

    const name = `met-${c.runId}`;
    const create = createQuery({ serverUuid: c.serverUuid, name, template: TEMPLATE });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, create.xml]);
    assert.deepEqual((await c.clearinghouse.waitForTerminal(create.actionId)).map((s) => s.status), ['ONGOING', 'SUCCESS']);
    const start = lifecycleQuery('start', { serverUuid: c.serverUuid, vmUuid: create.vmUuid, name });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, start.xml]);
    assert.deepEqual((await c.clearinghouse.waitForTerminal(start.actionId)).map((s) => s.status), ['ONGOING', 'SUCCESS']);

    await new Promise((r) => setTimeout(r, 1100)); // past the one-second snapshot sharing of the gauges
    const afterwards = await managerScrape();
    assert.equal(count(afterwards, 'create'), count(before, 'create') + 1, 'kvmcrm_actions_total{type="create",result="SUCCESS"} +1');
    assert.equal(count(afterwards, 'start'), count(before, 'start') + 1, 'kvmcrm_actions_total{type="start",result="SUCCESS"} +1');
    assert.equal(count(afterwards, 'create', 'FAILED'), count(before, 'create', 'FAILED'), 'no FAILED create');
    assert.equal((sample(afterwards, 'kvmcrm_action_duration_seconds_count', { type: 'create' }) ?? 0) - (sample(before, 'kvmcrm_action_duration_seconds_count', { type: 'create' }) ?? 0), 1);
    assert.ok((sample(afterwards, 'kvmcrm_action_duration_seconds_sum', { type: 'create' }) ?? 0) > 0, 'a create takes time');
    assert.equal(sample(afterwards, 'kvmcrm_vms', { state: 'running' }), 1, 'VMs by state');
    assert.equal(sample(afterwards, 'kvmcrm_pool_free_addresses', { kind: 'ipv4' }), freeBefore - 1, 'one address taken');
    assert.equal(sample(afterwards, 'kvmcrm_actions_in_flight') ?? 0, 0, 'nothing in flight');
    assert.ok((sample(afterwards, 'kvmcrm_xmlrpc_requests_total', { endpoint: 'plugin', method: 'send', fault: '' }) ?? 0) >= 2, 'the two send calls');
    assert.ok((sample(afterwards, 'kvmcrm_xmlrpc_requests_total', { endpoint: 'agent', method: 'sendAsync', fault: '' }) ?? 0) >= 4, 'the agent\'s statuses');
    assert.ok((sample(afterwards, 'kvmcrm_host_memory_allocated_bytes', { server: c.serverName }) ?? 0) > 0, 'the VM\'s memory is promised');
    assert.equal(sample(afterwards, 'kvmcrm_notification_outbox_rows'), 0, 'statuses delivered');
    assert.ok(sample(afterwards, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag from the default metrics');

    // The agent: a metrics certificate and the manager's certificate may read it.
    const agentScrape = await httpsGet(c.agent.port, '/metrics', c, { cert: 'scraper-cert' });
    assert.equal(agentScrape.status, 200, agentScrape.body);
    const a = parseExposition(agentScrape.body);
    assert.equal(sample(a, 'kvmcrm_agent_actions_total', { type: 'create', result: 'SUCCESS' }), 1);
    assert.equal(sample(a, 'kvmcrm_agent_actions_total', { type: 'start', result: 'SUCCESS' }), 1);
    assert.ok((sample(a, 'kvmcrm_agent_command_duration_seconds_count', { program: 'libvirt', command: 'define', result: 'ok' }) ?? 0) >= 1, 'the define on the held-open libvirt connection timed (decision 041)');
    assert.ok((sample(a, 'kvmcrm_agent_command_duration_seconds_count', { program: 'qemu-img', command: 'create', result: 'ok' }) ?? 0) >= 1, 'qemu-img create timed');
    assert.equal(sample(a, 'kvmcrm_agent_domains', { state: 'running' }), 1);
    assert.ok((sample(a, 'kvmcrm_agent_storage_free_bytes') ?? 0) > 0);
    assert.equal(sample(a, 'kvmcrm_agent_status_outbox_entries'), 0);
    assert.equal((await httpsGet(c.agent.port, '/metrics', c, { cert: 'manager' })).status, 200, 'the manager\'s certificate');
  });

  test('a scrape without the metrics role is refused and counted; the agent refuses a wrong certificate', async () => {
    assert.equal((await httpsGet(c.manager.port, '/metrics', c)).status, 401, 'no credentials');
    assert.equal((await httpsGet(c.manager.port, '/metrics', c, { basic: ['looker', 'looker-password-1'] })).status, 401, 'role viewer only');
    assert.equal((await httpsGet(c.manager.port, '/metrics', c, { basic: [scraper[0], 'wrong-password'] })).status, 401, 'bad password');
    assert.equal((await httpsGet(c.manager.port, '/metrics', c, { cert: 'wrong-role' })).status, 403, 'a clearinghouse certificate');
    assert.equal((await httpsGet(c.manager.port, '/metrics', c, { cert: 'scraper-cert' })).status, 200, 'a metrics certificate of a metrics principal');
    const s = parseExposition((await httpsGet(c.manager.port, '/metrics', c, { basic: scraper })).body);
    assert.ok((sample(s, 'kvmcrm_auth_failures_total', { endpoint: 'metrics', status: '401' }) ?? 0) >= 3, 'refusals counted');

    assert.equal((await httpsGet(c.agent.port, '/metrics', c, { cert: 'wrong-role' })).status, 403, 'agent: wrong certificate role');
    assert.equal((await httpsGet(c.agent.port, '/metrics', c)).status, 401, 'agent: no certificate');
    const agentSide = parseExposition((await httpsGet(c.agent.port, '/metrics', c, { cert: 'manager' })).body);
    assert.ok((sample(agentSide, 'kvmcrm_agent_auth_failures_total', { endpoint: 'metrics', status: '403' }) ?? 0) >= 1);
  });

  test('/healthz and /readyz answer JSON on both daemons; the plain-HTTP listener serves the metrics without credentials', async () => {
    for (const port of [c.manager.port, c.agent.port]) {
      const h = await httpsGet(port, '/healthz', c, { cert: 'manager' });
      assert.equal(h.status, 200);
      assert.equal((JSON.parse(h.body) as { status: string }).status, 'ok');
    }
    const mr = JSON.parse((await httpsGet(c.manager.port, '/readyz', c)).body) as { ready: boolean; checks: Array<{ name: string; ok: boolean }> };
    assert.equal(mr.ready, true, JSON.stringify(mr));
    assert.deepEqual(mr.checks.map((x) => [x.name, x.ok]), [['database', true], ['migrations', true], ['tls', true]]);
    const ar = await httpsGet(c.agent.port, '/readyz', c, { cert: 'manager' });
    assert.equal(ar.status, 200, ar.body);
    assert.deepEqual((JSON.parse(ar.body) as { checks: Array<{ name: string }> }).checks.map((x) => x.name), ['libvirt', 'storage']);

    assert.ok(c.manager.metricsPort, 'metrics.listen started a listener');
    const plain = await httpGet(c.manager.metricsPort, '/metrics');
    assert.equal(plain.status, 200);
    assert.ok(parseExposition(plain.body).some((x) => x.name === 'kvmcrm_actions_total'));
    assert.equal((await httpGet(c.manager.metricsPort, '/readyz')).status, 200);
    assert.equal((await httpGet(c.manager.metricsPort, '/xmlrpc/admin')).status, 404, 'nothing else there');
  });
});
