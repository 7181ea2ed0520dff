/**
 * GENI trusted roots: the store (first certificate = anchor, skipped files, reload on change and SIGHUP), the
 * verifier following its reloads, the optional caller match (§9.6), and the `geni.trust.*` admin methods.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared';
import { TrustedRootsStore } from '../../dist/adapters/trusted-roots-store.js';
import { geniTrustAdminApi } from '../../dist/api/admin-geni-trust-api.js';
import { GeniCredentialError, SfaCredentialVerifier } from '../../dist/services/geni/credential-verifier.js';
import { geniFixturesDir, mintGeniCredentials, silentLogger, type MintedCredentials } from '../../dist/testing/index.js';

const fixtureRoots = path.join(geniFixturesDir(), 'trusted_roots');
const ctx = {} as never;

describe('GENI trusted roots', () => {
  let work: string;
  let m: MintedCredentials;
  let n = 0;
  const freshDir = () => {
    const d = path.join(work, `roots-${++n}`);
    mkdirSync(d);
    return d;
  };

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'kvmcrm-gtrust-test-'));
    m = await mintGeniCredentials(path.join(work, 'creds'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('takes the first certificate of each file as the anchor and the rest as intermediates; skips the bundle, bad names, hidden and unreadable files', () => {
    const dir = freshDir();
    for (const f of readdirSync(fixtureRoots)) copyFileSync(path.join(fixtureRoots, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'CATedCACerts.pem'), readFileSync(m.caGid)); // would add a root if read
    writeFileSync(path.join(dir, 'garbage.gid'), 'not a certificate\n');
    writeFileSync(path.join(dir, 'notes.txt'), readFileSync(m.caGid));
    writeFileSync(path.join(dir, '.tmp.gid'), readFileSync(m.caGid));
    const warnings: string[] = [];
    const logger = { ...silentLogger(), warn: (msg: string) => void warnings.push(msg), info: () => undefined } as never;
    const store = TrustedRootsStore.load(dir, logger);
    const roots = store.current.roots;
    assert.deepEqual(roots.map((r) => r.file), ['felix-i2cat-cbas-ca.gid', 'felix-i2cat-cbas-sa.gid', 'geni-ch.gid', 'topdomain.gid']);
    assert.equal(roots.find((r) => r.file === 'felix-i2cat-cbas-sa.gid')?.urn, 'urn:publicid:IDN+cbas.i2cat.net+authority+sa');
    assert.equal(store.current.intermediates.length, 1); // the C-BAS CA after the SA in felix-i2cat-cbas-sa.gid
    assert.equal(store.current.intermediates[0]?.subject, 'CN=cbas.i2cat.net.authority.ca');
    assert.ok(warnings.some((w) => /unreadable/.test(w)), 'garbage.gid is logged');
    assert.ok(warnings.some((w) => /name is not/.test(w)), 'notes.txt is logged');
    assert.equal(roots.some((r) => r.certificate.subject.includes('kvmcrm-test')), false, 'CATedCACerts.pem, notes.txt and .tmp.gid are not read');
  });

  it('refuses a missing folder at load, and keeps the roots when the folder vanishes later', () => {
    assert.throws(() => TrustedRootsStore.load(path.join(work, 'nope'), silentLogger()), (e: unknown) => e instanceof InputError && /cannot read: ENOENT/.test(e.message));
    const dir = freshDir();
    copyFileSync(m.caGid, path.join(dir, 'a.gid'));
    const store = TrustedRootsStore.load(dir, silentLogger());
    rmSync(dir, { recursive: true });
    assert.equal(store.reload(), false);
    assert.equal(store.current.roots.length, 1);
  });

  it('reloads on a file change (polling) and on SIGHUP; the verifier follows', async () => {
    const dir = freshDir();
    const store = TrustedRootsStore.load(dir, silentLogger(), { reloadIntervalSeconds: 0.05 });
    const verifier = new SfaCredentialVerifier({ roots: store, logger: silentLogger() });
    const cred = [readFileSync(m.sliceCred, 'utf8')];
    try {
      store.watch();
      await assert.rejects(verifier.verify('Allocate', cred), (e: unknown) => e instanceof GeniCredentialError && /no trusted root is configured/.test(e.message));
      copyFileSync(m.caGid, path.join(dir, 'kvmcrm-test.gid'));
      for (let i = 0; i < 100 && store.current.roots.length === 0; i++) await sleep(20);
      assert.equal(store.current.roots.length, 1);
      assert.equal((await verifier.verify('Allocate', cred)).length, 1);
      store.close(); // polling off: only SIGHUP reloads now
      rmSync(path.join(dir, 'kvmcrm-test.gid'));
      await sleep(150);
      assert.equal(store.current.roots.length, 1);
      store.watch();
      store.close();
      const sighup = TrustedRootsStore.load(dir, silentLogger(), { reloadIntervalSeconds: 3600 });
      copyFileSync(m.caGid, path.join(dir, 'kvmcrm-test.gid'));
      sighup.watch();
      try {
        const generation = sighup.current.generation;
        process.kill(process.pid, 'SIGHUP');
        for (let i = 0; i < 100 && sighup.current.generation === generation; i++) await sleep(10);
        assert.equal(sighup.current.roots.length, 1);
      } finally {
        sighup.close();
      }
    } finally {
      store.close();
    }
  });

  it('with requireCallerMatch, accepts only a caller whose certificate is the credential owner\'s (§9.6)', async () => {
    const store = TrustedRootsStore.load(m.trustedRootsDir, silentLogger());
    const verifier = new SfaCredentialVerifier({ roots: store, logger: silentLogger(), requireCallerMatch: true });
    const cred = [readFileSync(m.sliceCred, 'utf8')];
    const alice = new X509Certificate(readFileSync(m.userCertOnly));
    assert.equal((await verifier.verify('Allocate', cred, { peerCertificate: alice })).length, 1);
    assert.equal((await verifier.verify('Allocate', cred, { peerCertificate: { raw: alice.raw } })).length, 1); // node:tls PeerCertificate
    await assert.rejects(verifier.verify('Allocate', cred), /presented no client certificate/);
    await assert.rejects(verifier.verify('Allocate', cred, { peerCertificate: new X509Certificate(readFileSync(m.caGid)) }), /the caller is not the credential owner/);
    const stranger = new X509Certificate(readFileSync(path.join(fixtureRoots, 'geni-ch.gid')));
    await assert.rejects(verifier.verify('Allocate', cred, { peerCertificate: stranger }), /caller certificate .* expired/);
    // default off: bearer credentials, as the original
    const bearer = new SfaCredentialVerifier({ roots: store, logger: silentLogger() });
    assert.equal((await bearer.verify('Allocate', cred)).length, 1);
  });

  describe('admin methods geni.trust.*', () => {
    it('adds an authority certificate under a name derived from its URN, lists it, and the verifier uses it at once', async () => {
      const dir = freshDir();
      const store = TrustedRootsStore.load(dir, silentLogger());
      const api = geniTrustAdminApi({ roots: store, trustedRootsDir: dir });
      const verifier = new SfaCredentialVerifier({ roots: store, logger: silentLogger() });
      await assert.rejects(api['geni.trust.add']!([{ pem: readFileSync(m.userGid, 'utf8') }], ctx) as Promise<unknown>, (e: unknown) => e instanceof InputError && /is not a CA/.test(e.message));
      const added = (await api['geni.trust.add']!([{ pem: `comment line\n${readFileSync(m.caGid, 'utf8')}` }], ctx)) as Record<string, string>;
      assert.equal(added.file, 'kvmcrm-test-sa.gid');
      assert.equal(added.urn, m.authorityUrn);
      assert.equal(added.subject, 'CN=kvmcrm-test.sa');
      assert.match(added.notAfter ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const file = path.join(dir, 'kvmcrm-test-sa.gid');
      assert.equal(statSync(file).mode & 0o777, 0o644);
      assert.ok(readFileSync(file, 'utf8').startsWith('-----BEGIN CERTIFICATE-----'), 'only the PEM blocks are stored');
      assert.deepEqual(((await api['geni.trust.list']!([], ctx)) as Record<string, string>[]).map((r) => [r.file, r.urn]), [['kvmcrm-test-sa.gid', m.authorityUrn]]);
      assert.equal((await verifier.verify('Allocate', [readFileSync(m.sliceCred, 'utf8')])).length, 1);
      await assert.rejects(api['geni.trust.add']!([{ pem: readFileSync(m.caGid, 'utf8') }], ctx) as Promise<unknown>, (e: unknown) => e instanceof ConflictError && /already trusted as kvmcrm-test-sa\.gid/.test(e.message));
    });

    it('refuses certificates that are not valid authority roots, with the reason', async () => {
      const dir = freshDir();
      const api = geniTrustAdminApi({ roots: TrustedRootsStore.load(dir, silentLogger()) });
      const add = (pem: unknown) => api['geni.trust.add']!([{ pem }], ctx) as Promise<unknown>;
      await assert.rejects(add('hello'), (e: unknown) => e instanceof InputError && /no PEM certificate/.test(e.message));
      await assert.rejects(add(''), (e: unknown) => e instanceof InputError && /missing field pem/.test(e.message));
      await assert.rejects(add(readFileSync(path.join(fixtureRoots, 'topdomain.gid'), 'utf8')), (e: unknown) => e instanceof InputError && /expired at 2017-/.test(e.message));
      await assert.rejects(add(readFileSync(m.sliceGid, 'utf8')), (e: unknown) => e instanceof InputError && /is not a CA/.test(e.message));
      await assert.rejects(add('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), (e: unknown) => e instanceof InputError && /cannot be read/.test(e.message));
      assert.deepEqual(readdirSync(dir), []);
    });

    it('removes by file name only, strictly validated', async () => {
      const dir = freshDir();
      copyFileSync(m.caGid, path.join(dir, 'kvmcrm-test.gid'));
      writeFileSync(path.join(work, 'outside.gid'), 'x');
      const store = TrustedRootsStore.load(dir, silentLogger());
      const api = geniTrustAdminApi({ roots: store });
      const remove = (name: unknown) => api['geni.trust.remove']!([{ name }], ctx) as Promise<unknown>;
      for (const bad of ['../outside.gid', `${work}/outside.gid`, 'a/b.gid', '.hidden.gid', 'kvmcrm-test.txt', 'kvmcrm-test.gid\n', 'CATedCACerts.pem']) {
        await assert.rejects(remove(bad), (e: unknown) => e instanceof InputError || e instanceof NotFoundError, bad);
      }
      assert.ok(existsSync(path.join(work, 'outside.gid')));
      await assert.rejects(remove('other.gid'), (e: unknown) => e instanceof NotFoundError && /no trusted root file other\.gid/.test(e.message));
      assert.deepEqual(await remove('kvmcrm-test.gid'), { file: 'kvmcrm-test.gid', removed: true });
      assert.deepEqual(readdirSync(dir), []);
      assert.equal(store.current.roots.length, 0);
    });
  });
});
