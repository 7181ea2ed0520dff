/**
 * `vtctl geni trust add|list|remove`, run as a process (the built vtctl.js) against an HTTPS XML-RPC admin endpoint
 * started here that serves only the `geni.trust.*` methods over a temporary trusted-roots folder (the manager's
 * wiring of these methods is the endpoint's; this checks the CLI: arguments, table, --json, exit status, reasons).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import type { Server } from 'node:https';
import { CertificateStore, closeServer, createHttpsServer, createXmlRpcHandler, listen } from '@kvm-crm/shared';
import { TrustedRootsStore } from '../../dist/adapters/trusted-roots-store.js';
import { geniTrustAdminApi } from '../../dist/api/admin-geni-trust-api.js';
import { mintGeniCredentials, silentLogger, type MintedCredentials } from '../../dist/testing/index.js';

const VTCTL = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist/vtctl.js');
const run = promisify(execFile);

describe('vtctl geni trust, as a process', () => {
  let dir: string;
  let rootsDir: string;
  let server: Server;
  let m: MintedCredentials;
  let base: string[];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-vtctl-geni-'));
    m = await mintGeniCredentials(path.join(dir, 'creds'));
    rootsDir = path.join(dir, 'roots');
    mkdirSync(rootsDir);
    const certs = new CertificateStore(path.join(dir, 'certs'));
    certs.initCa();
    certs.issue('manager', { role: 'manager', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const app = express();
    const roots = TrustedRootsStore.load(rootsDir, silentLogger());
    app.post('/xmlrpc/admin', createXmlRpcHandler({
      methods: geniTrustAdminApi({ roots, trustedRootsDir: rootsDir }), logger: silentLogger(),
      authenticate: async () => ({ name: 'ops', roles: ['admin'] }),
    }));
    server = createHttpsServer(app, {
      cert: readFileSync(path.join(dir, 'certs/manager.crt'), 'utf8'), key: readFileSync(path.join(dir, 'certs/manager.key'), 'utf8'),
    });
    const port = await listen(server, 0, '127.0.0.1');
    writeFileSync(path.join(dir, 'pw'), 'unused\n');
    base = ['--url', `https://127.0.0.1:${port}/xmlrpc/admin`, '--user', 'ops', '--password-file', path.join(dir, 'pw'), '--ca', certs.caFile];
  });

  after(async () => {
    if (server) await closeServer(server);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function vtctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(process.execPath, [VTCTL, ...args.slice(0, args.indexOf('geni')), ...base, ...args.slice(args.indexOf('geni'))], { timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  test('add, list (table and --json), refusals, remove', async () => {
    assert.deepEqual(await vtctl(['geni', 'trust', 'list']), { code: 0, stdout: '(none)\n', stderr: '' });

    const added = await vtctl(['geni', 'trust', 'add', m.caGid]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^trusted urn:publicid:IDN\+kvmcrm-test\+authority\+sa as kvmcrm-test-sa\.gid \(until \d{4}-/);
    assert.deepEqual(readdirSync(rootsDir), ['kvmcrm-test-sa.gid']);

    const table = await vtctl(['geni', 'trust', 'list']);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^FILE\s+URN\s+SUBJECT\s+NOT AFTER$/);
    assert.match(lines[1] ?? '', /^kvmcrm-test-sa\.gid\s+urn:publicid:IDN\+kvmcrm-test\+authority\+sa\s+CN=kvmcrm-test\.sa\s+\d{4}-\d\d-\d\dT/);
    assert.equal(lines[0]?.indexOf('URN'), lines[1]?.indexOf('urn:'), 'columns aligned');

    for (const args of [['geni', 'trust', 'list', '--json'], ['--json', 'geni', 'trust', 'list']]) {
      const json = JSON.parse((await vtctl(args)).stdout) as Record<string, string>[];
      assert.deepEqual(json.map((r) => [r.file, r.urn]), [['kvmcrm-test-sa.gid', m.authorityUrn]], args.join(' '));
    }

    const again = await vtctl(['geni', 'trust', 'add', m.caGid]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already trusted as kvmcrm-test-sa\.gid/);
    const user = await vtctl(['geni', 'trust', 'add', m.userGid]);
    assert.equal(user.code, 1);
    assert.match(user.stderr, /is not a CA/);
    const traversal = await vtctl(['geni', 'trust', 'remove', '../creds/ca.gid']);
    assert.equal(traversal.code, 1);
    assert.match(traversal.stderr, /not a trusted-root file name/);

    assert.deepEqual(await vtctl(['geni', 'trust', 'remove', 'kvmcrm-test-sa.gid']), { code: 0, stdout: 'removed kvmcrm-test-sa.gid\n', stderr: '' });
    assert.deepEqual(readdirSync(rootsDir), []);
    const gone = await vtctl(['geni', 'trust', 'remove', 'kvmcrm-test-sa.gid']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no trusted root file kvmcrm-test-sa\.gid/);
  });
});
