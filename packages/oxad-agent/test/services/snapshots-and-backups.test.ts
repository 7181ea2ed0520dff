/**
 * Snapshots and backups (decision record 026) on real qemu-img and real files in a temporary storage root and
 * backup root (removed afterwards): internal snapshots over a real qcow2 overlay of a template (create, list,
 * revert restores the content, delete), refused on a running VM and for bad names; a backup flattens the overlay,
 * writes SHA256SUMS, prunes with keep; a restore verifies the checksums and defines the VM again with its identity;
 * a corrupted backup and a path outside the backup roots are refused before anything is written. libvirt is a
 * fake here (domain state, dumpxml, define), recorded; the e2e test covers the real one.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, open, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, createLogger, InputError, NotFoundError } from '@kvm-crm/shared';
import { QemuImg, SNAPSHOT_NAME_PATTERN } from '../../dist/adapters/qemu-img.js';
import { VmStore } from '../../dist/adapters/vm-store.js';
import { SnapshotService } from '../../dist/services/snapshot-service.js';
import { BackupService } from '../../dist/services/backup-service.js';
import { hashFile } from '../../dist/adapters/transfer-store.js';
import { renderDomainXml } from '../../dist/domain/domain-xml.js';
import { parseDomainDefinition } from '../../dist/domain/domain-definition.js';

const logger = createLogger({ component: 'test', silent: true });
const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

const PREFIX = 'snaptest-';
const lock = { exclusive: <T>(_: string, task: () => Promise<T>) => task() };

/** Writes 4 KiB of byte `pattern` at offset 0 of a qcow2 image, as a guest would (qemu-io). */
function qemuIoWrite(image: string, pattern: number): Promise<void> {
  return new Promise((res, rej) => execFile('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} 0 4096`, image], (e) => (e ? rej(e) : res())));
}

/** The first `length` bytes the guest sees on a qcow2 image (through its backing chain). */
async function readGuestBytes(qemuImg: QemuImg, image: string, dir: string, length: number): Promise<string> {
  const raw = path.join(dir, `read-${randomUUID()}.raw`);
  await qemuImg.convert(image, raw, 'raw', { sourceFormat: 'qcow2' });
  const h = await open(raw, 'r');
  const buf = Buffer.alloc(length);
  await h.read(buf, 0, length, 0);
  await h.close();
  await rm(raw);
  return buf.toString('latin1');
}

/** A template holding `content` at byte 0, as qcow2. */
async function makeImage(qemuImg: QemuImg, dir: string, name: string, content: string, sizeMiB = 16): Promise<string> {
  const raw = path.join(dir, `${name}.raw`);
  const h = await open(raw, 'w');
  await h.truncate(sizeMiB * 1024 * 1024);
  await h.write(Buffer.from(content, 'latin1'), 0, content.length, 0);
  await h.close();
  const out = path.join(dir, `${name}.qcow2`);
  await qemuImg.convert(raw, out, 'qcow2', { sourceFormat: 'raw' });
  await rm(raw);
  return out;
}

async function setup() {
  const root = await mkdtemp(path.join(os.tmpdir(), 'snap-backup-test-'));
  roots.push(root);
  const store = new VmStore(path.join(root, 'storage'));
  await store.ensureRoot();
  const qemuImg = new QemuImg();
  const work = path.join(root, 'work');
  await mkdir(work);
  const template = await makeImage(qemuImg, work, 'template', 'TEMPLATE-CONTENT');
  const state = new Map<string, string>();
  const xmls = new Map<string, string>();
  const defined: string[] = [];
  const domains = {
    domState: async (name: string) => state.get(name),
    dumpXml: async (name: string) => {
      const x = xmls.get(name);
      if (!x) throw new NotFoundError(`no domain ${name}`);
      return x;
    },
    define: async (file: string) => {
      const xml = await readFile(file, 'utf8');
      const name = /<name>([^<]+)<\/name>/.exec(xml)![1]!;
      defined.push(name);
      xmls.set(name, xml);
      state.set(name, 'shut off');
    },
    undefine: async (name: string) => {
      state.delete(name);
      xmls.delete(name);
    },
  };
  /** A stopped VM whose system disk is an overlay of the template (a data disk too), defined in the fake libvirt. */
  const vm = async (vmUuid = randomUUID()) => {
    await store.create(vmUuid);
    const p = store.paths(vmUuid);
    await qemuImg.createOverlay({ backingPath: template, backingFormat: 'qcow2', overlayPath: p.disk });
    await qemuImg.createVolume(store.dataDiskPath(vmUuid, 0), 8);
    await writeFile(p.seed, 'SEED-ISO-BYTES');
    const name = `${PREFIX}${vmUuid}`;
    const xml = renderDomainXml({
      name, uuid: vmUuid, title: 'web-1', domainType: 'qemu', memoryMiB: 96, maxMemoryMiB: 192, vcpus: 2,
      diskPath: p.disk, backing: { path: template, format: 'qcow2' }, dataDisks: [store.dataDiskPath(vmUuid, 0)], seedIsoPath: p.seed, serialLogPath: p.serialLog,
      nics: [{ mac: '02:00:00:aa:bb:01', bridge: 'br-test-x' }],
      metadata: { vmUuid, vmName: 'web-1', projectId: 'p1', sliceId: 's1', actionId: 'a-1', template: 'tiny' },
    });
    xmls.set(name, xml);
    state.set(name, 'shut off');
    return { vmUuid, name, paths: p };
  };
  const snapshots = new SnapshotService({ images: qemuImg, vms: store, domains, lock, domainPrefix: PREFIX, logger });
  const backupRoot = path.join(root, 'backups');
  await mkdir(backupRoot);
  const backups = new BackupService({
    images: qemuImg, vms: store, domains, bridgeExists: async () => false, lock, backupRoots: [backupRoot], domainPrefix: PREFIX, domainType: 'qemu',
    fallbackNetwork: 'default', logger,
  });
  return { root, work, store, qemuImg, template, state, xmls, defined, vm, snapshots, backups, backupRoot };
}

test('snapshot names: a letter first (never a numeric id nor an option), at most 64 characters', () => {
  for (const ok of ['before-upgrade', 'a', 'S1.2_x']) assert.ok(SNAPSHOT_NAME_PATTERN.test(ok), ok);
  for (const bad of ['', '1', '-c', '../x', 'a b', 'a/b', 'x'.repeat(65), 'é']) assert.ok(!SNAPSHOT_NAME_PATTERN.test(bad), bad);
});

test('snapshots on a real qcow2 overlay: create on every disk, list, revert brings the content back, delete', async () => {
  const { work, qemuImg, vm, snapshots } = await setup();
  const { vmUuid, paths } = await vm();
  assert.equal(await readGuestBytes(qemuImg, paths.disk, work, 16), 'TEMPLATE-CONTENT');
  const created = await snapshots.create(vmUuid, 'before');
  assert.equal(created.name, 'before');
  assert.deepEqual(created.disks, ['disk.qcow2', 'data-vdb.qcow2']);
  assert.equal(created.complete, true);
  // A write into the overlay after the snapshot (qemu-io writes like a guest would: 4 KiB of 'A' at offset 0).
  await qemuIoWrite(paths.disk, 0x41);
  assert.equal(await readGuestBytes(qemuImg, paths.disk, work, 4), 'AAAA');
  const second = await snapshots.create(vmUuid, 'after');
  assert.deepEqual((await snapshots.list(vmUuid)).map((s) => s.name), ['before', 'after']);
  await assert.rejects(snapshots.create(vmUuid, 'before'), ConflictError, 'a name already taken is refused');
  await snapshots.revert(vmUuid, 'before');
  assert.equal(await readGuestBytes(qemuImg, paths.disk, work, 16), 'TEMPLATE-CONTENT', 'the revert brought the snapshot content back');
  await snapshots.revert(vmUuid, 'after');
  assert.equal(await readGuestBytes(qemuImg, paths.disk, work, 4), 'AAAA');
  assert.equal(second.complete, true);
  const del = await snapshots.delete(vmUuid, 'before');
  assert.deepEqual(del.disks, ['disk.qcow2', 'data-vdb.qcow2']);
  assert.deepEqual((await snapshots.list(vmUuid)).map((s) => s.name), ['after']);
  await assert.rejects(snapshots.delete(vmUuid, 'before'), NotFoundError);
  await assert.rejects(snapshots.revert(vmUuid, 'nope'), NotFoundError);
});

test('snapshots are refused on a running VM, for bad names and for an unknown VM, and change nothing', async () => {
  const { state, vm, snapshots } = await setup();
  const { vmUuid, name } = await vm();
  await assert.rejects(snapshots.create(vmUuid, '1'), InputError);
  await assert.rejects(snapshots.create(vmUuid, '-d'), InputError);
  state.set(name, 'running');
  await assert.rejects(snapshots.create(vmUuid, 'live'), (e: unknown) => e instanceof ConflictError && /is running: snapshots are taken, reverted and deleted only on a stopped VM/.test(e.message));
  assert.deepEqual(await snapshots.list(vmUuid), [], 'list works on a running VM and shows nothing was taken');
  await assert.rejects(snapshots.create(randomUUID(), 'x'), NotFoundError);
});

test('parseDomainDefinition reads memory, vCPUs, NICs and metadata back from a rendered domain', async () => {
  const { vm, xmls } = await setup();
  const { vmUuid, name } = await vm();
  const d = parseDomainDefinition(xmls.get(name)!);
  assert.equal(d.memoryMiB, 96);
  assert.equal(d.maxMemoryMiB, 192);
  assert.equal(d.vcpus, 2);
  assert.deepEqual(d.nics, [{ mac: '02:00:00:aa:bb:01', bridge: 'br-test-x' }]);
  assert.equal(d.metadata.vmUuid, vmUuid);
  assert.throws(() => parseDomainDefinition('<domain><memory unit="KiB">1024</memory><vcpu>1</vcpu></domain>'), /no kvm-crm metadata/);
});

test('backup flattens the disks with checksums; restore verifies them and defines the VM again with its identity', async () => {
  const { work, store, qemuImg, vm, backups, backupRoot, state, xmls, defined, snapshots } = await setup();
  const { vmUuid, name, paths } = await vm();
  await snapshots.create(vmUuid, 'kept-in-source');
  const b = await backups.backup(vmUuid, path.join(backupRoot, 'nightly'), { record: { name: 'web-1', ip: '10.0.0.5' } });
  assert.match(b.path, new RegExp(`^${backupRoot}/nightly/${vmUuid}/\\d{8}T\\d{6}Z$`));
  assert.deepEqual(b.disks, ['disk.qcow2', 'data-vdb.qcow2']);
  const files = (await readdir(b.path)).sort();
  assert.deepEqual(files, ['SHA256SUMS', 'data-vdb.qcow2', 'disk.qcow2', 'domain.xml', 'seed.iso', 'vm.json']);
  const sums = await readFile(path.join(b.path, 'SHA256SUMS'), 'utf8');
  assert.ok(sums.includes(`${(await hashFile(path.join(b.path, 'disk.qcow2'))).sha256}  disk.qcow2`));
  const info = await qemuImg.info(path.join(b.path, 'disk.qcow2'), 'qcow2');
  assert.equal(info.backingFilename, undefined, 'the backup disk is standalone (template blocks copied in)');
  assert.equal(await readGuestBytes(qemuImg, path.join(b.path, 'disk.qcow2'), work, 16), 'TEMPLATE-CONTENT');
  assert.deepEqual((await backups.list({ vmUuid })).map((e) => e.path), [b.path]);

  // Delete the VM (domain and folder), then restore it.
  state.delete(name);
  xmls.delete(name);
  await store.remove(vmUuid);
  const r = await backups.restore(b.path);
  assert.equal(r.vmUuid, vmUuid);
  assert.equal(r.vmName, 'web-1');
  assert.deepEqual(r.record, { name: 'web-1', ip: '10.0.0.5' });
  assert.deepEqual(defined, [name]);
  const xml = xmls.get(name)!;
  assert.match(xml, new RegExp(`<uuid>${vmUuid}</uuid>`));
  assert.match(xml, /<mac address='02:00:00:aa:bb:01'\/>/);
  assert.match(xml, /<source network='default'\/>/, 'the bridge missing here became the fallback network');
  assert.ok(!xml.includes('backingStore type'), 'the restored disk has no backing file');
  assert.match(r.notes.join(), /br-test-x does not exist/);
  assert.equal(await readGuestBytes(qemuImg, paths.disk, work, 16), 'TEMPLATE-CONTENT');
  assert.equal(await readFile(paths.seed, 'utf8'), 'SEED-ISO-BYTES');
  await assert.rejects(backups.restore(b.path), (e: unknown) => e instanceof ConflictError && /still exists/.test(e.message), 'a VM that exists is never overwritten');
});

test('a corrupted backup is refused before anything is written; paths outside the roots are refused; keep prunes the oldest', async () => {
  const { root, store, vm, backups, backupRoot, state, xmls, defined } = await setup();
  const { vmUuid, name } = await vm();
  let clock = Date.parse('2026-12-01T10:00:00Z');
  (backups as unknown as { deps: { now: () => Date } }).deps.now = () => new Date((clock += 1000));
  const first = await backups.backup(vmUuid, backupRoot);
  const second = await backups.backup(vmUuid, backupRoot);
  const third = await backups.backup(vmUuid, backupRoot, { keep: 2 });
  assert.deepEqual(third.removed, [first.path]);
  assert.deepEqual((await backups.list()).map((e) => e.path), [second.path, third.path]);

  state.delete(name);
  xmls.delete(name);
  await store.remove(vmUuid);
  await appendFile(path.join(third.path, 'data-vdb.qcow2'), 'x');
  await assert.rejects(backups.restore(third.path), (e: unknown) => e instanceof ConflictError && /corrupted: the SHA-256 of data-vdb.qcow2/.test(e.message));
  assert.equal((await backups.inspect(third.path)).vmUuid, vmUuid, 'inspect hashes only vm.json');
  await appendFile(path.join(third.path, 'vm.json'), ' ');
  await assert.rejects(backups.inspect(third.path), /corrupted: the SHA-256 of vm.json/);
  assert.equal(await store.exists(vmUuid), false, 'nothing was written');
  assert.deepEqual(defined, []);
  await rm(path.join(second.path, 'vm.json'));
  await assert.rejects(backups.restore(second.path), /incomplete: vm.json is missing/);

  const outside = path.join(root, 'elsewhere');
  await mkdir(outside);
  await assert.rejects(backups.backup(vmUuid, outside), /not under a backup root/);
  await assert.rejects(backups.backup(vmUuid, `${backupRoot}/../elsewhere`), InputError);
  await symlink(outside, path.join(backupRoot, 'escape'));
  await assert.rejects(backups.restore(path.join(backupRoot, 'escape')), /outside every backup root/);
  await assert.rejects(backups.restore(path.join(root, 'storage')), /not under a backup root/);
  assert.ok((await stat(outside)).isDirectory());
});

test('backups are refused on a running VM and without backup roots', async () => {
  const { vm, backups, backupRoot, state, store, qemuImg } = await setup();
  const { vmUuid, name } = await vm();
  state.set(name, 'running');
  await assert.rejects(backups.backup(vmUuid, backupRoot), (e: unknown) => e instanceof ConflictError && /running: backups are taken of a stopped VM only/.test(e.message));
  assert.deepEqual(await readdir(backupRoot), []);
  const none = new BackupService({
    images: qemuImg, vms: store, domains: { domState: async () => 'shut off', dumpXml: async () => '', define: async () => undefined, undefine: async () => undefined },
    bridgeExists: async () => true, lock, backupRoots: [], domainPrefix: PREFIX, domainType: 'qemu', fallbackNetwork: 'default', logger,
  });
  await assert.rejects(none.backup(vmUuid, backupRoot), /no backup roots configured/);
});
