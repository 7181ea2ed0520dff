/**
 * The agent-to-agent transfer of an offline migration (decision record 025), over real HTTPS with certificates of
 * a test CA, between two MigrationAgentService instances with their own storage roots: libvirt and qemu-img are
 * fakes (the real ones run in the e2e test on the three-host cluster). Checks the refusals: wrong certificate
 * (role, CA, host), forged and expired tickets, path tricks in file names, checksum mismatch; and that nothing is
 * left behind on the target after a refusal.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import {
  closeServer,
  createCertificateAuthority,
  createHttpsServer,
  createLogger,
  issueCertificate,
  listen,
  type PemPair,
  type TransferTicket,
} from '@kvm-crm/shared';
import { transferEndpoint } from '../../dist/api/migration-api.js';
import { TransferClient } from '../../dist/adapters/transfer-client.js';
import { TransferStore } from '../../dist/adapters/transfer-store.js';
import { VmStore } from '../../dist/adapters/vm-store.js';
import { renderDomainXml } from '../../dist/domain/domain-xml.js';
import { MigrationAgentService, type MigrationDeps } from '../../dist/services/migration-service.js';

const logger = createLogger({ component: 'test', level: 'error' });
const VM = '3f2c1a9e-5b7d-4c1e-9a2b-0123456789ab';
const PREFIX = 'kvmcrm-';

interface Host {
  root: string;
  vms: VmStore;
  store: TransferStore;
  service: MigrationAgentService;
  domains: Map<string, { state: string; xml: string }>;
  rebased: Array<[string, string]>;
  defined: string[];
}

function makeHost(root: string, name: string, tls: { ca: string; cert: string; key: string }, sourceDomains?: Map<string, { state: string; xml: string }>): Host {
  const vms = new VmStore(root);
  const store = new TransferStore(root);
  const domains = sourceDomains ?? new Map<string, { state: string; xml: string }>();
  const rebased: Array<[string, string]> = [];
  const defined: string[] = [];
  const client = new TransferClient(tls, 10);
  const deps: MigrationDeps = {
    domains: {
      exists: async (n) => domains.has(n),
      domState: async (n) => domains.get(n)?.state,
      dumpXml: async (n) => domains.get(n)!.xml,
      define: async (file) => {
        const xml = await readFile(file, 'utf8');
        defined.push(xml);
        domains.set(/<name>([^<]+)<\/name>/.exec(xml)![1]!, { state: 'shut off', xml });
      },
      undefine: async (n) => void domains.delete(n),
    },
    images: {
      convert: async (src, dst) => writeFile(dst, await readFile(src)),
      rebase: async (img, backing) => void rebased.push([img, backing]),
    },
    templates: { resolve: async (ref) => ({ diskPath: path.join(root, 'templates', ref, 'disk.qcow2'), metadata: { format: 'qcow2' } }) },
    vms, store,
    push: (r, onBytes) => client.push(r, onBytes),
    exclusive: (_vm, task) => task(),
    ownName: () => name,
    domainPrefix: PREFIX, domainType: 'qemu', logger,
    freeBytes: async () => 100 * 1024 ** 3,
  };
  return { root, vms, store, service: new MigrationAgentService(deps), domains, rebased, defined };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('agent-to-agent transfer over mutual TLS', () => {
  let dir: string;
  let ca: PemPair;
  let server: Server;
  let targetUrl: string;
  let source: Host;
  let target: Host;
  let sourceTls: { ca: string; cert: string; key: string };
  let disk: Buffer;
  let data: Buffer;
  let seed: Buffer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-transfer-'));
    ca = createCertificateAuthority();
    const t = issueCertificate(ca, { commonName: 'target-host', role: 'agent', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server+client' });
    const s = issueCertificate(ca, { commonName: 'source-host', role: 'agent', usage: 'server+client' });
    sourceTls = { ca: ca.certPem, cert: s.certPem, key: s.keyPem };
    source = makeHost(path.join(dir, 'src'), 'source-host', sourceTls, new Map());
    target = makeHost(path.join(dir, 'dst'), 'target-host', { ca: ca.certPem, cert: t.certPem, key: t.keyPem });
    // The source VM: a folder with a system disk, a data disk and a seed, and a domain rendered as the agent does.
    const p = source.vms.paths(VM);
    await mkdir(p.dir, { recursive: true });
    disk = randomBytes(3 * 1024 * 1024 + 17);
    data = randomBytes(200 * 1024);
    seed = randomBytes(4096);
    await writeFile(p.disk, disk);
    await writeFile(path.join(p.dir, 'data-vdb.qcow2'), data);
    await writeFile(p.seed, seed);
    const xml = renderDomainXml({
      name: `${PREFIX}${VM}`, uuid: VM, title: 'vm1', domainType: 'qemu', memoryMiB: 96, vcpus: 1,
      diskPath: p.disk, backing: { path: path.join(source.root, 'templates/tiny/tiny.qcow2'), format: 'qcow2' },
      seedIsoPath: p.seed, dataDisks: [path.join(p.dir, 'data-vdb.qcow2')], serialLogPath: p.serialLog,
      nics: [{ mac: '02:fe:00:00:00:01', bridge: 'brsrc0' }],
      metadata: { vmUuid: VM, vmName: 'vm1', projectId: 'p1', sliceId: 's1', actionId: 'a1', template: 'tiny' },
    });
    source.domains.set(`${PREFIX}${VM}`, { state: 'shut off', xml });

    const app = express();
    app.put('/migration/transfer/:ticket/:file', transferEndpoint({ migration: target.service, isRevoked: () => false, logger }));
    server = createHttpsServer(app, { cert: t.certPem, key: t.keyPem, ca: ca.certPem, requestCert: true });
    const port = await listen(server, 0, '127.0.0.1');
    targetUrl = `https://127.0.0.1:${port}/`;
  });

  after(async () => {
    await closeServer(server);
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh ticket from the source's export (the manager's part, done by hand here). */
  async function ticketFor(expiresInMs = 600_000, flatten = false): Promise<{ ticket: TransferTicket; domainXml: string; sourceDir: string }> {
    const id = randomBytes(32).toString('hex');
    const e = await source.service.exportVm(id, VM, flatten);
    return {
      ticket: { id, vmUuid: VM, source: 'source-host', target: 'target-host', files: e.files, template: e.template, expiresAt: new Date(Date.now() + expiresInMs).toISOString() },
      domainXml: e.domainXml, sourceDir: e.sourceDir,
    };
  }

  const transferEntries = async () => (await readdir(target.store.root).catch(() => [] as string[]));
  const pushWith = (tls: { ca: string; cert: string; key: string }, ticketId: string, name: string, file: string, size: number) =>
    new TransferClient(tls, 10).push({ targetUrl, targetName: 'target-host', ticketId, name, path: file, sizeBytes: size });

  test('export lists system disk, data disk and seed with their sizes and sha256; a running VM is refused', async () => {
    const { ticket } = await ticketFor();
    assert.deepEqual(ticket.files.map((f) => [f.name, f.sizeBytes, f.sha256]), [
      ['disk.qcow2', disk.length, sha(disk)], ['data-vdb.qcow2', data.length, sha(data)], ['seed.iso', seed.length, sha(seed)],
    ]);
    assert.equal(ticket.template, 'tiny');
    source.domains.get(`${PREFIX}${VM}`)!.state = 'running';
    await assert.rejects(source.service.exportVm(randomBytes(32).toString('hex'), VM, false), /must be shut off/);
    source.domains.get(`${PREFIX}${VM}`)!.state = 'shut off';
  });

  test('--flatten: the system disk is copied standalone into the ticket folder and the ticket names no template', async () => {
    const { ticket } = await ticketFor(600_000, true);
    assert.equal(ticket.template, '');
    assert.equal(ticket.files[0]!.sha256, sha(disk), 'the fake convert copies the bytes');
    assert.deepEqual(await readdir(source.store.dirOf(ticket.id)), ['disk.qcow2']);
    await source.service.abort(ticket.id);
  });

  test('a forged ticket (never given to the target by the manager) is refused: 404, nothing written', async () => {
    const { ticket } = await ticketFor();
    await assert.rejects(pushWith(sourceTls, ticket.id, 'disk.qcow2', source.vms.paths(VM).disk, disk.length), /HTTP 404.*no transfer ticket/);
    assert.deepEqual(await transferEntries(), []);
  });

  test('wrong certificates are refused: role manager, another CA, another host; nothing is kept', async () => {
    const { ticket } = await ticketFor();
    await target.service.accept(ticket);
    const mgr = issueCertificate(ca, { commonName: 'source-host', role: 'manager', usage: 'client' });
    await assert.rejects(pushWith({ ca: ca.certPem, cert: mgr.certPem, key: mgr.keyPem }, ticket.id, 'seed.iso', source.vms.paths(VM).seed, seed.length), /HTTP 403.*role agent is required/);
    const otherCa = createCertificateAuthority({ commonName: 'other CA' });
    const foreign = issueCertificate(otherCa, { commonName: 'source-host', role: 'agent', usage: 'client' });
    await assert.rejects(pushWith({ ca: ca.certPem, cert: foreign.certPem, key: foreign.keyPem }, ticket.id, 'seed.iso', source.vms.paths(VM).seed, seed.length), /HTTP 403.*not accepted/);
    const other = issueCertificate(ca, { commonName: 'other-host', role: 'agent', usage: 'client' });
    await assert.rejects(pushWith({ ca: ca.certPem, cert: other.certPem, key: other.keyPem }, ticket.id, 'seed.iso', source.vms.paths(VM).seed, seed.length), /HTTP 403.*source is source-host/);
    assert.deepEqual(await readdir(target.store.dirOf(ticket.id)), ['ticket.json']);
    await target.service.abort(ticket.id);
    assert.deepEqual(await transferEntries(), []);
  });

  test('path tricks in file names are refused before any path is built', async () => {
    const { ticket } = await ticketFor();
    await target.service.accept(ticket);
    for (const name of ['..%2F..%2Fetc%2Fpasswd', 'ticket.json', 'disk.qcow2.part', '%2Fetc%2Fshadow']) {
      await assert.rejects(pushWith(sourceTls, ticket.id, name, source.vms.paths(VM).seed, seed.length), /HTTP (400|404)/, name);
    }
    await assert.rejects(pushWith(sourceTls, '..%2F..%2Fvms', 'disk.qcow2', source.vms.paths(VM).seed, seed.length), /HTTP (400|404)/);
    await assert.rejects(target.service.accept({ ...ticket, id: randomBytes(32).toString('hex'), files: [{ name: '../disk.qcow2', sizeBytes: 1, sha256: sha(Buffer.from('x')) }] }), /invalid name/);
    assert.deepEqual(await readdir(target.store.dirOf(ticket.id)), ['ticket.json']);
    await target.service.abort(ticket.id);
  });

  test('a checksum mismatch is refused and leaves no file, not even a partial one', async () => {
    const { ticket } = await ticketFor();
    const bad = { ...ticket, files: ticket.files.map((f) => (f.name === 'seed.iso' ? { ...f, sha256: sha(Buffer.from('something else')) } : f)) };
    await target.service.accept(bad);
    await assert.rejects(pushWith(sourceTls, ticket.id, 'seed.iso', source.vms.paths(VM).seed, seed.length), /HTTP 400.*checksum mismatch/);
    assert.deepEqual(await readdir(target.store.dirOf(ticket.id)), ['ticket.json']);
    await target.service.abort(ticket.id);
  });

  test('an expired ticket is refused at accept and at transfer time', async () => {
    const { ticket } = await ticketFor(1200);
    await target.service.accept(ticket);
    await new Promise((r) => setTimeout(r, 1300));
    await assert.rejects(pushWith(sourceTls, ticket.id, 'seed.iso', source.vms.paths(VM).seed, seed.length), /HTTP 403.*expired/);
    await assert.rejects(target.service.accept({ ...ticket, id: randomBytes(32).toString('hex') }), /expired/);
    await target.service.abort(ticket.id);
    assert.deepEqual(await transferEntries(), []);
  });

  test('send → every file verified on the target → import defines the same VM with this host\'s paths, bridge and template', async () => {
    const { ticket, domainXml, sourceDir } = await ticketFor();
    await target.service.accept(ticket);
    const started = await source.service.send(ticket, targetUrl);
    assert.equal(started.state, 'sending');
    await source.service.idle();
    const st = source.service.status(ticket.id);
    assert.equal(st.state, 'done', st.error);
    assert.equal(st.bytes, disk.length + data.length + seed.length);
    await target.service.importVm(ticket.id, domainXml, sourceDir, { brsrc0: 'brdst0' });
    const p = target.vms.paths(VM);
    assert.equal(sha(await readFile(p.disk)), sha(disk));
    assert.equal(sha(await readFile(path.join(p.dir, 'data-vdb.qcow2'))), sha(data));
    assert.deepEqual(target.rebased, [[p.disk, path.join(target.root, 'templates/tiny/disk.qcow2')]]);
    const xml = target.defined[0]!;
    assert.ok(!xml.includes(source.root), 'no source path left in the XML');
    assert.match(xml, new RegExp(`<source file='${p.disk}'`));
    assert.match(xml, /<source bridge='brdst0'/);
    assert.match(xml, /02:fe:00:00:00:01/);
    assert.match(xml, new RegExp(`<uuid>${VM}</uuid>`));
    // Import again: a no-op; a late push of a file of the finished ticket is refused.
    await target.service.importVm(ticket.id, domainXml, sourceDir, { brsrc0: 'brdst0' });
    await assert.rejects(pushWith(sourceTls, ticket.id, 'seed.iso', source.vms.paths(VM).seed, seed.length), /HTTP (403|409)/);
    // Abort of an imported ticket removes the domain and the folder (the manager's rollback before its commit).
    const r = await target.service.abort(ticket.id);
    assert.ok(r.removed.some((x) => x.startsWith('domain')));
    assert.equal(await target.vms.exists(VM), false);
    assert.deepEqual(await transferEntries(), []);
  });

  test('detach keeps the files and the XML (the reconciler keeps such a folder); reattach defines the VM again', async () => {
    const id = randomBytes(32).toString('hex');
    await source.service.detach(id, VM);
    assert.equal(source.domains.has(`${PREFIX}${VM}`), false);
    assert.equal(await source.vms.isDetached(VM), true);
    await source.service.detach(id, VM); // idempotent
    assert.deepEqual(await source.service.reattach(id, VM), { reattached: true });
    assert.equal(source.domains.has(`${PREFIX}${VM}`), true);
    assert.equal(await source.vms.isDetached(VM), false);
    assert.deepEqual(await source.service.reattach(id, VM), { reattached: false });
  });

  test('release on the source removes its domain and folder, only while shut off', async () => {
    const id = randomBytes(32).toString('hex');
    source.domains.get(`${PREFIX}${VM}`)!.state = 'running';
    await assert.rejects(source.service.release(id, VM), /refusing to remove/);
    source.domains.get(`${PREFIX}${VM}`)!.state = 'shut off';
    assert.deepEqual(await source.service.release(id, VM), { removed: true });
    assert.equal(await source.vms.exists(VM), false);
    assert.equal(source.domains.has(`${PREFIX}${VM}`), false);
  });
});
