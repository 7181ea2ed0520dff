/**
 * Unit tests of the agent's MonitoringService (listActiveVMs, docs/ocf-protocol.md §6.8, §7.3). The domain inventory
 * (libvirt), the domain XML reader and the StatusReporter are in-memory fakes for unit tests; the identity
 * resolver is the real VmIdentityResolver over the fake reader. No libvirt, no socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createLogger,
  InputError,
  listActiveVmsQuery,
  NotFoundError,
  parseRspec,
  serialiseRspec,
  UpstreamError,
  type Action,
} from '@kvm-crm/shared';
import type { DomainInventory, DomainXmlReader, StatusReporter } from '../../dist/services/ports.js';
import { renderDomainXml } from '../../dist/domain/domain-xml.js';
import { MonitoringService, UNSUPPORTED_VIRTUALIZATION_TYPE } from '../../dist/services/monitoring-service.js';
import { VmIdentityResolver } from '../../dist/services/vm-identity.js';

// ---------------------------------------------------------------------------------------------------------------
// Fakes for unit tests

const logger = createLogger({ component: 'test', silent: true });
const PREFIX = 'kvmcrm-';
const CALLBACK = 'https://vtadmin:adminpw@10.0.0.9:8445/xmlrpc/agent';
const ACTION_ID = '5e5e5e5e-aaaa-4bbb-8ccc-dddddddddddd';
const WEB = 'c0ffee00-1234-4abc-8def-0123456789ab';
const DB = '0badcafe-0000-4000-8000-000000000042';

/** libvirt in memory: domains with name, uuid, state and XML. */
class FakeLibvirt implements DomainInventory, DomainXmlReader {
  domains: Array<{ name: string; uuid: string; state: string; xml?: string }> = [];
  listError: Error | undefined;
  xmlError: Error | undefined;
  listCalls = 0;
  async listAll() {
    this.listCalls++;
    if (this.listError) throw this.listError;
    return this.domains.map(({ name, uuid, state }) => ({ name, uuid, state }));
  }
  async dumpXml(name: string): Promise<string> {
    if (this.xmlError) throw this.xmlError;
    const d = this.domains.find((x) => x.name === name);
    if (!d?.xml) throw new NotFoundError(`libvirt domain ${name} not found`);
    return d.xml;
  }
  /** Adds one of our domains (`<prefix><uuid>` with metadata). */
  addVm(uuid: string, vmName: string, state: string): void {
    const name = `${PREFIX}${uuid}`;
    this.domains.push({ name, uuid, state, xml: xmlOf(name, uuid, vmName) });
  }
}

function xmlOf(name: string, uuid: string, vmName: string): string {
  return renderDomainXml({
    name, uuid, title: vmName, domainType: 'qemu', memoryMiB: 64, vcpus: 1,
    diskPath: '/var/lib/kvm-crm/vms/x/disk.qcow2', backing: { path: '/var/lib/kvm-crm/templates/t/disk.qcow2', format: 'qcow2' },
    seedIsoPath: '/var/lib/kvm-crm/vms/x/seed.iso', serialLogPath: '/var/lib/kvm-crm/vms/x/console.log', nics: [],
    metadata: { vmUuid: uuid, vmName, projectId: 'p', sliceId: 's', actionId: 'a', template: 't' },
  });
}

/** Records every message (raw and parsed); `answer` decides what `report` resolves with. */
class FakeReporter implements StatusReporter {
  readonly messages: Array<{ url: string; xml: string; action: Action }> = [];
  answer: (action: Action) => boolean = () => true;
  async report(url: string, xml: string): Promise<boolean> {
    const action = parseRspec(xml).response!.monitoring!.actions[0]!;
    this.messages.push({ url, xml, action });
    return this.answer(action);
  }
  /** `[id, status, description or VM names]` of every message. */
  summary(): Array<[string | undefined, string | undefined, string]> {
    return this.messages.map(({ action: a }) => [a.id, a.status, a.server ? a.server.virtualMachines.map((v) => `${v.name}=${v.uuid}`).join(',') : a.description ?? '']);
  }
}

function setup() {
  const libvirt = new FakeLibvirt();
  const reporter = new FakeReporter();
  const identities = new VmIdentityResolver(libvirt, { domainPrefix: PREFIX, logger });
  const svc = new MonitoringService(libvirt, identities, reporter, { domainPrefix: PREFIX, logger });
  return { libvirt, reporter, svc };
}

/** The monitoring actions of the manager's query (§8.7), passed through serialise + parse like on the wire. */
function query(virtualizationType: string, actionId = ACTION_ID): Action[] {
  const xml = serialiseRspec(listActiveVmsQuery({ actionId, virtualizationType }), { dialect: 'manager' });
  return parseRspec(xml).query!.monitoring!.actions;
}

// ---------------------------------------------------------------------------------------------------------------

test('ONGOING then SUCCESS listing our running VMs, byte-identical to §8.8', async () => {
  const { libvirt, reporter, svc } = setup();
  libvirt.addVm(WEB, 'web01', 'running');
  libvirt.addVm(DB, 'db01', 'running');
  libvirt.addVm('11111111-2222-4333-8444-555555555555', 'off01', 'shut off');
  libvirt.addVm('22222222-2222-4333-8444-555555555555', 'paused01', 'paused');
  libvirt.domains.push({ name: 'someone-elses-vm', uuid: '33333333-2222-4333-8444-555555555555', state: 'running', xml: xmlOf('someone-elses-vm', '33333333-2222-4333-8444-555555555555', 'x') });
  svc.submit(CALLBACK, query('kvm'));
  await svc.idle();
  assert.deepEqual(reporter.messages.map((m) => m.url), [CALLBACK, CALLBACK]);
  assert.equal(
    reporter.messages[0]!.xml,
    `<?xml version="1.0" encoding="UTF-8"?>
<rspec xmlns="http://www.fp7-ofelia.eu/CF/vt_am/rspec">
    <response>
        <monitoring>
            <action type="listActiveVMs" id="${ACTION_ID}">
                <status>ONGOING</status>
                <description></description>
            </action>
        </monitoring>
    </response>
</rspec>
`,
  );
  assert.equal(
    reporter.messages[1]!.xml,
    `<?xml version="1.0" encoding="UTF-8"?>
<rspec xmlns="http://www.fp7-ofelia.eu/CF/vt_am/rspec">
    <response>
        <monitoring>
            <action type="listActiveVMs" id="${ACTION_ID}">
                <server>
                    <virtual-machines>
                        <name>web01</name>
                        <uuid>${WEB}</uuid>
                    </virtual-machines>
                    <virtual-machines>
                        <name>db01</name>
                        <uuid>${DB}</uuid>
                    </virtual-machines>
                </server>
                <status>SUCCESS</status>
            </action>
        </monitoring>
    </response>
</rspec>
`,
  );
});

test('no running VM: SUCCESS with an empty server, which the manager reads as "none running"', async () => {
  const { libvirt, reporter, svc } = setup();
  libvirt.addVm(WEB, 'web01', 'shut off');
  svc.submit(CALLBACK, query('kvm'));
  await svc.idle();
  assert.deepEqual(reporter.summary(), [
    [ACTION_ID, 'ONGOING', ''],
    [ACTION_ID, 'SUCCESS', ''],
  ]);
  assert.match(reporter.messages[1]!.xml, /<server\/>/);
});

test('xen is answered like kvm; any other or no virtualization type gets only FAILED (§6.8 item 3)', async () => {
  const { libvirt, reporter, svc } = setup();
  libvirt.addVm(WEB, 'web01', 'running');
  svc.submit(CALLBACK, query('xen', 'a-xen'));
  await svc.idle();
  assert.deepEqual(reporter.summary(), [
    ['a-xen', 'ONGOING', ''],
    ['a-xen', 'SUCCESS', `web01=${WEB}`],
  ]);
  reporter.messages.length = 0;
  const listCalls = libvirt.listCalls;
  svc.submit(CALLBACK, [...query('vserver', 'a-vserver'), ...query('KVM', 'a-upper'), { type: 'listActiveVMs', id: 'a-none', server: { virtualMachines: [] } }, { type: 'listActiveVMs', id: 'a-noserver' }]);
  await svc.idle();
  assert.deepEqual(reporter.summary(), [
    ['a-vserver', 'FAILED', UNSUPPORTED_VIRTUALIZATION_TYPE],
    ['a-upper', 'FAILED', UNSUPPORTED_VIRTUALIZATION_TYPE],
    ['a-none', 'FAILED', UNSUPPORTED_VIRTUALIZATION_TYPE],
    ['a-noserver', 'FAILED', UNSUPPORTED_VIRTUALIZATION_TYPE],
  ]);
  assert.equal(UNSUPPORTED_VIRTUALIZATION_TYPE, 'Virtualization type not supported by the agent');
  assert.equal(libvirt.listCalls, listCalls, 'libvirt not asked');
  assert.match(reporter.messages[0]!.xml, /<action type="listActiveVMs" id="a-vserver">\s*<status>FAILED<\/status>\s*<description>Virtualization type not supported by the agent<\/description>\s*<\/action>/);
});

test('a libvirt failure gives ONGOING then FAILED with the reason', async () => {
  const { libvirt, reporter, svc } = setup();
  libvirt.listError = new UpstreamError('virsh -q -c qemu:///system list --all --uuid --name: exited with status 1: error: failed to connect to the hypervisor');
  svc.submit(CALLBACK, query('kvm'));
  await svc.idle();
  assert.deepEqual(reporter.summary(), [
    [ACTION_ID, 'ONGOING', ''],
    [ACTION_ID, 'FAILED', 'virsh -q -c qemu:///system list --all --uuid --name: exited with status 1: error: failed to connect to the hypervisor'],
  ]);
  libvirt.listError = undefined;
  libvirt.addVm(WEB, 'web01', 'running');
  libvirt.xmlError = new UpstreamError('dumpxml timed out after 30 s');
  reporter.messages.length = 0;
  svc.submit(CALLBACK, query('kvm'));
  await svc.idle();
  assert.deepEqual(reporter.summary(), [
    [ACTION_ID, 'ONGOING', ''],
    [ACTION_ID, 'FAILED', 'dumpxml timed out after 30 s'],
  ]);
});

test('VMs are named by the domain when our metadata is absent or unreadable; vanished domains are skipped', async () => {
  const { libvirt, reporter, svc } = setup();
  // Ours by prefix, without metadata (defined by hand): domain name and libvirt uuid.
  libvirt.domains.push({ name: 'kvmcrm-handmade', uuid: DB, state: 'running', xml: `<domain type='qemu'>\n  <name>kvmcrm-handmade</name>\n  <uuid>${DB}</uuid>\n</domain>` });
  // Listed, then gone before its XML is read.
  libvirt.domains.push({ name: `${PREFIX}${WEB}`, uuid: WEB, state: 'running' });
  // A name virsh is never given (InputError from the reader): domain name and listed uuid.
  libvirt.domains.push({ name: 'kvmcrm-odd name', uuid: '44444444-2222-4333-8444-555555555555', state: 'running' });
  const reader = libvirt.dumpXml.bind(libvirt);
  libvirt.dumpXml = async (name: string) => {
    if (name.includes(' ')) throw new InputError(`invalid domain name: ${JSON.stringify(name)}`);
    return reader(name);
  };
  assert.deepEqual(await svc.listActiveVms(), [
    { name: 'kvmcrm-handmade', uuid: DB },
    { name: 'kvmcrm-odd name', uuid: '44444444-2222-4333-8444-555555555555' },
  ]);
  assert.equal(reporter.messages.length, 0);
});

test('several actions in one query are answered in order; a manager that misses ONGOING gets nothing more', async () => {
  const { libvirt, reporter, svc } = setup();
  libvirt.addVm(WEB, 'web01', 'running');
  svc.submit(CALLBACK, [...query('kvm', 'm-1'), ...query('kvm', 'm-2')]);
  await svc.idle();
  assert.deepEqual(reporter.summary().map(([id, s]) => `${id} ${s}`), ['m-1 ONGOING', 'm-1 SUCCESS', 'm-2 ONGOING', 'm-2 SUCCESS']);

  reporter.messages.length = 0;
  reporter.answer = (a) => a.status !== 'ONGOING';
  const listCalls = libvirt.listCalls;
  svc.submit(CALLBACK, query('kvm', 'm-3'));
  await svc.idle();
  assert.deepEqual(reporter.summary().map(([id, s]) => `${id} ${s}`), ['m-3 ONGOING']);
  assert.equal(libvirt.listCalls, listCalls);
});

test('an unknown monitoring action type gets FAILED; an action without a valid id is refused up front', async () => {
  const { reporter, svc } = setup();
  svc.submit(CALLBACK, [{ type: 'listAllVMs', id: 'u-1', server: { virtualizationType: 'kvm', virtualMachines: [] } }]);
  await svc.idle();
  assert.deepEqual(reporter.summary(), [['u-1', 'FAILED', 'Unknown monitoring action type "listAllVMs"']]);
  reporter.messages.length = 0;
  assert.throws(() => svc.submit(CALLBACK, [...query('kvm', 'ok-1'), ...query('kvm', '../bad')]), InputError);
  assert.throws(() => svc.submit(CALLBACK, [{ type: 'listActiveVMs' }]), InputError);
  await svc.idle();
  assert.equal(reporter.messages.length, 0, 'nothing started');
});

test('submit returns before any work is done', async () => {
  const { libvirt, reporter, svc } = setup();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const listAll = libvirt.listAll.bind(libvirt);
  libvirt.listAll = async () => {
    await gate;
    return listAll();
  };
  svc.submit(CALLBACK, query('kvm'));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(reporter.summary().map(([, s]) => s), ['ONGOING']);
  release();
  await svc.idle();
  assert.deepEqual(reporter.summary().map(([, s]) => s), ['ONGOING', 'SUCCESS']);
});
