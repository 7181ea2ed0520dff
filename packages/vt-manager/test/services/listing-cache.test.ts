/**
 * listResources at cluster scale (decision 031), on SQLite and MariaDB/MySQL (`[sqlite]`/`[mysql]`):
 * - the new, chunked rendering equals the previous one (entities + serialiseRspec + per-server filter, kept here as
 *   the reference) byte for byte on a seeded random inventory, for every kind of view; the pre-serialised XML-RPC
 *   answer equals the xmlrpc package's serialisation of `[hash, xml]`;
 * - the inventory version (database triggers) moves with every change of what the document shows and only then, so
 *   the cached hash is never stale: VM create/state/delete, server add/remove, host facts, bridges, NICs, project
 *   ownership; a rolled-back change does not move it; a change in another principal's project keeps my hash.
 */
import assert from 'node:assert/strict';
import { parseMethodResponse, PreSerialisedResponse, serialiseMethodResponse, serialiseRspec } from '@kvm-crm/shared';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import { referenceHash, referenceRendering } from './listing-reference.js';
import { addHost, openWorld, provisionVm, SERVER_UUID, type World } from '../../dist/testing/fakes.js';
import { seedInventory } from '../../dist/testing/inventory-seed.js';
import { InformationService } from '../../dist/services/information-service.js';
import { ServerRepository } from '../../dist/repositories/server-repository.js';
import { VmRepository } from '../../dist/repositories/vm-repository.js';
import { HostRepository } from '../../dist/repositories/host-repository.js';
import { InventoryVersionRepository } from '../../dist/repositories/inventory-version-repository.js';
import { ServerBridge } from '../../dist/db/entities/server-bridge.js';
import { VmInterface } from '../../dist/db/entities/vm-interface.js';
import { ProjectOwner } from '../../dist/db/entities/project-owner.js';
import { fakeHostFacts } from '../../dist/testing/capacity-fakes.js';

const PROJECTS: Array<[string, string]> = [
  ['aaaaaaaa-0000-4000-8000-000000000001', 'alice'],
  ['aaaaaaaa-0000-4000-8000-000000000002', 'alice'],
  ['aaaaaaaa-0000-4000-8000-000000000003', 'bob'],
];

forEachEngine('the chunked rendering equals the previous one byte for byte on a seeded random inventory, for every kind of view', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await seedInventory(w.tx, { servers: 40, vms: 400, projects: PROJECTS, seed: 14, prefix: 't-' });
  // small pages and slices, so there are many pages and the build yields often
  const info = new InformationService(w.tx.dataSource, { serversPerPage: 3, sliceMs: 0 });
  const views: Array<[string | undefined, string | undefined, string | undefined]> = [
    [undefined, undefined, undefined], [PROJECTS[0]![0], undefined, undefined], [undefined, 'slice-1', undefined], [PROJECTS[2]![0], 'slice-2', undefined],
    [undefined, undefined, 'alice'], [undefined, undefined, 'bob'], [undefined, undefined, 'nobody'], [PROJECTS[2]![0], undefined, 'alice'],
  ];
  for (const [project, slice, principal] of views) {
    const what = JSON.stringify([project, slice, principal]);
    const expected = await w.tx.run((em) => referenceRendering(em, project, slice, principal));
    const got = await info.information(project, slice, principal);
    assert.equal(got.xml, expected, `document of ${what}`);
    assert.equal(got.hash, referenceHash(expected));
    const wire = await info.listResourcesResponse('0', project, slice, principal);
    assert.ok(wire instanceof PreSerialisedResponse);
    assert.equal(Buffer.concat(wire.chunks).toString('utf8'), serialiseMethodResponse([got.hash, expected]), `answer of ${what}`);
    const unchanged = await info.listResourcesResponse(got.hash, project, slice, principal);
    assert.equal(Buffer.concat(unchanged.chunks).toString('utf8'), serialiseMethodResponse([got.hash, '']));
  }
  assert.match((await info.information()).xml, /a&amp;b[\s\S]*x&lt;y&gt;|x&lt;y&gt;[\s\S]*a&amp;b/, 'the seeded names exercise escaping');
});

/** The view's hash as the wire answer carries it (through the cache). */
async function wireHash(w: World, principal?: string, project?: string): Promise<string> {
  const r = await w.information.listResourcesResponse('0', project, undefined, principal);
  const decoded = await parseMethodResponse(Buffer.concat(r.chunks).toString('utf8'));
  assert.ok('value' in decoded);
  return (decoded.value as [string, string])[0];
}

/** Asserts that `change` moves the inventory version and the cached hash, and that the new hash is the fresh one. */
async function assertChanges(w: World, what: string, change: () => Promise<unknown>, principal?: string): Promise<void> {
  const version = () => w.tx.run((em) => new InventoryVersionRepository(em).current());
  const before = await wireHash(w, principal);
  const v0 = await version();
  await change();
  assert.ok(BigInt(await version()) > BigInt(v0), `${what}: the inventory version moved`);
  const after = await wireHash(w, principal);
  assert.notEqual(after, before, `${what}: the hash changed`);
  assert.equal(after, (await w.information.information(undefined, undefined, principal)).hash, `${what}: the cached hash is the fresh document's`);
  assert.deepEqual(await w.information.listResources(after, undefined, undefined, principal), [after, '']);
}

forEachEngine('every change of what the document shows moves the version and the hash; nothing else does', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const version = () => w.tx.run((em) => new InventoryVersionRepository(em).current());
  let host2Id = 0;
  await assertChanges(w, 'server added', async () => addHost(w, 'host1', SERVER_UUID, 20));
  await assertChanges(w, 'second server added', async () => { host2Id = (await addHost(w, 'host2', '5e4e0000-0000-4000-8000-000000000002', 21)).id; });
  let vmId = 0;
  await assertChanges(w, 'VM created', async () => {
    await provisionVm(w, { name: 'vm-a', projectId: PROJECTS[0]![0] }, { principal: 'alice' });
    vmId = (await w.tx.run((em) => new VmRepository(em).findByName('vm-a')))[0]!.id;
  });
  await assertChanges(w, 'VM state', () => w.tx.run((em) => new VmRepository(em).setState(vmId, 'stopped')));
  await assertChanges(w, 'VM NIC address', () => w.tx.run((em) => em.update(VmInterface, { vmId, position: 0 }, { ip: '10.20.0.49' })));
  await assertChanges(w, 'VM NIC added', () => w.tx.run((em) => em.insert(VmInterface, { vmId, name: 'eth9', position: 9, isMgmt: false, mac: '02:00:00:00:00:99', bridge: 'br-data' })));
  await assertChanges(w, 'bridge added', () => w.tx.run((em) => em.insert(ServerBridge, { serverId: host2Id, name: 'br-new', isMgmt: false, switchPort: '7' })));
  await assertChanges(w, 'bridge port', () => w.tx.run((em) => em.update(ServerBridge, { serverId: host2Id, name: 'br-new' }, { switchPort: '8' })));
  await assertChanges(w, 'host facts reported', () => w.tx.run((em) => new HostRepository(em).storeFacts(host2Id, fakeHostFacts({ cpus: 8 }), new Date())));
  await assertChanges(w, 'host facts changed', () => w.tx.run((em) => new HostRepository(em).storeFacts(host2Id, fakeHostFacts({ cpus: 16 }), new Date())));

  // Not in the document: free memory, refresh time, availability, expiry: the version and the hash stay.
  const v = await version();
  const h = await wireHash(w);
  await w.tx.run((em) => new HostRepository(em).storeFacts(host2Id, fakeHostFacts({ cpus: 16, memoryFreeMiB: 3 }), new Date(Date.now() + 5000)));
  await w.tx.run((em) => new ServerRepository(em).setAvailable(host2Id, false));
  const vmUuid = (await w.tx.run((em) => new VmRepository(em).findByName('vm-a')))[0]!.uuid;
  assert.equal(await w.tx.run((em) => new VmRepository(em).setExpiry(vmUuid, new Date(Date.now() + 3_600_000))), true);
  assert.equal(await version(), v, 'unlisted columns do not move the version');
  assert.equal(await wireHash(w), h);

  // A rolled-back change does not move it.
  await assert.rejects(w.tx.run(async (em) => {
    await new VmRepository(em).setState(vmId, 'running');
    throw new Error('roll back');
  }), /roll back/);
  assert.equal(await version(), v, 'a rolled-back change leaves the version');
  assert.equal(await wireHash(w), h);

  await assertChanges(w, 'VM deleted', () => w.tx.run((em) => new VmRepository(em).deleteWithInterfaces(vmId)));
  await assertChanges(w, 'server removed', () => w.tx.run((em) => new ServerRepository(em).deleteWithBridges(host2Id)));
});

forEachEngine('a principal\'s view: its hash stays when another principal\'s project changes, and moves when its own does or it claims a project', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  await provisionVm(w, { name: 'vm-a', projectId: PROJECTS[0]![0] }, { principal: 'alice' });
  const alice = await wireHash(w, 'alice');
  await provisionVm(w, { name: 'vm-b', projectId: PROJECTS[2]![0] }, { principal: 'bob' });
  const bobVm = (await w.tx.run((em) => new VmRepository(em).findByName('vm-b')))[0]!;
  await w.tx.run((em) => new VmRepository(em).setState(bobVm.id, 'stopped'));
  assert.equal(await wireHash(w, 'alice'), alice, 'bob\'s create and state change leave alice\'s hash');
  assert.deepEqual(await w.information.listResources(alice, undefined, undefined, 'alice'), [alice, '']);
  await assertChanges(w, 'alice creates a VM', () => provisionVm(w, { name: 'vm-c', projectId: PROJECTS[1]![0] }, { principal: 'alice' }), 'alice');
  // ownership alone changes the view (a project of bob's VMs handed to carol)
  const carol = await wireHash(w, 'carol');
  await w.tx.run((em) => em.update(ProjectOwner, { projectId: PROJECTS[2]![0] }, { principal: 'carol' }));
  assert.notEqual(await wireHash(w, 'carol'), carol, 'carol now sees vm-b');
  assert.match((await w.information.information(undefined, undefined, 'carol')).xml, /<name>vm-b<\/name>/);
});
