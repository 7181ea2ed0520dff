/**
 * Hostile callback URLs (issue 9 items 2 and 7; decision 014): `send` with a callback that points at loopback, the
 * agent port, link-local metadata, the manager's own admin API, a name resolving to loopback, plain http, a 64 KiB
 * URL, or a callback whose certificate the manager does not trust. Each gets its exact fault, and nothing changes
 * (every DB row, domain and file compared before and after, packages/harness/src/state-snapshot.ts). Then the admin
 * side: `vtctl user set-callback-policy` allows a target, `vtctl callback list` shows a failing delivery with its
 * last error, `vtctl callback drop` removes it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { createCertificateAuthority, issueCertificate, XmlRpcClient, XmlRpcFaultError } from '@kvm-crm/shared';
import { assertUnchanged, type Cluster, createQuery, REPO_ROOT, snapshot, startCluster, TestClearinghouse } from '@kvm-crm/harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HINT = (name: string) => `not allowed for this clearinghouse (an admin can allow it: vtctl user set-callback-policy ${name} --allow CIDR|ORIGIN)`;

describe('hostile callback URLs: a clear fault, and nothing changes', () => {
  let c: Cluster;
  /** A clearinghouse principal with the default callback policy. */
  let fresh: XmlRpcClient;
  let freshName: string;
  /** An admin whose password we know, for vtctl. */
  let vtctlEnv: Record<string, string>;
  let island: TestClearinghouse;

  before(async () => {
    c = await startCluster({ withTemplate: false });
    freshName = `fresh-${c.runId}`;
    const pw = randomBytes(12).toString('hex');
    await c.admin.call('user.add', [{ name: freshName, password: pw, roles: ['clearinghouse'] }]);
    fresh = new XmlRpcClient({ url: `https://${freshName}:${pw}@127.0.0.1:${c.manager.port}/xmlrpc/plugin`, tls: { ca: c.ca.certPem } });
    const adminPw = randomBytes(12).toString('hex');
    await c.admin.call('user.add', [{ name: `ops-${c.runId}`, password: adminPw, roles: ['admin'] }]);
    vtctlEnv = {
      KVMCRM_ADMIN_URL: `https://127.0.0.1:${c.manager.port}/xmlrpc/admin`, KVMCRM_ADMIN_USER: `ops-${c.runId}`, KVMCRM_ADMIN_PASSWORD: adminPw,
      KVMCRM_CA_FILE: path.join(c.certsDir, 'ca.crt'),
    };
    // A clearinghouse of another island: its certificate comes from a CA the manager does not know.
    const islandCa = createCertificateAuthority({ commonName: 'island CA' });
    const leaf = issueCertificate(islandCa, { commonName: 'localhost', ipAddresses: ['127.0.0.1'], usage: 'server' });
    island = new TestClearinghouse({ certPem: leaf.certPem, keyPem: leaf.keyPem });
    await island.start();
  });

  after(async () => {
    await island?.stop();
    await c?.cleanup();
  });

  const vtctl = async (args: string[]) => (await execa(process.execPath, [path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js'), ...args], { env: vtctlEnv })).stdout;

  async function fault(call: Promise<unknown>): Promise<string> {
    try {
      const value = await call;
      assert.fail(`expected a fault, got ${JSON.stringify(value)}`);
    } catch (err) {
      if (err instanceof XmlRpcFaultError) return err.faultString;
      throw err;
    }
  }

  /** `send` with `callbackUrl` through `client`: returns the fault; asserts nothing changed and no status was sent. */
  async function refusedSend(label: string, callbackUrl: string, client: XmlRpcClient = fresh): Promise<string> {
    const q = createQuery({ serverUuid: c.serverUuid, name: `cb-${c.runId}`, template: 'none.qcow2' });
    const before = await snapshot(c);
    const result = await fault(client.call('send', [callbackUrl, q.xml]));
    await sleep(500);
    assertUnchanged(before, await snapshot(c), label);
    assert.deepEqual(c.clearinghouse.statuses(q.actionId), []);
    return result;
  }

  test('loopback: the agent port, by IPv4 and by IPv4-mapped IPv6', async () => {
    const agent = `https://127.0.0.1:${c.agent.port}/`;
    assert.equal(await refusedSend('agent port', agent), `NotAllowedError: callback URL https://127.0.0.1:${c.agent.port}/ targets 127.0.0.1, a loopback address: ${HINT(freshName)}`);
    assert.equal(await refusedSend('agent port, http', `http://127.0.0.1:9229/`),
      `NotAllowedError: callback URL http://127.0.0.1:9229/ uses plain http: only https is allowed for this clearinghouse (an admin can allow it: vtctl user set-callback-policy ${freshName} --allow-http)`);
    assert.equal(await refusedSend('mapped IPv6', `https://[::ffff:127.0.0.1]:${c.agent.port}/`),
      `NotAllowedError: callback URL https://[::ffff:7f00:1]:${c.agent.port}/ targets 127.0.0.1, a loopback address: ${HINT(freshName)}`);
  });

  test("the manager's own admin API with guessed credentials", async () => {
    const r = await refusedSend('admin API', `https://admin:admin@127.0.0.1:${c.manager.port}/xmlrpc/admin`);
    assert.equal(r, `NotAllowedError: callback URL https://127.0.0.1:${c.manager.port}/ targets 127.0.0.1, a loopback address: ${HINT(freshName)}`);
    assert.doesNotMatch(r, /admin:admin/);
  });

  test('link-local cloud metadata, private and unspecified addresses, IPv6 loopback', async () => {
    for (const [url, why] of [
      ['https://169.254.169.254/latest/meta-data/', '169.254.169.254, a link-local address'],
      ['https://10.0.0.1/', '10.0.0.1, a private address'],
      ['https://0.0.0.0:8445/', '0.0.0.0, an unspecified address'],
      ['https://[::1]:8445/', '::1, a loopback address'],
    ] as const) {
      const origin = new URL(url).origin;
      assert.equal(await refusedSend(url, url), `NotAllowedError: callback URL ${origin}/ targets ${why}: ${HINT(freshName)}`);
    }
  });

  test('a host name that resolves to loopback', async () => {
    const r = await refusedSend('localhost', `https://localhost:${c.agent.port}/`);
    assert.match(r, new RegExp(`^NotAllowedError: callback URL https://localhost:${c.agent.port}/ targets (127\\.0\\.0\\.1|::1), a loopback address \\(localhost resolves to it\\): `));
  });

  test('a 64 KiB callback URL', async () => {
    const url = `https://ch.example/${'a'.repeat(64 * 1024)}`;
    assert.equal(await refusedSend('64 KiB URL', url), `InputError: callback URL of ${url.length} characters: at most 1024`);
  });

  test('a callback whose certificate the manager does not trust (another island\'s CA): send says what to configure', async () => {
    // Loopback is allowed for the harness's clearinghouse, so only the certificate stands in the way.
    const r = await refusedSend('island certificate', island.callbackUrl, c.plugin);
    assert.equal(r, `InputError: callback https://127.0.0.1:${island.port}/ presents a certificate not trusted by this manager (unable to verify the first certificate, UNABLE_TO_VERIFY_LEAF_SIGNATURE): add its CA to callbackCaFile in manager.json (see README 'Callback certificates')`);
    assert.deepEqual(island.received, [], 'nothing was delivered');
  });

  test('vtctl: set-callback-policy allows a target; callback list shows a failing delivery with its last error; drop removes it', async () => {
    const set = JSON.parse(await vtctl(['--json', 'user', 'set-callback-policy', freshName, '--allow', '127.0.0.1/32']));
    assert.deepEqual(set, { name: freshName, allowHttp: false, allow: ['127.0.0.1/32'] });
    assert.match(await vtctl(['user', 'set-callback-policy', freshName, '--allow', 'https://ch.example:8443']), new RegExp(`^NAME +ALLOWHTTP +ALLOW\\n${freshName} +false +127\\.0\\.0\\.1/32 https://ch\\.example:8443$`));
    await assert.rejects(vtctl(['user', 'set-callback-policy', freshName, '--allow', '10.0.0.0/99']), /is neither a CIDR/);

    // Allowed now; nobody listens on port 9: the refusal of this create (unknown server) goes to the outbox and
    // fails there.
    const closed = `https://cb:secret@127.0.0.1:9/cb`;
    const q = createQuery({ serverUuid: randomUUID(), name: `cb-${c.runId}`, template: 'none.qcow2' });
    assert.equal(await fresh.call('send', [closed, q.xml]), null);
    let rows: Array<{ id: number; url: string; attempts: number; lastError: string }> = [];
    for (let i = 0; i < 50 && !rows.some((r) => r.lastError); i++) {
      await sleep(200);
      rows = JSON.parse(await vtctl(['--json', 'callback', 'list']));
    }
    const row = rows.find((r) => r.url === 'https://***@127.0.0.1:9/cb');
    assert.ok(row, JSON.stringify(rows));
    assert.match(row.lastError, /^https:\/\/127\.0\.0\.1:9\/cb sendAsync failed: ECONNREFUSED/);
    assert.ok(row.attempts >= 1);
    const table = await vtctl(['callback', 'list']);
    assert.match(table.split('\n')[0]!, /^ID +URL +ATTEMPTS +NEXTATTEMPTAT +LASTERROR$/);
    assert.doesNotMatch(table, /secret/);
    assert.equal(await vtctl(['callback', 'drop', '--callback-url', 'https://127.0.0.1:9/cb']), `dropped 1: ${row.id}`);
    assert.deepEqual(JSON.parse(await vtctl(['--json', 'callback', 'list'])), []);
  });
});
