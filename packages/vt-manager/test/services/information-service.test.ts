/**
 * Unit tests of the manager's InformationService (`listResources`, docs/ocf-protocol.md §2.2.3, §6.7), with fakes for
 * unit tests of the ports (`testing/fakes.ts`: no socket). The rows are made by the real InventoryService and
 * ProvisioningService (driven by fake agent statuses) on SQLite `:memory:` and on MariaDB/MySQL (every test runs on
 * both, `[sqlite]`/`[mysql]`), and the document is compared with the
 * OCF fixtures.
 */
import assert from 'node:assert/strict';
import { parseRspec, type ServerInformation } from '@kvm-crm/shared';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import { addHostWithFacts, fakeHostFacts } from '../../dist/testing/capacity-fakes.js';
import { HostFactsService } from '../../dist/services/host-facts-service.js';
import { referenceHash } from './listing-reference.js';
import {
  addHost,
  agentStatus,
  CLIENT_CB,
  lifecycleAction,
  openWorld,
  provisionVm,
  query,
  readFixture,
  SERVER_UUID,
  silentLogger,
  waitFor,
  type World,
} from '../../dist/testing/fakes.js';

const FIXTURE_16 = 'generated/16-manager-to-plugin.listResources.information.rspec.xml';
const FIXTURE_17 = 'generated/17-manager-to-plugin.listResources.information.empty.rspec.xml';
const FIXTURE_SERVER_UUID = '7d1c6a52-3f0e-4c1b-9a57-2b8e0c4d9f11';
const FIXTURE_VM_UUID = 'c0ffee00-1234-4abc-8def-0123456789ab';
/** br-data's switch-id in the fixture: K's bridge switchID (a DPID). Ours is the bridge name (F/O, §6.5.2). */
const K_DPID = '00:00:00:00:00:00:00:01';

/** The inventory and VM of fixture 16, built through the services: kvm-host-1 with web01 running. */
async function fixture16World(w: World): Promise<void> {
  await w.inventory.registerServer({
    name: 'kvm-host-1', uuid: FIXTURE_SERVER_UUID, agentUrl: 'https://kvm-host-1.example:9229/', agentPassword: 'agentpw',
    operatingSystemDistribution: 'Ubuntu', operatingSystemVersion: '14.04',
    bridges: [{ name: 'br-mgmt', isMgmt: true, switchPort: '1' }, { name: 'br-data', switchPort: '3' }],
  });
  await w.inventory.addIpv4Range({ name: 'mgmt', start: '10.0.0.16', end: '10.0.0.40', netmask: '255.255.255.0', gateway: '10.0.0.1', dns1: '10.0.0.2', dns2: '8.8.8.8' });
  await w.inventory.addMacRange({ name: 'macs', start: '02:00:0a:00:00:10', end: '02:00:0a:00:00:ff' });
  await w.inventory.subscribe('kvm-host-1', 'ipv4', 'mgmt');
  await w.inventory.subscribe('kvm-host-1', 'mac', 'macs');
  await provisionVm(
    w,
    {
      name: 'web01', vmUuid: FIXTURE_VM_UUID, serverUuid: FIXTURE_SERVER_UUID, template: 'debian7/debian7.img', memoryMb: 1024,
      operatingSystemDistribution: 'Debian', operatingSystemVersion: '7.0',
    },
    { start: true },
  );
}

function servers(xml: string): ServerInformation[] {
  const resources = parseRspec(xml).response?.information?.resources;
  assert.ok(resources, 'response/information/resources present');
  return resources;
}

forEachEngine('listResources reproduces fixture 16 from DB rows, except br-data\'s switch-id (bridge name, F/O variant)', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await fixture16World(w);
  const fixtureXml = readFixture(FIXTURE_16);
  const [hash, xml] = await w.information.listResources('0');
  assert.notEqual(xml, '');
  assert.match(hash, /^[0-9a-f]{64}$/);

  const [expected] = servers(fixtureXml);
  const ours = servers(xml);
  assert.equal(ours.length, 1);
  const got = ours[0]!;

  // Server fields, one by one.
  for (const k of ['name', 'id', 'uuid', 'operatingSystemType', 'operatingSystemVersion', 'operatingSystemDistribution', 'virtualizationType', 'status'] as const) {
    assert.equal(got[k], expected![k], `server ${k}`);
  }
  assert.equal(got.name, 'kvm-host-1');
  assert.equal(got.id, '1');
  assert.equal(got.operatingSystemDistribution, 'Ubuntu');
  assert.equal(got.operatingSystemVersion, '14.04');

  // Server interfaces: br-mgmt identical; br-data differs only in switch-id.
  assert.equal(got.interfaces?.length, 2);
  assert.deepEqual(got.interfaces![0], expected!.interfaces![0]);
  assert.deepEqual(got.interfaces![0], { ismgmt: true, name: 'br-mgmt', switchId: 'br-mgmt', switchPort: '1' });
  assert.equal(expected!.interfaces![1]!.switchId, K_DPID, 'the K fixture carries the DPID');
  assert.equal(got.interfaces![1]!.switchId, 'br-data', 'ours carries the bridge name');
  assert.deepEqual({ ...got.interfaces![1], switchId: K_DPID }, expected!.interfaces![1]);

  // The VM, field by field.
  assert.equal(got.virtualMachines.length, 1);
  const vm = got.virtualMachines[0]!;
  const evm = expected!.virtualMachines[0]!;
  for (const k of [
    'name', 'uuid', 'status', 'projectId', 'projectName', 'sliceId', 'sliceName', 'operatingSystemType', 'operatingSystemVersion',
    'operatingSystemDistribution', 'serverId', 'virtualizationType',
  ] as const) {
    assert.equal(vm[k], evm[k], `VM ${k}`);
  }
  assert.equal(vm.status, 'running');
  assert.equal(vm.serverId, FIXTURE_SERVER_UUID);
  const cfg = vm.xenConfiguration!;
  const ecfg = evm.xenConfiguration!;
  for (const k of ['hdSetupType', 'hdSizeMb', 'hdOriginPath', 'configurator', 'virtualizationSetupType', 'memoryMb', 'vcpus', 'users'] as const) {
    assert.deepEqual(cfg[k], ecfg[k], `xen-configuration ${k}`);
  }
  assert.equal(cfg.memoryMb, 1024);
  assert.equal(cfg.hdSizeMb, undefined, 'no hd-size-mb in the information document (§6.7)');
  assert.equal(cfg.configurator, undefined, 'no configurator (§6.7)');
  assert.equal(cfg.vcpus, undefined, 'no vcpus extension in the information document');

  // VM NICs: eth0 (mgmt, addressed) identical; eth1 differs only in switch-id.
  assert.equal(cfg.interfaces?.length, 2);
  assert.deepEqual(cfg.interfaces![0], ecfg.interfaces![0]);
  assert.deepEqual(cfg.interfaces![0], {
    ismgmt: true, name: 'eth0', mac: '02:00:0a:00:00:10', ip: '10.0.0.16', mask: '255.255.255.0', gw: '10.0.0.1', dns1: '10.0.0.2', dns2: '8.8.8.8', switchId: 'br-mgmt',
  });
  assert.equal(ecfg.interfaces![1]!.switchId, K_DPID);
  assert.equal(cfg.interfaces![1]!.switchId, 'br-data');
  assert.deepEqual({ ...cfg.interfaces![1], switchId: K_DPID }, ecfg.interfaces![1]);

  // Nothing else differs: the whole document, and its bytes, once the DPID is replaced by the bridge name.
  assert.deepEqual(parseRspec(xml), parseRspec(fixtureXml.replaceAll(K_DPID, 'br-data')));
  assert.equal(xml, fixtureXml.replaceAll(K_DPID, 'br-data'));
});

forEachEngine('listResources with no servers is <resources/>, byte for byte fixture 17', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const fixture = readFixture(FIXTURE_17);
  const { hash, xml } = await w.information.information();
  assert.equal(xml, fixture);
  assert.deepEqual(parseRspec(xml).response?.information?.resources, []);
  assert.deepEqual(await w.information.listResources('0'), [hash, fixture]);
  assert.deepEqual(await w.information.listResources(hash), [hash, '']);
});

const P1 = 'aaaaaaaa-0000-4000-8000-000000000001';
const P2 = 'aaaaaaaa-0000-4000-8000-000000000002';
const S1 = 'bbbbbbbb-0000-4000-8000-000000000001';
const S2 = 'bbbbbbbb-0000-4000-8000-000000000002';
const HOST2_UUID = '5e4e0000-0000-4000-8000-000000000002';

/** host1 with vm-a (P1/S1), vm-b (P1/S2), vm-c (P2/S1); host2 with vm-d (P2/S2). */
async function filterWorld(w: World): Promise<void> {
  await addHost(w, 'host1', SERVER_UUID, 20);
  await addHost(w, 'host2', HOST2_UUID, 21);
  await provisionVm(w, { name: 'vm-a', projectId: P1, sliceId: S1 });
  await provisionVm(w, { name: 'vm-b', projectId: P1, sliceId: S2 });
  await provisionVm(w, { name: 'vm-c', projectId: P2, sliceId: S1 });
  await provisionVm(w, { name: 'vm-d', projectId: P2, sliceId: S2, serverUuid: HOST2_UUID });
}

/** `{server name: [VM names]}` of a listResources answer. */
async function view(w: World, project?: string, slice?: string): Promise<Record<string, string[]>> {
  const [, xml] = await w.information.listResources('0', project, slice);
  return Object.fromEntries(servers(xml).map((s) => [s.name!, s.virtualMachines.map((v) => v.name!)]));
}

forEachEngine('listResources filters: None, empty and omitted mean no filter; project and slice select VMs; no match keeps the servers', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await filterWorld(w);
  const all = { host1: ['vm-a', 'vm-b', 'vm-c'], host2: ['vm-d'] };
  assert.deepEqual(await view(w), all, 'omitted');
  assert.deepEqual(await view(w, 'None', 'None'), all, '"None" (the original filtered everything out, §2.2.3)');
  assert.deepEqual(await view(w, '', ''), all, 'empty');
  assert.deepEqual(await view(w, 'None'), all);
  assert.deepEqual(await view(w, undefined, ''), all);

  assert.deepEqual(await view(w, P1), { host1: ['vm-a', 'vm-b'], host2: [] });
  assert.deepEqual(await view(w, P2), { host1: ['vm-c'], host2: ['vm-d'] });
  assert.deepEqual(await view(w, P1, S2), { host1: ['vm-b'], host2: [] });
  assert.deepEqual(await view(w, 'None', S1), { host1: ['vm-a', 'vm-c'], host2: [] }, 'slice alone');
  assert.deepEqual(await view(w, '', S2), { host1: ['vm-b'], host2: ['vm-d'] });

  const none = { host1: [], host2: [] };
  assert.deepEqual(await view(w, 'cccccccc-0000-4000-8000-000000000009'), none, 'unknown project: every server, no VM');
  assert.deepEqual(await view(w, P1, 'cccccccc-0000-4000-8000-000000000009'), none, 'unknown slice');
  assert.deepEqual(await view(w, P2, S2).then((v) => v.host1), [], 'vm-d is on host2 only');

  // A server without VMs still carries its own fields and interfaces.
  const [, xml] = await w.information.listResources('0', 'cccccccc-0000-4000-8000-000000000009');
  const host1 = servers(xml).find((s) => s.name === 'host1')!;
  assert.equal(host1.uuid, SERVER_UUID);
  assert.deepEqual(host1.interfaces?.map((i) => [i.name, i.ismgmt, i.switchId]), [['br-mgmt', true, 'br-mgmt'], ['br-data', false, 'br-data']]);
  assert.doesNotMatch(xml, /<virtual-machine>/);
});

forEachEngine('hash: the SHA-256 of the escaped pieces\' digests, equal for equal content, changed by a change; [hash, ""] when the caller is current', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await fixture16World(w);
  const first = await w.information.information();
  assert.equal(first.hash, referenceHash(first.xml), 'the SHA-256 of the digests of the escaped pieces (decision 035, amended)');
  const again = await w.information.information();
  assert.deepEqual(again, first, 'same rows, same document and hash');

  // Equal content in another database gives the same hash (nothing time- or random-dependent in it).
  const w2 = await openWorld(t, { engine });
  await fixture16World(w2);
  assert.equal((await w2.information.information()).hash, first.hash);

  assert.deepEqual(await w.information.listResources(first.hash), [first.hash, ''], 'current: no document');
  assert.deepEqual(await w.information.listResources('0'), [first.hash, first.xml], 'Expedient starts with "0"');
  assert.deepEqual(await w.information.listResources(first.hash, 'None', 'None'), [first.hash, '']);

  // A filter that changes the content changes the hash.
  const filtered = await w.information.information('dddddddd-0000-4000-8000-000000000000');
  assert.notEqual(filtered.hash, first.hash);
  assert.deepEqual(await w.information.listResources(first.hash, 'dddddddd-0000-4000-8000-000000000000'), [filtered.hash, filtered.xml]);

  // A VM state change changes the hash; the old hash then gets the new document.
  const stop = lifecycleAction('hardStop', FIXTURE_VM_UUID, undefined, FIXTURE_SERVER_UUID);
  await w.provisioning.submit(CLIENT_CB, query(stop));
  await waitFor('the stop at the agent', () => w.agent.sent.length === 3);
  await w.provisioning.handleAgentStatus(agentStatus(stop.id, 'SUCCESS'));
  const [newHash, newXml] = await w.information.listResources(first.hash);
  assert.notEqual(newHash, first.hash);
  assert.equal(newXml, first.xml.replace('<status>running</status>', '<status>stopped</status>'));
  assert.deepEqual(await w.information.listResources(newHash), [newHash, '']);
});

forEachEngine('listResources carries a reported host\'s facts (number-of-cpus, cpu-frequency MHz, memory MiB, disc-space-gb GiB); a host that never reported has none', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const facts0 = { cpus: 16, cpuFrequencyMHz: 2400, memoryTotalMiB: 64000, memoryFreeMiB: 1000, storageTotalGiB: 900 };
  const kvm1 = await addHostWithFacts(w, 'kvm1', SERVER_UUID, 30, facts0);
  await addHost(w, 'legacy1', 'cccccccc-0000-4000-8000-0000000000aa', 31);
  const [, xml] = await w.information.listResources('0');
  const byName = Object.fromEntries(servers(xml).map((s) => [s.name, s]));
  const facts = (s: ServerInformation | undefined) => [s?.numberOfCpus, s?.cpuFrequency, s?.memory, s?.discSpaceGb];
  assert.deepEqual(facts(byName['kvm1']), [16, 2400, 64000, 900]);
  assert.deepEqual(facts(byName['legacy1']), [undefined, undefined, undefined, undefined]);
  assert.match(xml, /<name>kvm1<\/name>[\s\S]*<virtualization-type>kvm<\/virtualization-type>\n\s+<number-of-cpus>16<\/number-of-cpus>\n\s+<cpu-frequency>2400<\/cpu-frequency>\n\s+<memory>64000<\/memory>\n\s+<disc-space-gb>900<\/disc-space-gb>\n\s+<interfaces>/);
  // Free memory changes at every monitoring round; only the totals are in the document, so its hash stays.
  const before = await w.information.information();
  w.agent.hostInfo.set('kvm1', fakeHostFacts({ ...facts0, memoryFreeMiB: 5, storageFreeGiB: 1 }));
  assert.equal(await new HostFactsService(w.tx, w.agent, silentLogger()).refresh(kvm1), true);
  const after = await w.information.information();
  assert.equal(after.hash, before.hash);
});
