/**
 * Readiness with a database that goes away (issue #13, decision record 028): a manager on a PRIVATE MariaDB server
 * (own data directory, socket and port under the run's folder; the shared test server is not touched) answers
 * `/readyz` 200; with that server stopped it answers 503 naming the database, while `/healthz` still answers and the
 * process keeps running (the unauthenticated answer gives a generic reason, no driver text); with the server started
 * again it is ready again, without a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, type PemPair } from '@kvm-crm/shared';
import { managerOptionsSchema, startManager, type RunningManager } from '@kvm-crm/vt-manager';
import { issueTestCertificates, startPrivateMariadb, type PrivateMariadb } from '@kvm-crm/harness';

interface Readiness {
  ready: boolean;
  failed: string[];
  checks: Array<{ name: string; ok: boolean; reason?: string; error?: string }>;
}

function get(port: number, p: string, ca: PemPair): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: p, ca: ca.certPem, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** GET over the plain-HTTP metrics listener. */
function plainGet(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Polls `/readyz` until its status is `want` (60 s at most); returns the last body. */
async function readyzUntil(port: number, ca: PemPair, want: 200 | 503): Promise<Readiness> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await get(port, '/readyz', ca);
    if (r.status === want) return JSON.parse(r.body) as Readiness;
    assert.ok(Date.now() < deadline, `/readyz still ${r.status} after 60 s: ${r.body}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

describe('readiness follows the database', () => {
  let dir: string;
  let db: PrivateMariadb | undefined;
  let manager: RunningManager | undefined;
  let ca: PemPair;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), `kvmcrm-readyz-${randomBytes(3).toString('hex')}-`));
    db = await startPrivateMariadb(path.join(dir, 'mariadb'));
    const certs = issueTestCertificates(path.join(dir, 'certs'), {});
    ca = certs.ca;
    manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        publicUrl: 'https://127.0.0.1:1',
        tls: certs.tlsFiles('manager'),
        database: db.config,
        secretsKeyFile: path.join(dir, 'secrets.key'),
        agentCallback: { user: 'oxad', password: randomBytes(16).toString('hex') },
        monitoringIntervalSeconds: 0,
        metrics: { listen: { host: '127.0.0.1', port: 0 } },
      }),
      createLogger({ component: 'test', silent: !process.env.KVMCRM_TEST_LOG, format: 'pretty' }),
      {},
      { publicPortFromListen: true },
    );
  });
  after(async () => {
    await db?.start().catch(() => undefined); // a manager stops cleanly only with its database there
    await manager?.stop().catch(() => undefined);
    await db?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('/readyz: 200, then 503 naming the database while MariaDB is stopped, then 200 again', async () => {
    assert.ok(manager && db);
    const ready = await readyzUntil(manager.port, ca, 200);
    assert.deepEqual(ready.checks.map((c) => [c.name, c.ok]), [['database', true], ['migrations', true], ['tls', true]]);

    const pid = db.pid;
    assert.ok(pid);
    await db.stop();
    assert.throws(() => process.kill(pid, 0), 'the private mariadbd is gone');
    const down = await readyzUntil(manager.port, ca, 503);
    assert.ok(down.failed.includes('database'), JSON.stringify(down));
    assert.equal(down.ready, false);
    const dbCheck = down.checks.find((c) => c.name === 'database');
    assert.ok(dbCheck?.reason === 'unreachable' || dbCheck?.reason === 'timeout', `the database check says why, generically: ${JSON.stringify(dbCheck)}`);
    assert.equal(dbCheck.error, undefined, 'no driver text (hosts, users) for an unauthenticated caller');
    assert.equal((await get(manager.port, '/healthz', ca)).status, 200, 'the process is alive');
    // /metrics still answers: the database gauges are left out, the readiness gauge says why.
    assert.ok(manager.metricsPort);
    const scrape = await plainGet(manager.metricsPort, '/metrics');
    assert.equal(scrape.status, 200, scrape.body);
    assert.match(scrape.body, /^kvmcrm_readiness_check_ok\{check="database"\} 0$/m);
    assert.match(scrape.body, /^kvmcrm_readiness_check_ok\{check="tls"\} 1$/m);
    assert.match(scrape.body, /^kvmcrm_notification_outbox_rows nan$/im, 'no stale database gauge: unknown');
    assert.doesNotMatch(scrape.body, /^kvmcrm_vms\{/m, 'labelled database gauges left out');
    // Some seconds with the database down: the sweeps and the outbox fail and log, the manager does not crash.
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal((await get(manager.port, '/healthz', ca)).status, 200, 'still alive after a sweep without database');

    await db.start();
    const again = await readyzUntil(manager.port, ca, 200);
    assert.equal(again.ready, true);
    assert.deepEqual(again.failed, []);
    await new Promise((r) => setTimeout(r, 1100)); // past the one-second snapshot sharing
    const back = await plainGet(manager.metricsPort, '/metrics');
    assert.match(back.body, /^kvmcrm_readiness_check_ok\{check="database"\} 1$/m);
    assert.match(back.body, /^kvmcrm_notification_outbox_rows 0$/m, 'database gauges are back');
  });
});
