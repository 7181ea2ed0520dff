/**
 * The GENI endpoint over real HTTPS and real XML-RPC on a started manager (SQLite, fake agent gateway), with
 * credentials minted by shared/tools/make-geni-credential.sh and verified for real (xmlsec1): the exact reply structs
 * (no `output` on success, am_type GENI, geni_api 3, sliver struct members, UTC geni_expires, `vtam` URNs,
 * schemaLocation), both paths, an Authorization header ignored (never 401), FORBIDDEN for a tampered credential,
 * faults only for an unknown method.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { CertificateStore, decompressRspec, hashPassword, XmlRpcClient, XmlRpcFaultError } from '@kvm-crm/shared';
import { FakeAgentGateway, silentLogger } from '../../dist/testing/index.js';
import { mintGeniCredentials, type MintedCredentials } from '../../dist/testing/geni-credentials.js';
import { requestRspec } from '../../dist/testing/geni-fakes.js';
import { startManager, type RunningManager } from '../../dist/manager-app.js';
import { managerOptionsSchema } from '../../dist/manager-options.js';
import { GeniSliver } from '../../dist/db/entities/geni-sliver.js';

const AUTH = 'ocf.apitest';
const VTCTL = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist/vtctl.js');
const ADMIN_PW = randomBytes(12).toString('hex');
const RSPEC_V3 = { geni_rspec_version: { type: 'geni', version: 3 } };

describe('GENI AM API v3 endpoint over HTTPS', () => {
  let dir: string;
  let manager: RunningManager;
  let minted: MintedCredentials;
  let ca: string;
  const agent = new FakeAgentGateway();
  const client = (p = '/xmlrpc/geni/3/', userinfo = '') => new XmlRpcClient({ url: `https://${userinfo}127.0.0.1:${manager.port}${p}`, tls: { ca }, maxResponseBytes: 1 << 20 });
  const cred = (file: string) => [{ geni_type: 'geni_sfa', geni_value: readFileSync(file, 'utf8') }];
  const call = async (method: string, params: unknown[]) => (await client().call(method, params)) as Record<string, any>;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-geni-api-'));
    minted = await mintGeniCredentials(path.join(dir, 'creds'));
    const certs = new CertificateStore(path.join(dir, 'certs'));
    certs.initCa();
    certs.issue('manager', { role: 'manager', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    ca = readFileSync(certs.caFile, 'utf8');
    agent.templates = [{ name: 'tiny' } as never];
    manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 }, publicUrl: 'https://127.0.0.1:1',
        tls: { caFile: certs.caFile, certFile: path.join(dir, 'certs/manager.crt'), keyFile: path.join(dir, 'certs/manager.key'), crlFile: certs.crlFile },
        database: { type: 'sqlite', path: path.join(dir, 'manager.sqlite') }, secretsKeyFile: path.join(dir, 'secrets.key'),
        agentCallback: { user: 'oxad', password: randomBytes(12).toString('hex') }, monitoringIntervalSeconds: 0,
        geni: { enabled: true, authorityHrn: AUTH, trustedRootsDir: minted.trustedRootsDir, defaultTemplate: 'tiny' },
        users: [{ name: 'ops', passwordScrypt: hashPassword(ADMIN_PW), roles: ['admin'] }],
      }),
      silentLogger(), { agents: agent }, { publicPortFromListen: true },
    );
    await manager.inventory.registerServer({ name: 'kvm1', uuid: '5e4e0000-0000-4000-8000-0000000000c1', agentUrl: 'https://kvm1.example:9229/', agentPassword: 'agentpw', bridges: [{ name: 'br-mgmt' }] });
    await manager.inventory.addIpv4Range({ name: 'v4', start: '10.77.0.2', end: '10.77.0.20', netmask: '255.255.255.0', gateway: '10.77.0.1' });
    await manager.inventory.addMacRange({ name: 'mac', start: '02:00:0a:4d:00:00', end: '02:00:0a:4d:00:ff' });
    await manager.inventory.subscribe('kvm1', 'ipv4', 'v4');
    await manager.inventory.subscribe('kvm1', 'mac', 'mac');
  });

  after(async () => {
    await manager?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const assertSuccess = (r: Record<string, any>) => {
    assert.equal(r.code?.geni_code, 0, r.output);
    assert.equal(r.geni_api, 3);
    assert.equal(r.code.am_type, 'GENI');
    assert.equal('output' in r, false, 'a success reply has no output member (§1.3)');
  };
  const assertFailure = (r: Record<string, any>, code: number) => {
    assert.equal(r.code?.geni_code, code, r.output);
    assert.equal(r.value, '');
    assert.equal(typeof r.output, 'string');
    assert.ok(r.output.length > 0);
  };

  test('GetVersion with no parameter (RO), with {} (omni), on both paths, with an Authorization header that is ignored', async () => {
    const r = (await client('/xmlrpc/geni/3', 'ro:whatever@').call('GetVersion', [])) as Record<string, any>;
    assertSuccess(r);
    assert.equal(r.value.geni_api, 3);
    assert.match(r.value.geni_api_versions['3'], /\/xmlrpc\/geni\/3\/$/);
    assert.deepEqual(r.value.geni_credential_types, [{ geni_type: 'geni_sfa', geni_version: '3' }]);
    assert.equal(r.value.geni_request_rspec_versions[0].type, 'GENI');
    assertSuccess(await call('GetVersion', [{}]));
    assert.equal(await client().call('ping', ['hello']), 'hello');
  });

  test('an unknown method is the only fault', async () => {
    await assert.rejects(client().call('NoSuchMethod', []), XmlRpcFaultError);
  });

  test('ListResources: advertisement with vtam node URNs and schemaLocation; compressed on request; tampered credential FORBIDDEN', async () => {
    const r = await call('ListResources', [cred(minted.userCred), { ...RSPEC_V3, inner_call: true }]);
    assertSuccess(r);
    assert.match(r.value, /xsi:schemaLocation="http:\/\/www.geni.net\/resources\/rspec\/3 http:\/\/www.geni.net\/resources\/rspec\/3\/ad.xsd"/);
    assert.match(r.value, /component_id="urn:publicid:IDN\+ocf:apitest:vtam\+node\+kvm1"/);
    assert.match(r.value, /component_manager_id="urn:publicid:IDN\+ocf:apitest:vtam\+authority\+cm"/);
    const z = await call('ListResources', [cred(minted.userCred), { geni_rspec_version: { type: 'GENI', version: '3' }, geni_compressed: true }]);
    assertSuccess(z);
    assert.equal(decompressRspec(z.value), r.value);
    assertFailure(await call('ListResources', [cred(minted.tamperedCred), RSPEC_V3]), 3);
    assertFailure(await call('ListResources', [cred(minted.userCred), {}]), 1);
    assertFailure(await call('ListResources', [cred(minted.userCred), { geni_rspec_version: { type: 'ProtoGENI', version: 2 } }]), 4);
  });

  test('Allocate → Describe → Provision → Status → Delete with the RO\'s option dicts and credential wrapping', async () => {
    const slice = minted.sliceUrn;
    const req = requestRspec([{ clientId: 'vm1', server: 'kvm1', image: 'tiny', ram: 256, cores: 1, disk: 1 }], AUTH);
    // A user credential cannot allocate; the slice credential can.
    assertFailure(await call('Allocate', [slice, cred(minted.userCred), req, RSPEC_V3]), 3);
    const end = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, '+00:00');
    const a = await call('Allocate', [slice, cred(minted.sliceCred), req, { ...RSPEC_V3, geni_end_time: end }]);
    assertSuccess(a);
    const sliverUrn = `urn:publicid:IDN+ocf:apitest:vtam:kvm1:testslice+sliver+vm1`;
    assert.deepEqual(a.value.geni_slivers.map((s: any) => [s.geni_sliver_urn, s.geni_allocation_status, s.geni_operational_status]), [[sliverUrn, 'geni_allocated', 'geni_notready']]);
    assert.match(a.value.geni_slivers[0].geni_expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(a.value.geni_rspec, /type="manifest"/);
    assert.match(a.value.geni_rspec, new RegExp(`sliver_id="${sliverUrn.replace(/[+]/g, '\\+')}"`));
    // Duplicate client_id → ALREADYEXISTS, nothing more stored.
    assertFailure(await call('Allocate', [slice, cred(minted.sliceCred), req, RSPEC_V3]), 17);
    assert.equal(await manager.dataSource.getRepository(GeniSliver).count(), 1);

    const d = await call('Describe', [[slice], cred(minted.sliceCred), RSPEC_V3]);
    assertSuccess(d);
    assert.equal(d.value.geni_urn, slice);
    assert.match(d.value.geni_rspec, /manifest.xsd/);

    const p = await call('Provision', [[slice], cred(minted.sliceCred), { ...RSPEC_V3, geni_users: [{ urn: 'urn:publicid:IDN+kvmcrm-test+user+alice', keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1hbmFnZXItdGVzdC1rZXktbm90LXJlYWwtMDAw alice@ro'] }] }]);
    assertSuccess(p);
    assert.equal(p.value.geni_slivers[0].geni_allocation_status, 'geni_provisioned');
    assert.equal(agent.sent.length, 1);
    assert.match(agent.sent[0]!.xml, /<name>alice<\/name>/);
    // The manifest: schema location, sliver_type VM with the template, one ssh-keys login for alice at the reserved address.
    assert.match(p.value.geni_rspec, /manifest\.xsd/);
    assert.match(p.value.geni_rspec, /<sliver_type name="VM">/);
    assert.match(p.value.geni_rspec, /<disk_image name="tiny"\/>/);
    assert.match(p.value.geni_rspec, /<login authentication="ssh-keys" hostname="10\.77\.0\.2" port="22" username="alice"\/>/);

    const st = await call('Status', [[slice], cred(minted.sliceCred), RSPEC_V3]);
    assertSuccess(st);
    assert.equal(st.value.geni_urn, slice);
    for (const s of st.value.geni_slivers) {
      assert.deepEqual(Object.keys(s).sort(), ['geni_allocation_status', 'geni_expires', 'geni_operational_status', 'geni_sliver_urn']);
    }
    assertFailure(await call('Shutdown', [slice, cred(minted.sliceCred), {}]), 3);
    assertFailure(await call('PerformOperationalAction', [[slice], cred(minted.sliceCred), 'geni_update_users', RSPEC_V3]), 13);

    const del = await call('Delete', [[slice], cred(minted.sliceCred), RSPEC_V3]);
    assertSuccess(del);
    assert.deepEqual(del.value.map((x: any) => [x.geni_sliver_urn, x.geni_allocation_status]), [[sliverUrn, 'geni_unallocated']]);
    assert.match(del.value[0].geni_expires, /Z$/);

    // vtctl geni slivers (admin API geni.sliver.list), as a process: the sliver is being deleted (the fake agent
    // never finishes the delete).
    writeFileSync(path.join(dir, 'admin-pw'), ADMIN_PW + '\n');
    const base = ['--url', `https://127.0.0.1:${manager.port}/xmlrpc/admin`, '--user', 'ops', '--password-file', path.join(dir, 'admin-pw'), '--ca', path.join(dir, 'certs/ca.crt')];
    const json = JSON.parse((await promisify(execFile)(process.execPath, [VTCTL, ...base, '--json', 'geni', 'slivers'], { timeout: 60_000 })).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(json.map((r) => [r.urn, r.slice, r.allocation, r.operational, r.server]), [[sliverUrn, slice, 'geni_unallocated', 'geni_pending_allocation', 'kvm1']]);
    assert.match(String(json[0]!.expires), /Z$/);
    const table = (await promisify(execFile)(process.execPath, [VTCTL, ...base, 'geni', 'slivers'], { timeout: 60_000 })).stdout;
    assert.match(table, /^URN +SLICE +ALLOCATION +OPERATIONAL +EXPIRES +VM/);
  });
});

describe('GENI endpoint with geni.requireCallerMatch (§9.6)', () => {
  let dir: string;
  let manager: RunningManager;
  let minted: MintedCredentials;
  let ca: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-geni-caller-'));
    minted = await mintGeniCredentials(path.join(dir, 'creds'));
    const certs = new CertificateStore(path.join(dir, 'certs'));
    certs.initCa();
    certs.issue('manager', { role: 'manager', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    ca = readFileSync(certs.caFile, 'utf8');
    manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 }, publicUrl: 'https://127.0.0.1:1',
        tls: { caFile: certs.caFile, certFile: path.join(dir, 'certs/manager.crt'), keyFile: path.join(dir, 'certs/manager.key'), crlFile: certs.crlFile },
        database: { type: 'sqlite', path: path.join(dir, 'manager.sqlite') }, secretsKeyFile: path.join(dir, 'secrets.key'),
        agentCallback: { user: 'oxad', password: randomBytes(12).toString('hex') }, monitoringIntervalSeconds: 0,
        geni: { enabled: true, authorityHrn: AUTH, trustedRootsDir: minted.trustedRootsDir, requireCallerMatch: true },
      }),
      silentLogger(), { agents: new FakeAgentGateway() }, { publicPortFromListen: true },
    );
  });

  after(async () => {
    await manager?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('no client certificate → FORBIDDEN; the owner\'s certificate from a CA the TLS layer does not know → accepted', async () => {
    const params = [[{ geni_type: 'geni_sfa', geni_value: readFileSync(minted.userCred, 'utf8') }], RSPEC_V3];
    const url = `https://127.0.0.1:${manager.port}/xmlrpc/geni/3/`;
    const anonymous = (await new XmlRpcClient({ url, tls: { ca }, keepAlive: false, maxResponseBytes: 1 << 20 }).call('ListResources', params)) as Record<string, any>;
    assert.equal(anonymous.code.geni_code, 3);
    assert.match(anonymous.output, /no client certificate/);
    const owner = new XmlRpcClient({ url, keepAlive: false, maxResponseBytes: 1 << 20, tls: { ca, cert: readFileSync(minted.userCertOnly, 'utf8'), key: readFileSync(minted.userKey, 'utf8') } });
    const r = (await owner.call('ListResources', params)) as Record<string, any>;
    assert.equal(r.code.geni_code, 0, r.output);
  });
});
