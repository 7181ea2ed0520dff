/**
 * Unit tests of the StartupReconciler's decisions. libvirt is an in-memory fake for unit tests; the journal and
 * the VM folders are real, under a temporary storage root removed afterwards; queued statuses are recorded.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, parseRspec } from '@kvm-crm/shared';
import { renderDomainXml } from '../../dist/domain/domain-xml.js';
import { ActionJournal } from '../../dist/services/action-journal.js';
import { StartupReconciler } from '../../dist/services/startup-reconciler.js';
import type { ReconcilerDomains } from '../../dist/services/ports.js';

const logger = createLogger({ component: 'test', silent: true });
const PREFIX = 'kvmcrm-';
const URL = 'https://u:secret@manager:8445/xmlrpc/agent';
const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** libvirt in memory for unit tests: domain name → uuid, state and XML; records mutating calls. */
class FakeLibvirt implements ReconcilerDomains {
  readonly domains = new Map<string, { uuid: string; state: string; xml: string }>();
  readonly calls: string[] = [];
  down = false;
  add(vmUuid: string, state: string, actionId: string | undefined, prefix = PREFIX): void {
    const xml = actionId
      ? renderDomainXml({
          name: `${prefix}${vmUuid}`, uuid: vmUuid, title: 'vm', domainType: 'qemu', memoryMiB: 64, vcpus: 1, diskPath: `/srv/vms/${vmUuid}/disk.qcow2`,
          seedIsoPath: `/srv/vms/${vmUuid}/seed.iso`, serialLogPath: `/srv/vms/${vmUuid}/console.log`, nics: [],
          metadata: { vmUuid, vmName: 'vm', projectId: 'p1', sliceId: 's1', actionId, template: 't' },
        })
      : `<domain type='qemu'><name>${prefix}${vmUuid}</name><uuid>${vmUuid}</uuid></domain>`;
    this.domains.set(`${prefix}${vmUuid}`, { uuid: vmUuid, state, xml });
  }
  async listAll() {
    if (this.down) throw new Error('failed to connect to the hypervisor');
    return [...this.domains].map(([name, d]) => ({ name, uuid: d.uuid, state: d.state }));
  }
  async dumpXml(name: string) {
    return this.domains.get(name)!.xml;
  }
  async domState(name: string) {
    return this.domains.get(name)?.state;
  }
  async destroy(name: string) {
    this.calls.push(`destroy ${name}`);
    this.domains.get(name)!.state = 'shut off';
  }
  async undefine(name: string) {
    this.calls.push(`undefine ${name}`);
    this.domains.delete(name);
  }
}

async function setup() {
  const root = await mkdtemp(path.join(os.tmpdir(), 'reconciler-test-'));
  roots.push(root);
  await mkdir(path.join(root, 'vms'));
  const journal = new ActionJournal(path.join(root, 'journal'), logger);
  await journal.open();
  const libvirt = new FakeLibvirt();
  const queued: Array<{ url: string; actionId: string; status: string; description: string }> = [];
  const reconciler = new StartupReconciler(
    libvirt,
    journal,
    async (url, xml) => {
      const a = parseRspec(xml).response!.provisioning!.actions[0]!;
      queued.push({ url, actionId: a.id!, status: a.status!, description: a.description ?? '' });
    },
    { storageRoot: root, domainPrefix: PREFIX, logger },
  );
  const folder = async (vmUuid: string) => {
    await mkdir(path.join(root, 'vms', vmUuid));
    await writeFile(path.join(root, 'vms', vmUuid, 'disk.qcow2'), 'x');
  };
  const folders = async () => (await readdir(path.join(root, 'vms'))).sort();
  const entry = (actionId: string, type: string, vmUuid: string) => journal.record({ actionId, type, vmUuid, callbackUrl: URL, started: new Date().toISOString() });
  return { root, journal, libvirt, queued, reconciler, folder, folders, entry };
}

test('create whose domain is defined with our action id → SUCCESS; the folder stays', async () => {
  const t = await setup();
  t.libvirt.add(uuid(1), 'shut off', 'act-1');
  await t.folder(uuid(1));
  await t.entry('act-1', 'create', uuid(1));
  const report = await t.reconciler.run();
  assert.deepEqual(t.queued.map((q) => [q.url, q.actionId, q.status]), [[URL, 'act-1', 'SUCCESS']]);
  assert.deepEqual(await t.folders(), [uuid(1)]);
  assert.deepEqual(await t.journal.list(), []);
  assert.equal(report.domains.length, 1);
  assert.equal(report.domains[0]!.metadata?.actionId, 'act-1');
});

test('create that died before define → folder removed, FAILED "agent restarted"', async () => {
  const t = await setup();
  await t.folder(uuid(2));
  await t.entry('act-2', 'create', uuid(2));
  await t.reconciler.run();
  assert.deepEqual(t.queued.map((q) => [q.actionId, q.status]), [['act-2', 'FAILED']]);
  assert.match(t.queued[0]!.description, /agent restarted during the create/);
  assert.deepEqual(await t.folders(), []);
  assert.deepEqual(await t.journal.list(), []);
});

test('create with a partial domain (no readable metadata) → domain destroyed and undefined, folder removed, FAILED', async () => {
  const t = await setup();
  t.libvirt.add(uuid(3), 'running', undefined);
  await t.folder(uuid(3));
  await t.entry('act-3', 'create', uuid(3));
  await t.reconciler.run();
  assert.deepEqual(t.libvirt.calls, [`destroy ${PREFIX}${uuid(3)}`, `undefine ${PREFIX}${uuid(3)}`]);
  assert.deepEqual(await t.folders(), []);
  assert.equal(t.queued[0]!.status, 'FAILED');
});

test('create whose VM has a domain of another action → FAILED, domain and folder untouched', async () => {
  const t = await setup();
  t.libvirt.add(uuid(4), 'running', 'older-action');
  await t.folder(uuid(4));
  await t.entry('act-4', 'create', uuid(4));
  await t.reconciler.run();
  assert.equal(t.queued[0]!.status, 'FAILED');
  assert.deepEqual(t.libvirt.calls, []);
  assert.deepEqual(await t.folders(), [uuid(4)]);
});

test('other types → FAILED naming the VM state; a delete whose domain is gone → finished, SUCCESS', async () => {
  const t = await setup();
  t.libvirt.add(uuid(5), 'running', 'c5');
  await t.folder(uuid(5));
  await t.entry('act-5', 'start', uuid(5));
  await t.folder(uuid(6));
  await t.entry('act-6', 'delete', uuid(6));
  t.libvirt.add(uuid(7), 'shut off', 'c7');
  await t.entry('act-7', 'delete', uuid(7));
  await t.reconciler.run();
  const by = new Map(t.queued.map((q) => [q.actionId, q]));
  assert.equal(by.get('act-5')!.status, 'FAILED');
  assert.match(by.get('act-5')!.description, /agent restarted during start; the VM's state is running/);
  assert.equal(by.get('act-6')!.status, 'SUCCESS');
  assert.equal(by.get('act-7')!.status, 'FAILED');
  assert.match(by.get('act-7')!.description, /shut off/);
  assert.deepEqual(await t.folders(), [uuid(5)]);
  assert.deepEqual(t.libvirt.calls, []);
});

test('debris: folders no domain owns and no journal references are removed; owned ones (any prefix) stay', async () => {
  const t = await setup();
  t.libvirt.add(uuid(8), 'running', 'c8');
  t.libvirt.add(uuid(9), 'shut off', 'c9', 'otherprefix-');
  for (const n of [8, 9, 10, 11]) await t.folder(uuid(n));
  await mkdir(path.join(t.root, 'vms', 'not-a-uuid'));
  const report = await t.reconciler.run();
  assert.deepEqual(await t.folders(), [uuid(8), uuid(9), 'not-a-uuid'].sort());
  assert.deepEqual(report.removedFolders.map((f) => path.basename(f)).sort(), [uuid(10), uuid(11)]);
  assert.deepEqual(report.domains.map((d) => d.name), [`${PREFIX}${uuid(8)}`], 'the view lists our domains only');
});

test('libvirt unreachable → nothing decided or removed; the journal stays', async () => {
  const t = await setup();
  t.libvirt.down = true;
  await t.folder(uuid(12));
  await t.entry('act-12', 'create', uuid(12));
  const report = await t.reconciler.run();
  assert.match(report.error ?? '', /libvirt not readable/);
  assert.deepEqual(t.queued, []);
  assert.deepEqual(await t.folders(), [uuid(12)]);
  assert.equal((await t.journal.list()).length, 1);
});

test('a status that cannot be queued leaves the journal entry and its folder for the next start', async () => {
  const t = await setup();
  await t.folder(uuid(13));
  await t.entry('act-13', 'start', uuid(13));
  const reconciler = new StartupReconciler(t.libvirt, t.journal, async () => {
    throw new Error('disk full');
  }, { storageRoot: t.root, domainPrefix: PREFIX, logger });
  await reconciler.run();
  assert.equal((await t.journal.list()).length, 1);
  assert.deepEqual(await t.folders(), [uuid(13)]);
});
