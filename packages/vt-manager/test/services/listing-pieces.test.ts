/**
 * The per-server pieces of listResources documents (decision 035), on SQLite and MariaDB/MySQL (`[sqlite]`/`[mysql]`):
 * after every kind of listed change (VM state, NICs, a VM moved to another server or project, bridges, host facts,
 * server name, project ownership, VM and server added or removed), every view's cached answer, built from the
 * previous document's pieces where a server's listing version did not move, equals the reference rendering
 * (entities + `serialiseRspec` of the whole) byte for byte, and its hash is the SHA-256 of that document; a change of
 * one VM reads the VMs of that one server only (the other pieces are reused).
 */
import assert from 'node:assert/strict';
import { serialiseMethodResponse, serialiseRspec } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import { referenceHash, referenceRendering } from './listing-reference.js';
import { openWorld, type World } from '../../dist/testing/fakes.js';
import { seedInventory } from '../../dist/testing/inventory-seed.js';
import { InformationService } from '../../dist/services/information-service.js';
import { ListingRepository } from '../../dist/repositories/listing-repository.js';
import { ServerRepository } from '../../dist/repositories/server-repository.js';
import { VmRepository } from '../../dist/repositories/vm-repository.js';
import { HostRepository } from '../../dist/repositories/host-repository.js';
import { Server } from '../../dist/db/entities/server.js';
import { ServerBridge } from '../../dist/db/entities/server-bridge.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { VmInterface } from '../../dist/db/entities/vm-interface.js';
import { ProjectOwner } from '../../dist/db/entities/project-owner.js';
import { fakeHostFacts } from '../../dist/testing/capacity-fakes.js';

const PROJECTS: Array<[string, string]> = [
  ['bbbbbbbb-0000-4000-8000-000000000001', 'alice'],
  ['bbbbbbbb-0000-4000-8000-000000000002', 'alice'],
  ['bbbbbbbb-0000-4000-8000-000000000003', 'bob'],
];
const VIEWS: Array<[string | undefined, string | undefined, string | undefined]> = [
  [undefined, undefined, undefined], [PROJECTS[0]![0], undefined, undefined], [undefined, 'slice-1', undefined],
  [undefined, undefined, 'alice'], [undefined, undefined, 'bob'], [undefined, undefined, 'carol'],
];

/** Counts the server ids whose VMs the builds read (restored when `t` ends). */
function countServerReads(t: { after: (fn: () => void) => void }): { ids: number } {
  const counter = { ids: 0 };
  const original = ListingRepository.prototype.vmsOnServers;
  t.after(() => { ListingRepository.prototype.vmsOnServers = original; });
  ListingRepository.prototype.vmsOnServers = function (this: ListingRepository, ...args: Parameters<typeof original>) {
    counter.ids += args[1].length;
    return original.apply(this, args);
  };
  return counter;
}

/** Asserts every view's cached wire answer is the reference document and its hash. */
async function assertAllViews(w: World, info: InformationService, what: string): Promise<void> {
  for (const [project, slice, principal] of VIEWS) {
    const expected = await w.tx.run((em) => referenceRendering(em, project, slice, principal));
    const hash = referenceHash(expected);
    const wire = await info.listResourcesResponse('0', project, slice, principal);
    assert.equal(Buffer.concat(wire.chunks).toString('utf8'), serialiseMethodResponse([hash, expected]), `${what}: answer of ${JSON.stringify([project, slice, principal])}`);
  }
}

forEachEngine('pieces reused across versions give the reference document after every kind of listed change', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const seeded = await seedInventory(w.tx, { servers: 12, vms: 120, projects: PROJECTS, seed: 35, prefix: 'p-' });
  const info = new InformationService(w.tx.dataSource, { serversPerPage: 4, sliceMs: 0 });
  t.after(() => info.close());
  const reads = countServerReads(t);
  await assertAllViews(w, info, 'first build');
  const [s0, s1] = seeded.serverIds;
  const vmOn = async (serverId: number) => (await w.tx.run((em) => em.find(VirtualMachine, { where: { serverId }, order: { id: 'ASC' } })))[0]!;

  // one VM's state: the next build of the whole view reads that one server's VMs
  const vm = await vmOn(s0!);
  reads.ids = 0;
  await w.tx.run((em) => new VmRepository(em).setState(vm.id, vm.state === 'running' ? 'stopped' : 'running'));
  await info.listResourcesResponse('0');
  assert.equal(reads.ids, 1, 'one VM changed: one server read, the other pieces reused');
  await assertAllViews(w, info, 'VM state');

  const changes: Array<[string, (em: EntityManager) => Promise<unknown>]> = [
    ['NIC address', (em) => em.update(VmInterface, { vmId: vm.id, position: 0 }, { ip: '10.99.0.7' })],
    ['NIC added', (em) => em.insert(VmInterface, { vmId: vm.id, name: 'eth7', position: 7, isMgmt: false, mac: '02:00:00:00:07:07', bridge: 'br-data' })],
    ['NIC removed', (em) => em.delete(VmInterface, { vmId: vm.id, position: 7 })],
    ['VM moved to another server', (em) => em.update(VirtualMachine, { id: vm.id }, { serverId: s1 })],
    ['VM moved to another owner\'s project', (em) => em.update(VirtualMachine, { id: vm.id }, { projectId: PROJECTS[2]![0] })],
    ['bridge added', (em) => em.insert(ServerBridge, { serverId: s0, name: 'br-new', isMgmt: false, switchPort: '3' })],
    ['bridge port', (em) => em.update(ServerBridge, { serverId: s0, name: 'br-new' }, { switchPort: '4' })],
    ['bridge removed', (em) => em.delete(ServerBridge, { serverId: s0, name: 'br-new' })],
    ['host facts', (em) => new HostRepository(em).storeFacts(s1!, fakeHostFacts({ cpus: 48 }), new Date())],
    ['server renamed', (em) => em.update(Server, { id: s1 }, { name: 'p-renamed' })],
    ['project handed to carol', (em) => em.update(ProjectOwner, { projectId: PROJECTS[2]![0] }, { principal: 'carol' })],
    ['project ownership removed', (em) => em.delete(ProjectOwner, { projectId: PROJECTS[1]![0] })],
    ['project claimed by carol', (em) => em.insert(ProjectOwner, { projectId: PROJECTS[1]![0], principal: 'carol' })],
    ['VM deleted', (em) => new VmRepository(em).deleteWithInterfaces(vm.id)],
  ];
  for (const [what, change] of changes) {
    await w.tx.run(change);
    await assertAllViews(w, info, what);
  }
  // a server added with a VM moved onto it, then the VM moved back and the server removed
  const added = await w.tx.run((em) => new ServerRepository(em).createWithBridges({
    name: 'p-added', uuid: 'cccccccc-0000-4000-8000-000000000001', agentUrl: 'https://p-added.example:9229/', agentPassword: 'x', legacy: false,
    operatingSystemType: 'GNU/Linux', operatingSystemDistribution: 'Debian', operatingSystemVersion: '12', bridges: [{ name: 'br-mgmt', isMgmt: true, switchPort: null }],
  }));
  await assertAllViews(w, info, 'server added');
  const other = await vmOn(s1!);
  await w.tx.run((em) => em.update(VirtualMachine, { id: other.id }, { serverId: added.id }));
  await assertAllViews(w, info, 'VM moved onto the new server');
  await w.tx.run((em) => em.update(VirtualMachine, { id: other.id }, { serverId: s1 }));
  await w.tx.run((em) => new ServerRepository(em).deleteWithBridges(added.id));
  await assertAllViews(w, info, 'server removed');
});
