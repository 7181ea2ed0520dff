/**
 * Unit tests of the agent's AgentProvisioningService. HostPorts (libvirt domains, qemu-img, seed ISO, bridges), the
 * StatusReporter and the ImageInspector are in-memory fakes for unit tests; no libvirt, no qemu-img, no socket.
 * The TemplateCatalogue is the real one over a temporary folder, and the VM files are written under a temporary
 * storage root that is removed afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, createLogger, InputError, NotFoundError, parseRspec, serialiseRspec, type Action, type Interface } from '@kvm-crm/shared';
import type { ImageInfo } from '../../dist/adapters/qemu-img.js';
import { TemplateCatalogue, type ImageInspector } from '../../dist/templates/template-catalogue.js';
import { ActionJournal } from '../../dist/services/action-journal.js';
import { AgentProvisioningService } from '../../dist/services/provisioning-service.js';
import type { CreateOverlayArgs, DiskImages, DomainControl, DomainState, HostPorts, StatusKind, StatusReporter } from '../../dist/services/ports.js';

// ---------------------------------------------------------------------------------------------------------------
// Fakes for unit tests

/** libvirt in memory: domain name → state. Records every call. */
class FakeDomains implements DomainControl {
  readonly domains = new Map<string, { state: DomainState; xml: string }>();
  readonly calls: string[] = [];
  /** Thrown by `define` when set. */
  defineError: Error | undefined;
  /** Milliseconds `define` takes (to widen race windows). */
  defineDelayMs = 0;
  /** Whether a guest powers off after `shutdown` (ACPI honoured). */
  shutdownWorks = true;

  async define(xmlFilePath: string): Promise<void> {
    this.calls.push(`define ${xmlFilePath}`);
    if (this.defineDelayMs) await new Promise((r) => setTimeout(r, this.defineDelayMs));
    if (this.defineError) throw this.defineError;
    const xml = await readFile(xmlFilePath, 'utf8');
    const name = /<name>([^<]+)<\/name>/.exec(xml)?.[1];
    assert.ok(name, 'domain XML has a name');
    this.domains.set(name, { state: 'shut off', xml });
  }
  /**
   * Set to make `start` fail: `'timeout'` as virsh killed by its timeout while libvirtd went on (the domain runs),
   * `'refused'` as a start libvirt refused (the domain stays shut off).
   */
  startFailure: 'timeout' | 'refused' | undefined;
  /** As `virsh start`: NotFoundError for a missing domain, ConflictError ("already active") for a running one. */
  async start(name: string): Promise<void> {
    this.calls.push(`start ${name}`);
    const d = this.domains.get(name);
    if (!d) throw new NotFoundError(`libvirt domain ${name} not found`);
    if (d.state !== 'shut off') throw new ConflictError(`start ${name}: Requested operation is not valid: domain is already running`);
    if (this.startFailure === 'refused') throw new Error(`virsh start --domain ${name}: exited with status 1: error: internal error: qemu unexpectedly closed the monitor`);
    d.state = 'running';
    if (this.startFailure === 'timeout') throw new Error(`virsh start --domain ${name}: timed out after 300 s`);
  }
  async shutdown(name: string): Promise<void> {
    this.calls.push(`shutdown ${name}`);
    const d = this.get(name);
    // The guest powers off a little later, as a real one does.
    if (this.shutdownWorks) setTimeout(() => (d.state = 'shut off'), 100);
  }
  async destroy(name: string): Promise<void> {
    this.calls.push(`destroy ${name}`);
    this.get(name).state = 'shut off';
  }
  async reboot(name: string): Promise<void> {
    this.calls.push(`reboot ${name}`);
    this.get(name);
  }
  async undefine(name: string): Promise<void> {
    this.calls.push(`undefine ${name}`);
    this.get(name);
    this.domains.delete(name);
  }
  async domState(name: string): Promise<DomainState | undefined> {
    return this.domains.get(name)?.state;
  }
  /** Memory (MiB) of the definition and of the running guest, and the max the guest started with. */
  readonly memory = new Map<string, { config: number; live?: number; maxLive?: number; vcpus?: number }>();
  async setConfigMemory(name: string, memoryMiB: number): Promise<void> {
    this.calls.push(`setConfigMemory ${name} ${memoryMiB}`);
    this.get(name);
    this.configMax.set(name, memoryMiB);
    this.memory.set(name, { ...this.memory.get(name), config: memoryMiB });
  }
  async setLiveMemory(name: string, memoryMiB: number): Promise<void> {
    this.calls.push(`setLiveMemory ${name} ${memoryMiB}`);
    const m = this.memory.get(name)!;
    if (m.maxLive !== undefined && memoryMiB > m.maxLive) throw new Error('fake libvirt: above maximum');
    m.live = memoryMiB;
  }
  async setConfigVcpus(name: string, vcpus: number): Promise<void> {
    this.calls.push(`setConfigVcpus ${name} ${vcpus}`);
    this.get(name);
    this.memory.set(name, { config: 0, ...this.memory.get(name), vcpus });
  }
  async maxMemoryMiB(name: string): Promise<number> {
    return this.memory.get(name)?.maxLive ?? 256;
  }
  /** The ceiling (`<memory>`) of the persistent definition once setConfigMemory set it (before: the defined XML's). */
  readonly configMax = new Map<string, number>();
  async setConfigCurrentMemory(name: string, memoryMiB: number): Promise<void> {
    this.calls.push(`setConfigCurrentMemory ${name} ${memoryMiB}`);
    const { maxMiB } = await this.configMemory(name);
    if (memoryMiB > maxMiB) throw new Error('fake libvirt: current memory above the maximum');
    this.memory.set(name, { ...this.memory.get(name), config: memoryMiB });
  }
  async configMemory(name: string): Promise<{ maxMiB: number; currentMiB: number }> {
    const xml = this.get(name).xml;
    const fromXml = (tag: string) => Number(new RegExp(`<${tag} unit='MiB'>(\\d+)<`).exec(xml)?.[1] ?? NaN);
    return { maxMiB: this.configMax.get(name) ?? fromXml('memory'), currentMiB: this.memory.get(name)?.config ?? fromXml('currentMemory') };
  }
  /** Domains marked autostart; `autostartCalls` records every change (kept out of `calls`, which lists lifecycle verbs). */
  readonly autostart = new Set<string>();
  readonly autostartCalls: string[] = [];
  async setAutostart(name: string, enabled: boolean): Promise<void> {
    this.get(name);
    this.autostartCalls.push(`${enabled ? 'enable' : 'disable'} ${name}`);
    if (enabled) this.autostart.add(name);
    else this.autostart.delete(name);
  }
  private get(name: string) {
    const d = this.domains.get(name);
    if (!d) throw new Error(`fake libvirt: no domain ${name}`);
    return d;
  }
  /** Calls other than queries, without the argument. */
  verbs(): string[] {
    return this.calls.map((c) => c.split(' ')[0]!);
  }
}

class FakeHost implements HostPorts {
  readonly domains = new FakeDomains();
  readonly bridges = new Set(['br-mgmt', 'br-data']);
  readonly overlays: CreateOverlayArgs[] = [];
  readonly seeds: Array<{ files: Record<string, string>; isoPath: string }> = [];
  /** Every image operation other than createOverlay: `convert src dst fmt srcfmt`, `volume path MiB`, `resize path MiB`. */
  readonly imageCalls: string[] = [];
  /** Milliseconds `createOverlay` takes, and its error (thrown at the end) when set. */
  overlayDelayMs = 0;
  overlayError: Error | undefined;
  /** Thrown by `writeSeedIso` (at once) when set. */
  seedError: Error | undefined;
  /** `overlay start`, `overlay written`, `seed failed` …: the order of the create's concurrent steps. */
  readonly steps: string[] = [];
  readonly images: DiskImages = {
    createOverlay: async (args: CreateOverlayArgs): Promise<void> => {
      this.overlays.push(args);
      this.steps.push('overlay start');
      if (this.overlayDelayMs) await new Promise((r) => setTimeout(r, this.overlayDelayMs));
      if (this.overlayError) {
        this.steps.push('overlay failed');
        throw this.overlayError;
      }
      await writeFile(args.overlayPath, 'QFI\xfb fake overlay\n', { flag: 'wx' });
      this.steps.push('overlay written');
    },
    convert: async (src, dst, format, options) => {
      this.imageCalls.push(`convert ${src} ${dst} ${format} ${options?.sourceFormat}`);
      await writeFile(dst, 'QFI\xfb fake full copy\n', { flag: 'wx' });
    },
    createVolume: async (p, sizeMiB) => {
      this.imageCalls.push(`volume ${p} ${sizeMiB}`);
      await writeFile(p, 'QFI\xfb fake volume\n', { flag: 'wx' });
    },
    resize: async (p, sizeMiB) => {
      this.imageCalls.push(`resize ${p} ${sizeMiB}`);
    },
  };
  async writeSeedIso(files: Record<string, string>, isoPath: string): Promise<void> {
    this.seeds.push({ files, isoPath });
    if (this.seedError) {
      this.steps.push('seed failed');
      throw this.seedError;
    }
    this.steps.push('seed written');
    await writeFile(isoPath, JSON.stringify(files), { flag: 'wx', mode: 0o644 });
  }
  async bridgeExists(name: string): Promise<boolean> {
    return this.bridges.has(name);
  }
}

interface Report {
  url: string;
  id?: string;
  type?: string;
  status?: string;
  description?: string;
}

/** Records every status (parsed); `answer` decides what `report` resolves with. */
class FakeReporter implements StatusReporter {
  readonly reports: Report[] = [];
  /** The `kind` of each report, in the same order (the StatusOutbox's delivery order, decision 038). */
  readonly kinds: Array<StatusKind | undefined> = [];
  answer: (r: Report) => boolean = () => true;

  async report(callbackUrl: string, rspecXml: string, kind?: StatusKind): Promise<boolean> {
    this.kinds.push(kind);
    assert.match(rspecXml, /<rspec xmlns="http:\/\/www\.fp7-ofelia\.eu\/CF\/vt_am\/rspec">/, 'agent dialect');
    const a = parseRspec(rspecXml).response!.provisioning!.actions[0]!;
    const r: Report = { url: callbackUrl, id: a.id, type: a.type, status: a.status, description: a.description };
    this.reports.push(r);
    return this.answer(r);
  }

  /** `[status, description]` of one action's reports. */
  of(actionId: string): Array<[string | undefined, string | undefined]> {
    return this.reports.filter((r) => r.id === actionId).map((r) => [r.status, r.description]);
  }
}

class FakeInspector implements ImageInspector {
  calls = 0;
  async info(_path: string, format?: string): Promise<ImageInfo> {
    this.calls++;
    return { format: format ?? 'qcow2', virtualSizeBytes: 2 * 1024 ** 3, actualSizeBytes: 4096 };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Fixture

const CALLBACK = 'https://agent:secret@manager.example:8445/xmlrpc/agent';
const PREFIX = 'kvmcrm-';
let root: string;
let templatesDir: string;
let templateDisk: string;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-agent-prov-test-'));
  templatesDir = path.join(root, 'templates');
  await mkdir(path.join(templatesDir, 'debian12'), { recursive: true });
  await writeFile(path.join(templatesDir, 'debian12', 'template.json'), JSON.stringify({ disk: 'disk.qcow2', format: 'qcow2', minMemoryMiB: 128, description: 'test' }));
  await writeFile(path.join(templatesDir, 'debian12', 'disk.qcow2'), 'QFI\xfb fake template\n');
  templateDisk = await realpath(path.join(templatesDir, 'debian12', 'disk.qcow2'));
  await mkdir(path.join(templatesDir, 'fullcopy'), { recursive: true });
  await writeFile(path.join(templatesDir, 'fullcopy', 'template.json'), JSON.stringify({ disk: 'disk.raw', format: 'raw', clone: 'full' }));
  await writeFile(path.join(templatesDir, 'fullcopy', 'disk.raw'), 'raw template\n');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function setup(opts: { stopGraceSeconds?: number; journal?: ActionJournal; storageRootName?: string; identities?: { remember(n: string, i: { name: string; uuid: string }, u: string): void; forget(n: string): void } } = {}) {
  const host = new FakeHost();
  const reporter = new FakeReporter();
  const storageRoot = path.join(root, opts.storageRootName ?? `s-${randomUUID().slice(0, 8)}`);
  const svc = new AgentProvisioningService(host, new TemplateCatalogue(templatesDir, new FakeInspector()), reporter, {
    storageRoot, domainPrefix: PREFIX, domainType: 'qemu', vcpus: 1, maxConcurrentActions: 4, stopGraceSeconds: opts.stopGraceSeconds ?? 1,
    fallbackNetwork: 'default', logger: createLogger({ component: 'test', silent: true }), ...(opts.journal ? { journal: opts.journal } : {}),
    ...(opts.identities ? { identities: opts.identities } : {}),
  });
  return { host, reporter, svc, storageRoot };
}

const MGMT_NIC: Interface = { ismgmt: true, name: 'eth0', mac: '02:00:0A:14:00:00', ip: '10.20.0.2', mask: '255.255.255.0', gw: '10.20.0.1', dns1: '1.1.1.1', dns2: '9.9.9.9', switchId: 'br-mgmt' };
const DATA_NIC: Interface = { ismgmt: false, name: 'eth1', mac: '02:00:0a:14:00:01', ip: 'NONE', mask: 'NONE', gw: 'NONE', dns1: 'NONE', dns2: 'NONE', switchId: 'br-data' };

interface VmSpec {
  vmUuid: string;
  name?: string;
  template?: string;
  memoryMb?: number;
  vcpus?: number;
  /** Send no memory-mb at all. */
  noMemory?: boolean;
  virtualizationType?: string;
  /** hd-size-mb; default 8200 (what Expedient always sends, §6.4); `null`: none. */
  hdSizeMb?: number | null;
  maxMemoryMb?: number;
  dataDisks?: Array<{ sizeMb?: number }>;
  sshKeys?: string[];
  users?: Array<{ name?: string; password?: string }>;
  keepDisks?: boolean;
}

/** One action as the manager sends it (§6.5, §8.3), passed through serialise + parse like on the wire. */
function action(type: string, vm: VmSpec, id = randomUUID()): Action & { id: string } {
  const doc = serialiseRspec(
    {
      query: {
        provisioning: {
          actions: [
            {
              type, id,
              server: {
                uuid: '5e4e0000-0000-4000-8000-000000000001', virtualizationType: 'kvm',
                virtualMachines: [
                  {
                    name: vm.name ?? 'vm1', uuid: vm.vmUuid, status: 'on queue', projectId: 'p-1', projectName: 'demo-project', sliceId: 's-1', sliceName: 'demo-slice',
                    operatingSystemType: 'GNU/Linux', operatingSystemVersion: '12', operatingSystemDistribution: 'Debian',
                    serverId: '5e4e0000-0000-4000-8000-000000000001', virtualizationType: vm.virtualizationType ?? 'kvm',
                    xenConfiguration: {
                      hdSetupType: 'file-image', ...(vm.hdSizeMb === null ? {} : { hdSizeMb: vm.hdSizeMb ?? 8200 }), hdOriginPath: vm.template ?? 'debian12/disk.qcow2', configurator: '', virtualizationSetupType: 'hvm',
                      ...(vm.noMemory ? {} : { memoryMb: vm.memoryMb ?? 256 }), ...(vm.vcpus ? { vcpus: vm.vcpus } : {}), interfaces: [MGMT_NIC, DATA_NIC],
                      ...(vm.maxMemoryMb !== undefined ? { maxMemoryMb: vm.maxMemoryMb } : {}), ...(vm.users ? { users: vm.users } : {}),
                      ...(vm.dataDisks ? { dataDisks: vm.dataDisks } : {}), ...(vm.sshKeys ? { sshKeys: vm.sshKeys } : {}), ...(vm.keepDisks !== undefined ? { keepDisks: vm.keepDisks } : {}),
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    },
    { dialect: 'manager' },
  );
  const parsed = parseRspec(doc).query!.provisioning!.actions[0]!;
  return { ...parsed, id };
}

async function run(svc: AgentProvisioningService, ...actions: Action[]): Promise<void> {
  svc.submit(CALLBACK, actions);
  await svc.idle();
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/** A VM created (defined, shut off) by a create action. */
async function created(env: ReturnType<typeof setup>, vm: VmSpec = { vmUuid: randomUUID() }) {
  const a = action('create', vm);
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined], ['SUCCESS', undefined]]);
  env.reporter.reports.length = 0;
  env.reporter.kinds.length = 0;
  env.host.domains.calls.length = 0;
  return { vmUuid: vm.vmUuid, name: PREFIX + vm.vmUuid };
}

// ---------------------------------------------------------------------------------------------------------------
// Create

test('create: ONGOING then SUCCESS; overlay, seed and domain XML written; domain defined', async () => {
  const env = setup();
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid, name: 'web-1' });
  await run(env.svc, a);

  assert.deepEqual(env.reporter.reports, [
    { url: CALLBACK, id: a.id, type: undefined, status: 'ONGOING', description: undefined },
    { url: CALLBACK, id: a.id, type: undefined, status: 'SUCCESS', description: undefined },
  ]);
  assert.deepEqual(env.reporter.kinds, ['progress', 'result'], 'the SUCCESS may overtake the events the create caused');
  const name = PREFIX + vmUuid;
  const paths = env.svc.vmPaths(vmUuid);
  assert.equal(paths.dir, path.join(env.storageRoot, 'vms', vmUuid));
  assert.deepEqual(env.host.domains.calls, [`define ${paths.domainXml}`]);
  assert.equal(env.host.domains.domains.get(name)?.state, 'shut off');

  assert.deepEqual(env.host.overlays, [{ backingPath: templateDisk, backingFormat: 'qcow2', overlayPath: paths.disk, sizeMiB: 8200 }], 'made at hd-size-mb 8200 (the template is 2048 MiB)');
  assert.ok(await exists(paths.disk), 'overlay written');
  assert.ok(await exists(paths.seed), 'seed ISO written');
  assert.equal(env.host.seeds.length, 1);
  assert.equal(env.host.seeds[0]!.isoPath, paths.seed);
  const seed = env.host.seeds[0]!.files;
  assert.deepEqual(Object.keys(seed).sort(), ['meta-data', 'network-config', 'user-data']);
  assert.match(seed['meta-data']!, new RegExp(`instance-id: ${vmUuid}\\nlocal-hostname: web-1\\n`));
  assert.match(seed['network-config']!, /02:00:0a:14:00:00/);
  assert.match(seed['network-config']!, /10\.20\.0\.2\/24/);
  assert.match(seed['network-config']!, /02:00:0a:14:00:01/);
  assert.doesNotMatch(seed['network-config']!, /NONE/);

  const xml = await readFile(paths.domainXml, 'utf8');
  assert.equal(env.host.domains.domains.get(name)?.xml, xml, 'the file on disk is what was defined');
  assert.match(xml, new RegExp(`<name>${name}</name>`));
  assert.match(xml, new RegExp(`<uuid>${vmUuid}</uuid>`));
  assert.match(xml, /<title>web-1<\/title>/);
  assert.match(xml, /<memory unit='MiB'>256<\/memory>/);
  assert.match(xml, /<interface type='bridge'>\n\s*<mac address='02:00:0a:14:00:00'\/>\n\s*<source bridge='br-mgmt'\/>/);
  assert.match(xml, /<interface type='bridge'>\n\s*<mac address='02:00:0a:14:00:01'\/>\n\s*<source bridge='br-data'\/>/);
  assert.ok(xml.includes(`<source file='${paths.disk}'/>`));
  assert.ok(
    xml.includes(`<backingStore type='file'>\n        <format type='qcow2'/>\n        <source file='${templateDisk}'>\n          <seclabel model='dac' relabel='no'/>`),
    'template as an explicit, never relabelled backing store',
  );
  assert.ok(xml.includes(`<source file='${paths.seed}'>`));
  assert.match(xml, /<kvmcrm:action-id>[^<]+<\/kvmcrm:action-id>/);
  assert.ok(xml.includes(`<kvmcrm:action-id>${a.id}</kvmcrm:action-id>`));
  assert.ok(xml.includes('<kvmcrm:template>debian12</kvmcrm:template>'));
  assert.ok(xml.includes(`<source mode='bind' path='${paths.serialSocket}'/>\n      <log file='${paths.serialLog}' append='on'/>`), 'serial console on a socket, logged to the file (decision 027)');
});

test('create: a storage root too long for a socket path keeps the file-only serial log, and SUCCESS says so', async () => {
  const env = setup({ storageRootName: `long-${'x'.repeat(60)}` });
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid });
  await run(env.svc, a);
  const [, success] = env.reporter.of(a.id);
  assert.equal(success![0], 'SUCCESS');
  assert.match(success![1] ?? '', /no interactive console: the socket path would be longer than 107 bytes/);
  const xml = await readFile(env.svc.vmPaths(vmUuid).domainXml, 'utf8');
  assert.ok(xml.includes("<serial type='file'>") && !xml.includes('console.sock'));
});

test('create: a missing bridge falls back to the libvirt network "default", and SUCCESS says so', async () => {
  const env = setup();
  env.host.bridges.delete('br-data');
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id), [
    ['ONGOING', undefined],
    ['SUCCESS', 'eth1: bridge br-data does not exist on this host, attached to libvirt network default'],
  ]);
  const xml = await readFile(env.svc.vmPaths(vmUuid).domainXml, 'utf8');
  assert.match(xml, /<source bridge='br-mgmt'\/>/);
  assert.doesNotMatch(xml, /br-data/);
  assert.match(xml, /<interface type='network'>\n\s*<mac address='02:00:0a:14:00:01'\/>\n\s*<source network='default'\/>/);
});

test('create: define fails → FAILED with the reason, VM folder removed, nothing defined', async () => {
  const env = setup();
  env.host.domains.defineError = new Error('virsh define: XML error: boom');
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined], ['FAILED', 'virsh define: XML error: boom']]);
  assert.equal(await exists(env.svc.vmPaths(vmUuid).dir), false, 'folder removed');
  assert.equal(env.host.domains.domains.size, 0);
  assert.deepEqual(env.host.domains.verbs(), ['define'], 'no undefine of something never defined');
  assert.equal(env.host.overlays.length, 1, 'it did get as far as the overlay');

  // The same VM can be created afterwards.
  env.host.domains.defineError = undefined;
  const again = action('create', { vmUuid });
  await run(env.svc, again);
  assert.deepEqual(env.reporter.of(again.id), [['ONGOING', undefined], ['SUCCESS', undefined]]);
});

test('create: the seed ISO fails while the overlay is still written → FAILED once both ended; folder removed after the overlay, no orphan, nothing defined', async () => {
  const env = setup();
  env.host.overlayDelayMs = 100;
  env.host.seedError = new Error('genisoimage: exited with status 1');
  env.reporter.answer = (r) => (env.host.steps.push(`report ${r.status}`), true);
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined], ['FAILED', 'genisoimage: exited with status 1']]);
  // 'overlay written' before 'report FAILED': the cleanup waited for the overlay (its file was written into the
  // folder, which the cleanup then removed; a cleanup before it would have failed the overlay's write instead).
  // The seed is started first (its file writes are queued before qemu-img is spawned), the overlay right after it.
  assert.deepEqual(env.host.steps, ['report ONGOING', 'seed failed', 'overlay start', 'overlay written', 'report FAILED']);
  assert.deepEqual(env.host.domains.calls, [], 'nothing defined');
  assert.deepEqual(await readdir(path.join(env.storageRoot, 'vms')), [], 'no file or folder left');
});

test('create: the overlay fails while the seed ISO is written → FAILED with the overlay\'s reason; folder removed, nothing defined', async () => {
  const env = setup();
  env.host.overlayDelayMs = 50;
  env.host.overlayError = new Error('qemu-img create: No space left on device');
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined], ['FAILED', 'qemu-img create: No space left on device']]);
  assert.deepEqual(env.host.steps, ['seed written', 'overlay start', 'overlay failed']);
  assert.deepEqual(env.host.domains.calls, []);
  assert.deepEqual(await readdir(path.join(env.storageRoot, 'vms')), [], 'the seed ISO written meanwhile is gone with the folder');

  // Both fail: the disk's reason (the first step) is reported, still one FAILED.
  env.host.seedError = new Error('genisoimage: exited with status 1');
  const b = action('create', { vmUuid: randomUUID() });
  await run(env.svc, b);
  assert.deepEqual(env.reporter.of(b.id), [['ONGOING', undefined], ['FAILED', 'qemu-img create: No space left on device']]);
  assert.deepEqual(await readdir(path.join(env.storageRoot, 'vms')), []);
});

test('create: unknown template or too little memory → FAILED, nothing written', async () => {
  const env = setup();
  const cases: Array<[VmSpec, RegExp]> = [
    [{ vmUuid: randomUUID(), template: 'nope' }, /^no template "nope" in the catalogue$/],
    [{ vmUuid: randomUUID(), template: 'debian12/other.qcow2' }, /^template debian12 has no disk other\.qcow2/],
    [{ vmUuid: randomUUID(), template: '../debian12' }, /^invalid template name/],
    [{ vmUuid: randomUUID(), memoryMb: 64 }, /^template debian12 needs at least 128 MiB of memory, 64 MiB requested$/],
    [{ vmUuid: randomUUID(), name: 'a;rm -rf /' }, /^invalid VM name/],
  ];
  for (const [vm, reason] of cases) {
    const a = action('create', vm);
    await run(env.svc, a);
    const got = env.reporter.of(a.id);
    assert.equal(got.length, 2, JSON.stringify(vm));
    assert.deepEqual(got[0], ['ONGOING', undefined]);
    assert.equal(got[1]![0], 'FAILED');
    assert.match(got[1]![1] ?? '', reason);
    assert.equal(await exists(env.svc.vmPaths(vm.vmUuid).dir), false);
  }
  assert.equal(env.host.domains.calls.length, 0);
  assert.equal(env.host.overlays.length, 0);
  assert.equal(await exists(path.join(env.storageRoot, 'vms')), false);
});

test('create: an existing domain for the uuid → FAILED, the existing domain untouched', async () => {
  const env = setup();
  const vmUuid = randomUUID();
  const name = PREFIX + vmUuid;
  env.host.domains.domains.set(name, { state: 'running', xml: '<domain>precious</domain>' });
  const a = action('create', { vmUuid });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined], ['FAILED', `a domain for VM ${vmUuid} already exists on this host`]]);
  assert.deepEqual(env.host.domains.domains.get(name), { state: 'running', xml: '<domain>precious</domain>' });
  assert.deepEqual(env.host.domains.calls, []);
  assert.equal(await exists(env.svc.vmPaths(vmUuid).dir), false);

  // An existing folder (a leftover) is not overwritten either.
  const other = randomUUID();
  const dir = env.svc.vmPaths(other).dir;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'disk.qcow2'), 'old data');
  const b = action('create', { vmUuid: other });
  await run(env.svc, b);
  assert.deepEqual(env.reporter.of(b.id)[1], ['FAILED', `the folder of VM ${other} already exists on this host`]);
  assert.equal(await readFile(path.join(dir, 'disk.qcow2'), 'utf8'), 'old data');
});

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle

test('start, reboot, hardStop, delete: state transitions and idempotent cases', async () => {
  const env = setup();
  const { vmUuid, name } = await created(env);
  const d = env.host.domains;
  const step = async (type: string, expected: [string, string | undefined], state: DomainState | undefined) => {
    const a = action(type, { vmUuid });
    await run(env.svc, a);
    assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined], expected], type);
    assert.equal(d.domains.get(name)?.state, state, `state after ${type}`);
    // Decision 038: only a start's (or create's) SUCCESS may overtake the events its action caused; a FAILED, or a
    // reboot/hardStop/delete SUCCESS, keeps its place behind them (else e.g. a failed delete's Stopped would be
    // applied after the FAILED and show the VM stopped).
    const kinds = env.reporter.reports.flatMap((r, i) => (r.id === a.id ? [env.reporter.kinds[i]] : []));
    assert.deepEqual(kinds, ['progress', type === 'start' && expected[0] === 'SUCCESS' ? 'result' : 'progress'], `kinds of ${type} ${expected[0]}`);
  };

  await step('start', ['SUCCESS', undefined], 'running');
  await step('start', ['SUCCESS', 'already running'], 'running');
  await step('reboot', ['SUCCESS', undefined], 'running');
  await step('hardStop', ['SUCCESS', undefined], 'shut off');
  await step('hardStop', ['SUCCESS', 'already stopped'], 'shut off');
  await step('reboot', ['SUCCESS', 'was not running; started'], 'running');
  assert.deepEqual(d.verbs(), ['start', 'start', 'reboot', 'destroy', 'start'], 'start asks no state first: virsh says "already running"');

  d.calls.length = 0;
  await step('delete', ['SUCCESS', undefined], undefined);
  assert.deepEqual(d.verbs(), ['destroy', 'undefine'], 'a running domain is destroyed before undefine');
  assert.equal(await exists(env.svc.vmPaths(vmUuid).dir), false, 'VM folder removed');
  await step('delete', ['SUCCESS', 'already gone'], undefined);
  await step('start', ['FAILED', `no domain ${name} on this host`], undefined);
  await step('hardStop', ['FAILED', `no domain ${name} on this host`], undefined);
});

test('delete of a stopped VM undefines without destroy; a leftover folder alone is removed too', async () => {
  const env = setup();
  const { vmUuid } = await created(env);
  const a = action('delete', { vmUuid });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id)[1], ['SUCCESS', undefined]);
  assert.deepEqual(env.host.domains.verbs(), ['undefine']);

  const leftover = randomUUID();
  await mkdir(env.svc.vmPaths(leftover).dir, { recursive: true });
  const b = action('delete', { vmUuid: leftover });
  await run(env.svc, b);
  assert.deepEqual(env.reporter.of(b.id)[1], ['SUCCESS', undefined]);
  assert.equal(await exists(env.svc.vmPaths(leftover).dir), false);
});

test('stop waits for the guest to shut down', async () => {
  const env = setup({ stopGraceSeconds: 1 });
  const { vmUuid, name } = await created(env);
  await run(env.svc, action('start', { vmUuid }));
  env.host.domains.calls.length = 0;
  const a = action('stop', { vmUuid });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined], ['SUCCESS', undefined]]);
  assert.deepEqual(env.host.domains.verbs(), ['shutdown'], 'no destroy when the guest powers off');
  assert.equal(env.host.domains.domains.get(name)?.state, 'shut off');

  const again = action('stop', { vmUuid });
  await run(env.svc, again);
  assert.deepEqual(env.reporter.of(again.id)[1], ['SUCCESS', 'already stopped']);
  assert.deepEqual(env.host.domains.verbs(), ['shutdown']);
});

test('stop destroys a guest that ignores the shutdown within stopGraceSeconds', async () => {
  const env = setup({ stopGraceSeconds: 1 });
  env.host.domains.shutdownWorks = false;
  const { vmUuid, name } = await created(env);
  await run(env.svc, action('start', { vmUuid }));
  env.host.domains.calls.length = 0;
  const a = action('stop', { vmUuid });
  const t0 = Date.now();
  await run(env.svc, a);
  assert.ok(Date.now() - t0 >= 900, 'waited about stopGraceSeconds');
  assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined], ['SUCCESS', 'guest did not shut down within 1 s; destroyed']]);
  assert.deepEqual(env.host.domains.verbs(), ['shutdown', 'destroy']);
  assert.equal(env.host.domains.domains.get(name)?.state, 'shut off');
});

test('modify: written to the definition; memory also live when the guest runs and it fits the maximum', async () => {
  const env = setup();
  const { vmUuid, name } = await created(env);
  const offline = action('modify', { vmUuid, memoryMb: 512, vcpus: 2 });
  await run(env.svc, offline);
  assert.deepEqual(env.reporter.of(offline.id), [['ONGOING', undefined], ['SUCCESS', 'memory 512 MiB applied at next start; 2 vCPU(s) applied at next start']]);
  assert.deepEqual(env.host.domains.memory.get(name), { config: 512, vcpus: 2 });
  await run(env.svc, action('start', { vmUuid }));
  env.host.domains.memory.get(name)!.maxLive = 512;
  const smaller = action('modify', { vmUuid, memoryMb: 384 });
  const larger = action('modify', { vmUuid, memoryMb: 1024 });
  await run(env.svc, smaller, larger);
  assert.deepEqual(env.reporter.of(smaller.id).at(-1), ['SUCCESS', 'memory 384 MiB applied live and at next start']);
  assert.deepEqual(env.reporter.of(larger.id).at(-1), ['SUCCESS', "memory 1024 MiB applied at next start (above the running guest's maximum)"]);
  assert.equal(env.host.domains.memory.get(name)!.live, 384);
  assert.equal(env.host.domains.memory.get(name)!.config, 1024);
  const nothing = action('modify', { vmUuid, memoryMb: undefined, noMemory: true });
  await run(env.svc, nothing);
  assert.deepEqual(env.reporter.of(nothing.id).at(-1), ['FAILED', 'modify needs xen-configuration/memory-mb and/or vcpus']);
});

test('unknown types and xen VMs → FAILED; nothing touched', async () => {
  const env = setup();
  const { vmUuid, name } = await created(env);
  const bogus = action('explode', { vmUuid });
  const xen = action('create', { vmUuid: randomUUID(), virtualizationType: 'xen' });
  const xenStart = action('start', { vmUuid, virtualizationType: 'xen' });
  await run(env.svc, bogus, xen, xenStart);
  assert.deepEqual(env.reporter.of(bogus.id), [['ONGOING', undefined], ['FAILED', 'Unknown action type "explode"']]);
  assert.deepEqual(env.reporter.of(xen.id), [['ONGOING', undefined], ['FAILED', 'Virtualization type not supported by the agent: "xen"']]);
  assert.deepEqual(env.reporter.of(xenStart.id), [['ONGOING', undefined], ['FAILED', 'Virtualization type not supported by the agent: "xen"']]);
  assert.deepEqual(env.host.domains.calls, []);
  assert.equal(env.host.domains.domains.get(name)?.state, 'shut off');
  assert.equal(env.host.domains.domains.size, 1);
});

test('two actions on the same VM run in order: the second sees the first one\'s effect', async () => {
  const env = setup();
  env.host.domains.defineDelayMs = 150; // without the per-VM lock, start would run while create is still defining
  const vmUuid = randomUUID();
  const create = action('create', { vmUuid });
  const start = action('start', { vmUuid });
  env.svc.submit(CALLBACK, [create]);
  env.svc.submit(CALLBACK, [start]);
  await env.svc.idle();
  assert.deepEqual(
    env.reporter.reports.map((r) => [r.id, r.status, r.description]),
    [
      [create.id, 'ONGOING', undefined],
      [create.id, 'SUCCESS', undefined],
      [start.id, 'ONGOING', undefined],
      [start.id, 'SUCCESS', undefined],
    ],
  );
  assert.equal(env.host.domains.domains.get(PREFIX + vmUuid)?.state, 'running');
  assert.deepEqual(env.host.domains.verbs(), ['define', 'start']);
});

test('the manager unreachable for ONGOING → the action is not executed', async () => {
  const env = setup();
  env.reporter.answer = (r) => r.status !== 'ONGOING';
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id), [['ONGOING', undefined]], 'no terminal status either');
  assert.deepEqual(env.host.domains.calls, []);
  assert.equal(env.host.overlays.length, 0);
  assert.equal(await exists(env.svc.vmPaths(vmUuid).dir), false);
});

test('submit rejects an action without a valid id, and runs none of the batch', async () => {
  const env = setup();
  const good = action('create', { vmUuid: randomUUID() });
  assert.throws(() => env.svc.submit(CALLBACK, [good, { ...action('start', { vmUuid: randomUUID() }), id: '../x' }]), InputError);
  assert.throws(() => env.svc.submit(CALLBACK, [{ ...good, id: undefined } as Action]), /invalid action id: nothing/);
  await env.svc.idle();
  assert.equal(env.reporter.reports.length, 0);
  assert.equal(env.host.domains.calls.length, 0);
});

// ---------------------------------------------------------------------------------------------------------------
// In-progress journal

test('journal: an action is recorded before ONGOING is queued and removed once its terminal status is queued', async () => {
  const journal = new ActionJournal(path.join(root, `j-${randomUUID().slice(0, 8)}`), createLogger({ component: 'test', silent: true }));
  await journal.open();
  const env = setup({ journal });
  env.host.domains.defineDelayMs = 150;
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid });
  env.svc.submit(CALLBACK, [a]);
  const deadline = Date.now() + 5000;
  while (!env.reporter.of(a.id).length) {
    assert.ok(Date.now() < deadline, 'ONGOING queued');
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual((await journal.list()).map((e) => [e.actionId, e.type, e.vmUuid, e.callbackUrl]), [[a.id, 'create', vmUuid, CALLBACK]], 'recorded while it runs');
  await env.svc.idle();
  assert.deepEqual(await journal.list(), [], 'removed after SUCCESS was queued');

  // A terminal status that could not be queued: the entry stays for the start-up reconciler.
  env.reporter.answer = (r) => r.status === 'ONGOING';
  const b = action('start', { vmUuid });
  await run(env.svc, b);
  assert.deepEqual((await journal.list()).map((e) => e.actionId), [b.id]);

  // ONGOING not queued: the action does not run and leaves no entry.
  await journal.remove(b.id);
  env.reporter.answer = () => false;
  await run(env.svc, action('stop', { vmUuid }));
  assert.deepEqual(await journal.list(), []);
});

// ---------------------------------------------------------------------------------------------------------------
// Disks, keys, memory ceiling, autostart (issue 10)

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA3sK20QQPSUu3+6OVKuF203QjbJZN5e2I1gTYdQ8nvS alice@example';

test('create: hd-size-mb grows the overlay (never shrinks); equal or absent leaves it; smaller fails before anything is written', async () => {
  const env = setup(); // FakeInspector: every template is 2 GiB = 2048 MiB
  const grown = randomUUID();
  const a = action('create', { vmUuid: grown, hdSizeMb: 4096 });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id).at(-1), ['SUCCESS', undefined]);
  assert.deepEqual(env.host.imageCalls, [], 'the overlay is made at its size: no resize after it');
  assert.equal(env.host.overlays.at(-1)?.sizeMiB, 4096, 'overlay created at 4096 MiB');

  env.host.imageCalls.length = 0;
  for (const hdSizeMb of [2048, null]) {
    const b = action('create', { vmUuid: randomUUID(), hdSizeMb });
    await run(env.svc, b);
    assert.deepEqual(env.reporter.of(b.id).at(-1), ['SUCCESS', undefined], String(hdSizeMb));
  }
  assert.deepEqual(env.host.imageCalls, [], 'no resize for the template size or without hd-size-mb');
  assert.deepEqual(env.host.overlays.slice(-2).map((o) => o.sizeMiB), [undefined, undefined], 'no size given: the template size');

  const small = randomUUID();
  const c = action('create', { vmUuid: small, hdSizeMb: 1024 });
  const overlaysBefore = env.host.overlays.length;
  await run(env.svc, c);
  assert.deepEqual(env.reporter.of(c.id).at(-1), ['FAILED', 'hd-size-mb 1024 is smaller than template debian12 (2048 MiB): disks are only grown, never shrunk']);
  assert.equal(env.host.overlays.length, overlaysBefore, 'no overlay made');
  assert.equal(await exists(env.svc.vmPaths(small).dir), false);
});

test('create: data disks are qcow2 volumes in the VM folder on vdb, vdc; bad sizes fail the create', async () => {
  const env = setup();
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid, hdSizeMb: null, dataDisks: [{ sizeMb: 1024 }, { sizeMb: 512 }] });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id).at(-1), ['SUCCESS', undefined]);
  const dir = env.svc.vmPaths(vmUuid).dir;
  assert.deepEqual(env.host.imageCalls, [`volume ${dir}/data-vdb.qcow2 1024`, `volume ${dir}/data-vdc.qcow2 512`]);
  const xml = await readFile(env.svc.vmPaths(vmUuid).domainXml, 'utf8');
  assert.ok(xml.includes(`<source file='${dir}/data-vdb.qcow2'/>\n      <target dev='vdb' bus='virtio'/>`));
  assert.ok(xml.includes(`<source file='${dir}/data-vdc.qcow2'/>\n      <target dev='vdc' bus='virtio'/>`));

  const del = action('delete', { vmUuid });
  await run(env.svc, del);
  assert.equal(await exists(dir), false, 'data disks removed with the VM');

  for (const [dataDisks, reason] of [
    [[{}], /^data disk 1: size-mb must be an integer from 1 to 16777216, got nothing$/],
    [[{ sizeMb: 1 }, { sizeMb: 0 }], /^data disk 2: size-mb must be an integer/],
    [Array.from({ length: 17 }, () => ({ sizeMb: 1 })), /^17 data disks asked, at most 16$/],
  ] as const) {
    const b = action('create', { vmUuid: randomUUID(), dataDisks: [...dataDisks] });
    await run(env.svc, b);
    assert.equal(env.reporter.of(b.id).at(-1)?.[0], 'FAILED');
    assert.match(env.reporter.of(b.id).at(-1)?.[1] ?? '', reason);
  }
});

test('create: a template with clone "full" gets an independent qcow2 copy (qemu-img convert), no backing store', async () => {
  const env = setup();
  const vmUuid = randomUUID();
  const a = action('create', { vmUuid, template: 'fullcopy', hdSizeMb: 4096 });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id).at(-1), ['SUCCESS', undefined]);
  const disk = env.svc.vmPaths(vmUuid).disk;
  const src = await realpath(path.join(templatesDir, 'fullcopy', 'disk.raw'));
  assert.deepEqual(env.host.imageCalls, [`convert ${src} ${disk} qcow2 raw`, `resize ${disk} 4096`]);
  assert.equal(env.host.overlays.length, 0);
  const xml = await readFile(env.svc.vmPaths(vmUuid).domainXml, 'utf8');
  assert.doesNotMatch(xml, /backingStore/);
  assert.ok(xml.includes(`<source file='${disk}'/>`));
});

test('create: OCF users get the ssh-keys in user-data; without users the default user gets them; passwords are not written', async () => {
  const env = setup();
  const a = action('create', { vmUuid: randomUUID(), users: [{ name: 'alice', password: 'secret' }, { name: 'bob' }], sshKeys: [ED25519] });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id).at(-1), ['SUCCESS', '1 user password(s) not set: the agent writes SSH keys only']);
  const userData = env.host.seeds[0]!.files['user-data']!;
  assert.equal(userData, `#cloud-config\nhostname: vm1\nusers:\n  - name: alice\n    ssh_authorized_keys:\n      - "${ED25519}"\n  - name: bob\n    ssh_authorized_keys:\n      - "${ED25519}"\n`);
  assert.doesNotMatch(userData, /secret/);

  const b = action('create', { vmUuid: randomUUID(), sshKeys: [ED25519] });
  await run(env.svc, b);
  assert.deepEqual(env.reporter.of(b.id).at(-1), ['SUCCESS', undefined]);
  assert.equal(env.host.seeds[1]!.files['user-data'], `#cloud-config\nhostname: vm1\nssh_authorized_keys:\n  - "${ED25519}"\n`);
});

test('create: a malformed SSH key or user fails the create before any disk is written', async () => {
  const env = setup();
  const [type, b64] = ED25519.split(' ') as [string, string];
  const cases: Array<[VmSpec, RegExp]> = [
    [{ vmUuid: randomUUID(), sshKeys: [`${ED25519}\nssh-rsa AAAA evil`] }, /invalid SSH public key of the default user: .* is not "<type> <base64> \[comment\]" on one line/],
    [{ vmUuid: randomUUID(), sshKeys: [`${type} ${b64.slice(0, -4)}`] }, /the key data of .* is not a ssh-ed25519 key/],
    [{ vmUuid: randomUUID(), sshKeys: [`${type} ${b64.slice(0, -1)}`] }, /not canonical base64/],
    [{ vmUuid: randomUUID(), sshKeys: [`ssh-rsa ${b64}`] }, /is not a ssh-rsa key/],
    [{ vmUuid: randomUUID(), sshKeys: [`${type} ${b64} bad"comment`] }, /on one line of printable ASCII/],
    [{ vmUuid: randomUUID(), users: [{ name: 'Root;x' }], sshKeys: [ED25519] }, /^invalid user name 1/],
  ];
  for (const [vm, reason] of cases) {
    const a = action('create', vm);
    await run(env.svc, a);
    assert.equal(env.reporter.of(a.id).at(-1)?.[0], 'FAILED', JSON.stringify(vm.sshKeys));
    assert.match(env.reporter.of(a.id).at(-1)?.[1] ?? '', reason);
    assert.equal(await exists(env.svc.vmPaths(vm.vmUuid).dir), false);
  }
  assert.equal(env.host.overlays.length, 0);
  assert.equal(env.host.seeds.length, 0);
});

test('create: max-memory-mb is the domain\'s <memory>, memory-mb its <currentMemory>; a ceiling below the boot memory fails', async () => {
  const env = setup();
  const vmUuid = randomUUID();
  await run(env.svc, action('create', { vmUuid, memoryMb: 256, maxMemoryMb: 1024 }));
  const xml = await readFile(env.svc.vmPaths(vmUuid).domainXml, 'utf8');
  assert.match(xml, /<memory unit='MiB'>1024<\/memory>\n\s*<currentMemory unit='MiB'>256<\/currentMemory>/);
  const plain = randomUUID();
  await run(env.svc, action('create', { vmUuid: plain, memoryMb: 256 }));
  assert.match(await readFile(env.svc.vmPaths(plain).domainXml, 'utf8'), /<memory unit='MiB'>256<\/memory>\n\s*<currentMemory unit='MiB'>256<\/currentMemory>/);
  const bad = action('create', { vmUuid: randomUUID(), memoryMb: 512, maxMemoryMb: 256 });
  await run(env.svc, bad);
  assert.deepEqual(env.reporter.of(bad.id).at(-1), ['FAILED', 'max-memory-mb 256 is below memory-mb 512: the ceiling must be at least the boot memory']);
});

test('modify: under a ceiling, memory changes only the boot size (ceiling kept) and grows the running guest live', async () => {
  const env = setup();
  const { vmUuid, name } = await created(env, { vmUuid: randomUUID(), memoryMb: 256, maxMemoryMb: 1024 });
  await run(env.svc, action('start', { vmUuid }));
  env.host.domains.memory.set(name, { config: 256, live: 256, maxLive: 1024 });
  env.host.domains.calls.length = 0;
  const grow = action('modify', { vmUuid, memoryMb: 768 });
  await run(env.svc, grow);
  assert.deepEqual(env.reporter.of(grow.id).at(-1), ['SUCCESS', 'memory 768 MiB applied live and at next start']);
  assert.deepEqual(env.host.domains.verbs(), ['setConfigCurrentMemory', 'setLiveMemory'], 'no setmaxmem: the ceiling stays');
  assert.deepEqual(await env.host.domains.configMemory(name), { maxMiB: 1024, currentMiB: 768 });
  assert.equal(env.host.domains.memory.get(name)?.live, 768);

  const above = action('modify', { vmUuid, memoryMb: 2048 });
  await run(env.svc, above);
  assert.deepEqual(env.reporter.of(above.id).at(-1), ['SUCCESS', "memory 2048 MiB applied at next start (above the running guest's maximum)"]);
  assert.deepEqual(await env.host.domains.configMemory(name), { maxMiB: 2048, currentMiB: 2048 }, 'above the ceiling: both, as without one');

  env.host.domains.calls.length = 0;
  const ceiling = action('modify', { vmUuid, memoryMb: 512, maxMemoryMb: 4096, noMemory: false });
  await run(env.svc, ceiling);
  assert.deepEqual(env.reporter.of(ceiling.id).at(-1), ['SUCCESS', 'memory ceiling 4096 MiB applied at next start; memory 512 MiB applied live and at next start']);
  assert.deepEqual(await env.host.domains.configMemory(name), { maxMiB: 4096, currentMiB: 512 });
  const low = action('modify', { vmUuid, noMemory: true, maxMemoryMb: 128 });
  await run(env.svc, low);
  assert.deepEqual(env.reporter.of(low.id).at(-1), ['FAILED', 'max-memory-mb 128 is below the memory 512 MiB: the ceiling must be at least the boot memory']);
});

test('autostart: set when the agent starts a VM (start, reboot of a stopped VM), cleared by stop and hardStop', async () => {
  const env = setup({ stopGraceSeconds: 1 });
  const { vmUuid, name } = await created(env);
  const d = env.host.domains;
  assert.equal(d.autostart.has(name), false, 'create does not mark it');
  await run(env.svc, action('start', { vmUuid }));
  assert.equal(d.autostart.has(name), true);
  await run(env.svc, action('stop', { vmUuid }));
  assert.equal(d.autostart.has(name), false);
  await run(env.svc, action('reboot', { vmUuid }));
  assert.equal(d.autostart.has(name), true, 'reboot of a stopped VM starts it');
  await run(env.svc, action('hardStop', { vmUuid }));
  assert.equal(d.autostart.has(name), false);
  assert.deepEqual(d.autostartCalls, [`enable ${name}`, `disable ${name}`, `enable ${name}`, `disable ${name}`]);
});

test('delete with keep-disks: the disks move to kept-disks/<uuid> (nothing else), the domain and the VM folder go', async () => {
  const env = setup();
  const { vmUuid, name } = await created(env, { vmUuid: randomUUID(), dataDisks: [{ sizeMb: 64 }] });
  await run(env.svc, action('start', { vmUuid }));
  const a = action('delete', { vmUuid, keepDisks: true });
  await run(env.svc, a);
  assert.deepEqual(env.reporter.of(a.id).at(-1), ['SUCCESS', `disks kept on the host in kept-disks/${vmUuid}`]);
  assert.equal(env.host.domains.domains.has(name), false);
  assert.equal(await exists(env.svc.vmPaths(vmUuid).dir), false);
  const kept = path.join(env.storageRoot, 'kept-disks', vmUuid);
  assert.deepEqual((await readdir(kept)).sort(), ['data-vdb.qcow2', 'disk.qcow2', 'kept.json']);
  const record = JSON.parse(await readFile(path.join(kept, 'kept.json'), 'utf8')) as { vmUuid: string; vmName?: string; keptAt: string };
  assert.equal(record.vmUuid, vmUuid);
  assert.ok(record.vmName, 'the VM name of the delete action is kept');
  assert.ok(Math.abs(Date.parse(record.keptAt) - Date.now()) < 60_000);
  assert.deepEqual(env.host.domains.verbs(), ['start', 'destroy', 'undefine']);

  // The same uuid can be created again, and a second keep does not overwrite the first.
  await created(env, { vmUuid });
  const b = action('delete', { vmUuid, keepDisks: true });
  await run(env.svc, b);
  assert.deepEqual(env.reporter.of(b.id).at(-1), ['SUCCESS', `disks kept on the host in kept-disks/${vmUuid}-1`]);
  assert.deepEqual(await readdir(path.join(env.storageRoot, 'kept-disks')), [vmUuid, `${vmUuid}-1`].sort());
});

test('start: a virsh start that timed out while the domain came up is a SUCCESS saying so; a refused start clears autostart', async () => {
  const env = setup();
  const d = env.host.domains;
  const { vmUuid, name } = await created(env);
  d.startFailure = 'timeout';
  const late = action('start', { vmUuid });
  await run(env.svc, late);
  assert.deepEqual(env.reporter.of(late.id), [['ONGOING', undefined], ['SUCCESS', `the domain runs, though virsh start failed: virsh start --domain ${name}: timed out after 300 s`]]);
  assert.equal(d.autostart.has(name), true, 'the running VM keeps its autostart mark');

  const other = await created(env, { vmUuid: randomUUID() });
  d.startFailure = 'refused';
  d.autostartCalls.length = 0;
  const refused = action('start', { vmUuid: other.vmUuid });
  await run(env.svc, refused);
  assert.equal(env.reporter.of(refused.id).at(-1)?.[0], 'FAILED');
  assert.match(String(env.reporter.of(refused.id).at(-1)?.[1]), /qemu unexpectedly closed the monitor/);
  assert.equal(d.domains.get(other.name)?.state, 'shut off');
  assert.deepEqual(d.autostartCalls, [`enable ${other.name}`, `disable ${other.name}`], 'marked with the start, cleared after it failed');
  assert.equal(d.autostart.has(other.name), false);
});

test('create tells the identity resolver what it defines (before the define), and takes it back when the define fails', async () => {
  const told: string[] = [];
  const env = setup({ identities: { remember: (n, i, u) => told.push(`remember ${n} ${i.name} ${i.uuid} ${u}`), forget: (n) => told.push(`forget ${n}`) } });
  const vmUuid = randomUUID();
  await created(env, { vmUuid, name: 'web01' });
  assert.deepEqual(told, [`remember ${PREFIX}${vmUuid} web01 ${vmUuid} ${vmUuid}`]);
  told.length = 0;
  env.host.domains.defineError = new Error('virsh define: XML error: boom');
  const other = randomUUID();
  const a = action('create', { vmUuid: other, name: 'web02' });
  await run(env.svc, a);
  assert.equal(env.reporter.of(a.id).at(-1)?.[0], 'FAILED');
  assert.deepEqual(told, [`remember ${PREFIX}${other} web02 ${other} ${other}`, `forget ${PREFIX}${other}`]);
});
