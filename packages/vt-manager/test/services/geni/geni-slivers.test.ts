/**
 * GENI slivers through the real aggregate, sliver and provisioning services on both engines, with a fake agent
 * gateway and fake credentials (test-only, src/testing/geni-fakes.ts): Allocate reserves capacity and an address
 * (all-or-nothing, ALREADYEXISTS, BADARGS for unknown images/nodes), Provision runs the normal create owned by the
 * GENI principal, geni_start during the create is remembered (RO call order), Status reaches geni_ready, the §6 order
 * of checks (FORBIDDEN before BADARGS, binding before SEARCHFAILED), Delete, Renew, expiry, concurrent Allocates on a
 * small host, and OCF/GENI isolation.
 */
import assert from 'node:assert/strict';
import { GeniSliver } from '../../../dist/db/entities/geni-sliver.js';
import { Server } from '../../../dist/db/entities/server.js';
import { Ipv4Slot } from '../../../dist/db/entities/ipv4-slot.js';
import { ProjectOwner } from '../../../dist/db/entities/project-owner.js';
import { VirtualMachine } from '../../../dist/db/entities/virtual-machine.js';
import { AllocationRepository } from '../../../dist/repositories/allocation-repository.js';
import { GeniSliverRepository } from '../../../dist/repositories/geni-sliver-repository.js';
import { GENI_PRINCIPAL } from '../../../dist/services/geni/geni-settings.js';
import { geniCall } from '../../../dist/services/geni/geni-result.js';
import { addHostWithFacts } from '../../../dist/testing/capacity-fakes.js';
import { agentStatus, CLIENT_CB, lifecycleAction, query, silentLogger, waitFor, type World, openWorld } from '../../../dist/testing/fakes.js';
import { geniOnWorld, OTHER_SLICE, requestRspec, sliceCredential, TEST_SLICE } from '../../../dist/testing/geni-fakes.js';
import { forEachEngine } from '../../../dist/testing/test-databases.js';

const KVM1 = '5e4e0000-0000-4000-8000-0000000000a1';
const KVM2 = '5e4e0000-0000-4000-8000-0000000000a2';
const RSPEC_V3 = { geni_rspec_version: { type: 'geni', version: 3 } };

type G = ReturnType<typeof geniOnWorld>;

/** A world with host kvm1 (1024 MiB, 2 CPUs) serving template `tiny`, the GENI services, and credential tokens. */
async function setUp(t: Parameters<Parameters<typeof forEachEngine>[1]>[0], engine: 'sqlite' | 'mysql'): Promise<{ w: World; g: G }> {
  const w = await openWorld(t, { engine });
  await addHostWithFacts(w, 'kvm1', KVM1, 31);
  w.agent.templates = [{ name: 'tiny' } as never, { name: 'debian12' } as never];
  const g = geniOnWorld(w);
  g.credentials.byToken.set('slice-cred', [sliceCredential(TEST_SLICE)]);
  g.credentials.byToken.set('other-cred', [sliceCredential(OTHER_SLICE)]);
  return { w, g };
}

/** Runs a method as the API does: the §3 struct. */
function struct(g: G, body: () => Promise<unknown>) {
  return geniCall('test', '1.0', silentLogger(), body) as Promise<Record<string, any>>;
}

async function sliverRows(w: World): Promise<GeniSliver[]> {
  return w.tx.dataSource.getRepository(GeniSliver).find({ order: { id: 'ASC' } });
}

/** Drives the agent's statuses of the newest action sent to `SUCCESS`. */
async function agentFinishesLast(w: World, n: number): Promise<string> {
  await waitFor(`agent query #${n}`, () => w.agent.sent.length > n);
  const a = w.agent.action(n);
  await w.provisioning.handleAgentStatus(agentStatus(a.id!, 'SUCCESS'));
  return a.type ?? "";
}

forEachEngine('GENI: Allocate → Provision → geni_start during the create → Status geni_ready → Delete → gone', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  const alloc = await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm1', server: 'kvm1', image: 'tiny', ram: 512, cores: 2 }]), RSPEC_V3));
  assert.equal(alloc.code.geni_code, 0, alloc.output);
  assert.equal('output' in alloc, false, 'no output member on success (§1.3)');
  assert.deepEqual(Object.keys(alloc.value).sort(), ['geni_rspec', 'geni_slivers']);
  const [s] = alloc.value.geni_slivers;
  assert.equal(s.geni_sliver_urn, 'urn:publicid:IDN+ocf:test:vtam:kvm1:myslice+sliver+vm1');
  assert.equal(s.geni_allocation_status, 'geni_allocated');
  assert.equal(s.geni_operational_status, 'geni_notready');
  assert.match(s.geni_expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal('geni_error' in s, false);
  // The allocation expires within maxAllocationHours (2 h).
  assert.ok(Date.parse(s.geni_expires) <= Date.now() + 2 * 3600_000 + 1000);
  // Capacity and an address are reserved, no VM and no agent call yet.
  const usage = (await new AllocationRepository(w.tx.manager).usageByServer()).values().next().value;
  assert.deepEqual(usage, { vms: 1, vcpus: 2, memoryMiB: 512, diskMiB: 1024 });
  const [row] = await sliverRows(w);
  assert.ok(row?.reservedIp);
  assert.equal(await w.tx.dataSource.getRepository(Ipv4Slot).countBy({ vmUuid: row.vmUuid }), 1);
  assert.equal(w.agent.sent.length, 0);

  const prov = await struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], { ...RSPEC_V3, geni_users: [{ urn: 'urn:publicid:IDN+ch.test+user+Alice', keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1hbmFnZXItdGVzdC1rZXktbm90LXJlYWwtMDAw alice@x'] }] }));
  assert.equal(prov.code.geni_code, 0, prov.output);
  assert.equal(prov.value.geni_slivers[0].geni_allocation_status, 'geni_provisioned');
  assert.equal(prov.value.geni_slivers[0].geni_operational_status, 'geni_configuring');
  // The create reached the agent with the reserved address, the user and the key; the VM belongs to the GENI principal.
  await waitFor('the create at the agent', () => w.agent.sent.length > 0);
  const create = w.agent.action(0);
  assert.equal(create.type, 'create');
  const vm0 = create.server?.virtualMachines[0];
  assert.equal(vm0?.name, 'vm1');
  assert.equal(vm0?.xenConfiguration?.memoryMb, 512);
  assert.deepEqual(vm0?.xenConfiguration?.users?.map((u) => u.name), ['alice']);
  assert.equal(vm0?.xenConfiguration?.sshKeys?.length, 1);
  assert.equal(vm0?.xenConfiguration?.interfaces?.find((i) => i.ismgmt)?.ip, row.reservedIp);
  const vm = await w.tx.dataSource.getRepository(VirtualMachine).findOneByOrFail({ uuid: row.vmUuid });
  assert.equal((await w.tx.dataSource.getRepository(ProjectOwner).findOneByOrFail({ projectId: vm.projectId })).principal, GENI_PRINCIPAL);
  assert.ok(vm.expiresAt, 'the VM carries the sliver expiry');
  // Capacity: the VM row took over the reservation (not counted twice).
  const after = (await new AllocationRepository(w.tx.manager).usageByServer()).values().next().value;
  assert.equal(after?.memoryMiB, 512);

  // The RO's order: geni_start at once, while the create still runs: accepted, geni_configuring.
  const poa = await struct(g, () => g.am.performOperationalAction([TEST_SLICE], ['slice-cred'], 'geni_start', RSPEC_V3));
  assert.equal(poa.code.geni_code, 0, poa.output);
  assert.equal(poa.value[0].geni_operational_status, 'geni_configuring');
  // Create SUCCESS → the Status poll issues the wanted start → SUCCESS → geni_ready.
  assert.equal(await agentFinishesLast(w, 0), 'create');
  const st1 = await struct(g, () => g.am.status([TEST_SLICE], ['slice-cred'], {}));
  assert.equal(st1.value.geni_slivers[0].geni_operational_status, 'geni_configuring');
  // A geni_start while that start is under way is a success with nothing to do (not REFUSED "busy").
  const sentBefore = w.agent.sent.length;
  const again = await struct(g, () => g.am.performOperationalAction([TEST_SLICE], ['slice-cred'], 'geni_start', RSPEC_V3));
  assert.equal(again.code.geni_code, 0, again.output);
  assert.equal(w.agent.sent.length, sentBefore, 'no second start submitted');
  assert.equal(await agentFinishesLast(w, 1), 'start');
  const st2 = await struct(g, () => g.am.status([TEST_SLICE], ['slice-cred'], {}));
  assert.equal(st2.value.geni_urn, TEST_SLICE);
  assert.deepEqual(Object.keys(st2.value.geni_slivers[0]).sort(), ['geni_allocation_status', 'geni_expires', 'geni_operational_status', 'geni_sliver_urn']);
  assert.equal(st2.value.geni_slivers[0].geni_operational_status, 'geni_ready');
  // Re-provisioning → EXPIRED (15), as the original.
  assert.equal((await struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], RSPEC_V3))).code.geni_code, 15);

  // geni_stop → hardStop; Delete → delete action; after its SUCCESS the sliver is gone.
  const stop = await struct(g, () => g.am.performOperationalAction([s.geni_sliver_urn], ['slice-cred'], 'geni_stop', RSPEC_V3));
  assert.equal(stop.code.geni_code, 0, stop.output);
  assert.equal(stop.value[0].geni_operational_status, 'geni_stopping');
  assert.equal(await agentFinishesLast(w, 2), 'hardStop');
  const del = await struct(g, () => g.am.delete([TEST_SLICE], ['slice-cred'], RSPEC_V3));
  assert.equal(del.code.geni_code, 0, del.output);
  assert.deepEqual(Object.keys(del.value[0]).sort(), ['geni_allocation_status', 'geni_expires', 'geni_sliver_urn']);
  assert.equal(del.value[0].geni_allocation_status, 'geni_unallocated');
  assert.equal(await agentFinishesLast(w, 3), 'delete');
  await g.slivers.sweep();
  assert.equal((await sliverRows(w)).length, 0);
  const st3 = await struct(g, () => g.am.status([TEST_SLICE], ['slice-cred'], {}));
  assert.deepEqual(st3.value.geni_slivers, []);
  assert.equal(await w.tx.dataSource.getRepository(Ipv4Slot).countBy({ vmUuid: row.vmUuid }), 0, 'address released');
});

forEachEngine('GENI: order of checks and refusals leave no trace (FORBIDDEN, BADARGS, BADVERSION, ALREADYEXISTS, SEARCHFAILED, REFUSED, UNSUPPORTED)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  const req = requestRspec([{ clientId: 'vm1', server: 'kvm1', image: 'tiny' }]);
  const code = async (body: () => Promise<unknown>) => {
    const r = await struct(g, body);
    if (r.code.geni_code !== 0) {
      assert.equal(r.value, '');
      assert.equal(typeof r.output, 'string');
    }
    return r.code.geni_code as number;
  };
  // Credentials first: a bad credential with a malformed slice URN is FORBIDDEN, not BADARGS.
  assert.equal(await code(() => g.am.allocate('not-a-urn', ['nobody'], req, {})), 3);
  assert.equal(await code(() => g.am.allocate('not-a-urn', ['slice-cred'], req, {})), 1);
  assert.equal(await code(() => g.am.allocate(TEST_SLICE, ['slice-cred'], '<rspec', {})), 1);
  assert.equal(await code(() => g.am.allocate(TEST_SLICE, ['slice-cred'], req, { geni_rspec_version: { type: 'ProtoGENI', version: 2 } })), 4);
  // Binding: a valid credential for another slice.
  assert.equal(await code(() => g.am.allocate(TEST_SLICE, ['other-cred'], req, {})), 3);
  // Unknown image → BADARGS naming ours; unknown node → BADARGS.
  const img = await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm1', server: 'kvm1', image: 'urn:publicid:IDN+wall2+image+emulab-ops//DEB60_64-VLAN' }]), {}));
  assert.equal(img.code.geni_code, 1);
  assert.match(img.output, /DEB60_64-VLAN.*images: debian12, tiny/);
  assert.equal(await code(() => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm1', server: 'nohost' }]), {})), 1);
  assert.equal((await sliverRows(w)).length, 0, 'nothing stored by the refusals');

  assert.equal(await code(() => g.am.allocate(TEST_SLICE, ['slice-cred'], req, {})), 0);
  // Duplicate client_id in the slice → ALREADYEXISTS; all-or-nothing: vm2 of the same request is not kept.
  assert.equal(await code(() => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm2', server: 'kvm1' }, { clientId: 'vm1', server: 'kvm1' }]), {})), 17);
  assert.deepEqual((await sliverRows(w)).map((r) => r.clientId), ['vm1']);
  // Describe needs geni_rspec_version; Status does not.
  assert.equal(await code(() => g.am.describe([TEST_SLICE], ['slice-cred'], {})), 1);
  assert.equal(await code(() => g.am.status([TEST_SLICE], ['slice-cred'], {})), 0);
  // Unknown sliver of our slice → SEARCHFAILED; of a slice the credential does not cover → FORBIDDEN; malformed → BADARGS.
  assert.equal(await code(() => g.am.status(['urn:publicid:IDN+ocf:test:vtam:kvm1:myslice+sliver+nope'], ['slice-cred'], {})), 12);
  assert.equal(await code(() => g.am.status(['urn:publicid:IDN+ocf:test:vtam:kvm1:theirs+sliver+vm1'], ['slice-cred'], {})), 3);
  assert.equal(await code(() => g.am.status(['urn:publicid:IDN+bad urn'], ['slice-cred'], {})), 1);
  // Another slice's credential cannot see our slice.
  assert.equal(await code(() => g.am.describe([TEST_SLICE], ['other-cred'], RSPEC_V3)), 3);
  // POA on an allocated sliver → REFUSED; an unknown action → UNSUPPORTED; Shutdown → FORBIDDEN.
  assert.equal(await code(() => g.am.performOperationalAction([TEST_SLICE], ['slice-cred'], 'geni_start', {})), 7);
  assert.equal(await code(() => g.am.performOperationalAction([TEST_SLICE], ['slice-cred'], 'geni_console_url', {})), 13);
  assert.equal(await code(() => g.am.shutdown()), 3);
  // Renew past the credential → EXPIRED; in the past → BADARGS; with geni_extend_alap → the credential's expiry (capped at 2 h for an allocation).
  const far = new Date(Date.now() + 48 * 3600_000).toISOString().replace('Z', '+00:00');
  assert.equal(await code(() => g.am.renew([TEST_SLICE], ['slice-cred'], far, {})), 15);
  assert.equal(await code(() => g.am.renew([TEST_SLICE], ['slice-cred'], '2001-01-01T00:00:00Z', {})), 1);
  const alap = await struct(g, () => g.am.renew([TEST_SLICE], ['slice-cred'], far, { geni_extend_alap: true }));
  assert.equal(alap.code.geni_code, 0, alap.output);
  assert.ok(Date.parse(alap.value[0].geni_expires) <= Date.now() + 2 * 3600_000 + 1000);
  // Provision of nothing → SEARCHFAILED.
  assert.equal(await code(() => g.am.provision([OTHER_SLICE], ['other-cred'], RSPEC_V3)), 12);
  assert.equal(w.agent.sent.length, 0, 'no agent call from any refusal');
});

forEachEngine('GENI: concurrent Allocates on a small host never overbook it (reservations count like VMs)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  // kvm1 has 1024 MiB for VMs; 10 Allocates of 300 MiB at once: exactly 3 fit.
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: `c${i}`, server: 'kvm1', ram: 300, cores: 1 }]), {}))),
  );
  const ok = results.filter((r) => r.code.geni_code === 0).length;
  assert.equal(ok, 3, JSON.stringify(results.map((r) => r.output ?? 'ok')));
  for (const r of results.filter((x) => x.code.geni_code !== 0)) assert.equal(r.code.geni_code, 7, r.output);
  assert.equal((await sliverRows(w)).length, 3);
  // An OCF create that no longer fits is refused too: the reservations count for every front door.
  const { createAction } = await import('../../../dist/testing/fakes.js');
  const a = createAction({ serverUuid: KVM1, memoryMb: 200 });
  const refused = (await (await w.provisioning.submit(CLIENT_CB, query(a))).handedOver).get(a.id);
  assert.match(refused ?? '', /MiB free for VMs/);
});

forEachEngine('GENI: expiry drops allocations and deletes provisioned slivers like a Delete', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  await addHostWithFacts(w, 'kvm2', KVM2, 32);
  assert.equal((await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'a1', server: 'kvm1' }, { clientId: 'p1', server: 'kvm2' }]), {}))).code.geni_code, 0);
  const p1 = (await sliverRows(w)).find((r) => r.clientId === 'p1')!;
  assert.equal((await struct(g, () => g.am.provision([p1.sliverUrn], ['slice-cred'], RSPEC_V3))).code.geni_code, 0);
  assert.equal(await agentFinishesLast(w, 0), 'create');
  const later = new Date(Date.now() + 3 * 3600_000);
  await g.slivers.sweep(later);
  // The allocation (2 h) is gone with its address; the provisioned sliver (30 days) stays.
  assert.deepEqual((await sliverRows(w)).map((r) => r.clientId), ['p1']);
  assert.equal(await w.tx.dataSource.getRepository(Ipv4Slot).count(), 1);
  // The same sweep started the provisioned VM (autoStartAfterProvision).
  assert.equal(await agentFinishesLast(w, 1), 'start');
  // Past the sliver's expiry: a delete action, then the row goes.
  const n = w.agent.sent.length;
  await g.slivers.sweep(new Date(later.getTime() + 40 * 24 * 3600_000));
  assert.equal(await agentFinishesLast(w, n), 'delete');
  await g.slivers.sweep();
  assert.equal((await sliverRows(w)).length, 0);
});

forEachEngine('GENI and OCF never see each other\'s VMs', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  assert.equal((await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm1', server: 'kvm1' }]), {}))).code.geni_code, 0);
  assert.equal((await struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], RSPEC_V3))).code.geni_code, 0);
  assert.equal(await agentFinishesLast(w, 0), 'create');
  const [row] = await sliverRows(w);
  // A clearinghouse principal: its listing has no GENI VM, and its actions on it read "no VM".
  const { xml } = await w.information.information(undefined, undefined, 'ch1');
  assert.equal(xml.includes(row!.vmUuid), false);
  assert.equal((await w.information.information()).xml.includes(row!.vmUuid), true, 'the unfiltered document has it (the check above can fail)');
  const stop = lifecycleAction('stop', row!.vmUuid, undefined, KVM1);
  const refused = (await (await w.provisioning.submit(CLIENT_CB, query(stop), { principal: 'ch1' })).handedOver).get(stop.id);
  assert.match(refused ?? '', /no VM with uuid/);
  // An OCF VM is not a sliver: a GENI slice sees only its slivers.
  const { provisionVm } = await import('../../../dist/testing/fakes.js');
  await provisionVm(w, { serverUuid: KVM1, name: 'ocfvm', memoryMb: 128 }, { principal: 'ch1' });
  const st = await struct(g, () => g.am.status([TEST_SLICE], ['slice-cred'], {}));
  assert.deepEqual(st.value.geni_slivers.map((s: { geni_sliver_urn: string }) => s.geni_sliver_urn), [row!.sliverUrn]);
});

forEachEngine('GENI without trusted roots: every credentialed call is FORBIDDEN with the reason; GetVersion still answers', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const { GeniAggregateService } = await import('../../../dist/services/geni/geni-aggregate-service.js');
  const { CapacityService } = await import('../../../dist/services/capacity-service.js');
  const g = geniOnWorld(w);
  const am = new GeniAggregateService({
    tx: w.tx, slivers: g.slivers, credentials: undefined, codec: (await import('../../../dist/testing/geni-fakes.js')).testCodec(),
    capacity: new CapacityService({ cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 }), agents: w.agent, settings: g.settings, publicUrl: 'https://am.test/xmlrpc/geni/3/', log: silentLogger(),
  });
  assert.equal(am.getVersion().geni_api, 3);
  const r = await geniCall('ListResources', '1.0', silentLogger(), () => am.listResources([], RSPEC_V3));
  assert.equal((r as any).code.geni_code, 3);
  assert.match((r as any).output, /no trusted roots are configured/);
});

forEachEngine('GENI: a failed create shows geni_failed (no geni_error), refuses geni_start, and Delete clears it', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  assert.equal((await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm1', server: 'kvm1' }]), {}))).code.geni_code, 0);
  assert.equal((await struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], RSPEC_V3))).code.geni_code, 0);
  await waitFor('the create at the agent', () => w.agent.sent.length > 0);
  await w.provisioning.handleAgentStatus(agentStatus(w.agent.action(0).id!, 'FAILED', 'qemu-img: template tiny is broken'));
  const st = await struct(g, () => g.am.status([TEST_SLICE], ['slice-cred'], {}));
  assert.equal(st.code.geni_code, 0);
  assert.equal(st.value.geni_slivers[0].geni_operational_status, 'geni_failed');
  assert.equal('geni_error' in st.value.geni_slivers[0], false);
  assert.match((await sliverRows(w))[0]!.failure, /template tiny is broken/);
  assert.equal((await struct(g, () => g.am.performOperationalAction([TEST_SLICE], ['slice-cred'], 'geni_start', {}))).code.geni_code, 7);
  assert.equal(w.agent.sent.length, 1, 'no start was sent for the failed sliver');
  assert.equal((await struct(g, () => g.am.delete([TEST_SLICE], ['slice-cred'], {}))).code.geni_code, 0);
  await g.slivers.sweep();
  assert.equal((await sliverRows(w)).length, 0);
  assert.equal(w.agent.sent.length, 1, 'nothing to delete on the host');
});

forEachEngine('GENI: an unbound node is placed by the policy; two concurrent Provisions of one allocation create one VM', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  const a = await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'free1' }]), {}));
  assert.equal(a.code.geni_code, 0, a.output);
  assert.match(a.value.geni_slivers[0].geni_sliver_urn, /:vtam:kvm1:myslice\+sliver\+free1$/);
  assert.match(a.value.geni_rspec, /component_id="urn:publicid:IDN\+ocf:test:vtam\+node\+kvm1"/, 'the manifest names the advertised node');
  const [p1, p2] = await Promise.all([0, 1].map(() => struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], RSPEC_V3))));
  const codes = [p1!.code.geni_code, p2!.code.geni_code].sort();
  assert.equal(codes[0], 0, JSON.stringify([p1!.output, p2!.output]));
  assert.ok(codes[1] === 7 || codes[1] === 15, `the loser is REFUSED or EXPIRED, got ${codes[1]}`);
  await waitFor('the create at the agent', () => w.agent.sent.length > 0);
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).count(), 1);
  assert.deepEqual(w.agent.sent.map((_, i) => w.agent.action(i).type), ['create'], 'one create reached the agent');
});

/** Two slivers of TEST_SLICE, vm1 on kvm1 and vm2 on kvm2, allocated. */
async function allocateTwo(w: World, g: G): Promise<void> {
  await addHostWithFacts(w, 'kvm2', KVM2, 32);
  const alloc = await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([
    { clientId: 'vm1', server: 'kvm1', image: 'tiny', ram: 256, cores: 1 },
    { clientId: 'vm2', server: 'kvm2', image: 'tiny', ram: 256, cores: 1 },
  ]), RSPEC_V3));
  assert.equal(alloc.code.geni_code, 0, alloc.output);
}

forEachEngine('GENI Provision is all-or-nothing (§8): a host disabled after Allocate refuses the call, nothing is created, both stay allocated (review #11 finding 3)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  await allocateTwo(w, g);
  await w.tx.dataSource.getRepository(Server).update({ name: 'kvm2' }, { enabled: false });
  const prov = await struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], RSPEC_V3));
  assert.equal(prov.code.geni_code, 7, prov.output);
  assert.match(prov.output, /sliver vm2 could not be provisioned: node kvm2 is disabled \(nothing was provisioned\)/);
  assert.deepEqual((await sliverRows(w)).map((r) => [r.clientId, r.allocationState]), [['vm1', 'allocated'], ['vm2', 'allocated']]);
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).count(), 0);
  assert.equal(w.agent.sent.length, 0);
  // geni_best_effort (opt-in): vm1 is provisioned, vm2 reports geni_error and stays allocated
  const best = await struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], { ...RSPEC_V3, geni_best_effort: true }));
  assert.equal(best.code.geni_code, 0, best.output);
  const byId = new Map(best.value.geni_slivers.map((x: any) => [x.geni_sliver_urn.replace(/.*\+/, ''), x]));
  assert.equal((byId.get('vm1') as any).geni_allocation_status, 'geni_provisioned');
  assert.equal('geni_error' in (byId.get('vm1') as any), false);
  assert.equal((byId.get('vm2') as any).geni_allocation_status, 'geni_allocated');
  assert.match((byId.get('vm2') as any).geni_error, /node kvm2 is disabled/);
});

forEachEngine('GENI Provision: a create refused part-way (host disabled during the call) undoes the creates already submitted (review #11 finding 3)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  await allocateTwo(w, g);
  const send = w.agent.send.bind(w.agent);
  let disabled = false;
  w.agent.send = async (server, cb, xml) => {
    await send(server, cb, xml);
    if (!disabled) {
      disabled = true;
      await w.tx.dataSource.getRepository(Server).update({ name: 'kvm2' }, { enabled: false });
    }
  };
  const prov = await struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], RSPEC_V3));
  assert.equal(prov.code.geni_code, 7, prov.output);
  assert.match(prov.output, /sliver vm2 could not be provisioned: .*\(the 1 sliver\(s\) provisioned before it in this call were deleted\)/);
  // vm1's create finishes, then the sweep deletes it through the normal delete action; vm2 is still allocated
  assert.equal(await agentFinishesLast(w, 0), 'create');
  await g.slivers.sweep();
  assert.equal(await agentFinishesLast(w, 1), 'delete');
  await g.slivers.sweep();
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).count(), 0, 'no VM left');
  assert.deepEqual((await sliverRows(w)).map((r) => [r.clientId, r.allocationState]), [['vm2', 'allocated']]);
});

forEachEngine('GENI Delete racing Provision: the allocation provisioned meanwhile is deleted as a provisioned sliver (review #11 finding 4)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  assert.equal((await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm1', server: 'kvm1', image: 'tiny' }]), RSPEC_V3))).code.geni_code, 0);
  const [stale] = await sliverRows(w); // what Delete read: allocated
  assert.equal(stale?.allocationState, 'allocated');
  assert.equal((await struct(g, () => g.am.provision([TEST_SLICE], ['slice-cred'], RSPEC_V3))).code.geni_code, 0);
  await g.slivers.delete([stale!]);
  const [row] = await sliverRows(w);
  assert.equal(row?.allocationState, 'unallocated', 'not left provisioned');
  assert.equal(row?.deleteWanted, true);
  assert.equal(await agentFinishesLast(w, 0), 'create');
  await g.slivers.sweep();
  assert.equal(await agentFinishesLast(w, 1), 'delete');
  await g.slivers.sweep();
  assert.equal((await sliverRows(w)).length, 0);
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).count(), 0);
  // a sliver already gone: nothing to do, no error
  await g.slivers.delete([stale!]);
});

forEachEngine('GENI expiry sweep: slivers being deleted do not starve newer expiries (review #11 finding 6)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  assert.equal((await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'a1', server: 'kvm1', image: 'tiny', ram: 64, cores: 1 }]), RSPEC_V3))).code.geni_code, 0);
  const [a1] = await sliverRows(w);
  // 250 stuck deletes (more than one sweep batch), older (lower ids) than the expired allocation
  const repo = w.tx.dataSource.getRepository(GeniSliver);
  const past = new Date(Date.now() - 3600_000);
  await repo.update({ id: a1!.id }, { expiresAt: past });
  const rows = Array.from({ length: 250 }, (_, i) => repo.create({ ...a1!, id: undefined, sliverUrn: `${a1!.sliverUrn}x${i}`, clientId: `stuck${i}`, allocationState: 'unallocated', deleteWanted: true, expiresAt: past, vmUuid: `5e4e0000-0000-4000-8000-${String(i).padStart(12, '0')}` } as never));
  const saved = await repo.save(rows as never[]);
  // the stuck rows must sort before a1 for the old query to starve it: give a1 the newest id by re-inserting it
  await repo.delete({ id: a1!.id });
  await repo.save(repo.create({ ...a1!, id: undefined, expiresAt: past } as never));
  assert.equal((saved as unknown[]).length, 250);
  const listed = await new GeniSliverRepository(w.tx.manager).listExpired(new Date(), 200);
  assert.deepEqual(listed.map((r) => r.clientId), ['a1']);
  await g.slivers.sweep();
  assert.equal((await sliverRows(w)).some((r) => r.clientId === 'a1'), false, 'the expired allocation is dropped');
});

forEachEngine('GENI Renew of an expired (not yet swept) sliver is EXPIRED (15); of one being deleted REFUSED (review #11 finding 7)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  assert.equal((await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm1', server: 'kvm1', image: 'tiny' }]), RSPEC_V3))).code.geni_code, 0);
  const [row] = await sliverRows(w);
  const soon = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  await w.tx.dataSource.getRepository(GeniSliver).update({ id: row!.id }, { expiresAt: new Date(Date.now() - 1000) });
  const expired = await struct(g, () => g.am.renew([row!.sliverUrn], ['slice-cred'], soon, {}));
  assert.equal(expired.code.geni_code, 15, expired.output);
  assert.match(expired.output, /expired at .*cannot be renewed/);
  await w.tx.dataSource.getRepository(GeniSliver).update({ id: row!.id }, { expiresAt: new Date(Date.now() + 600_000), allocationState: 'unallocated', deleteWanted: true });
  const deleting = await struct(g, () => g.am.renew([row!.sliverUrn], ['slice-cred'], soon, {}));
  assert.equal(deleting.code.geni_code, 7, deleting.output);
  assert.match(deleting.output, /is being deleted/);
  const kept = (await sliverRows(w))[0]!;
  assert.ok(kept.expiresAt.getTime() <= Date.now() + 600_000 + 1000, 'expiry unchanged');
});

forEachEngine('GENI Provision and Renew bind each slice to its own credential and its expiry (review #11 finding 5)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  await addHostWithFacts(w, 'kvm2', KVM2, 32);
  const long = sliceCredential(TEST_SLICE, 24 * 10);
  const short = sliceCredential(OTHER_SLICE, 5);
  g.credentials.byToken.set('both', [long, short]);
  assert.equal((await struct(g, () => g.am.allocate(TEST_SLICE, ['both'], requestRspec([{ clientId: 'm1', server: 'kvm1', image: 'tiny', ram: 128, cores: 1 }]), RSPEC_V3))).code.geni_code, 0);
  assert.equal((await struct(g, () => g.am.allocate(OTHER_SLICE, ['both'], requestRspec([{ clientId: 'o1', server: 'kvm2', image: 'tiny', ram: 128, cores: 1 }]), RSPEC_V3))).code.geni_code, 0);
  const prov = await struct(g, () => g.am.provision([TEST_SLICE, OTHER_SLICE], ['both'], RSPEC_V3));
  assert.equal(prov.code.geni_code, 0, prov.output);
  const rows = new Map((await sliverRows(w)).map((r) => [r.clientId, r]));
  // each slice's slivers expire with its own credential (not the first slice's)
  assert.ok(Math.abs(rows.get('o1')!.expiresAt.getTime() - short.expires.getTime()) < 1000, 'o1 limited by the short credential');
  assert.ok(Math.abs(rows.get('m1')!.expiresAt.getTime() - long.expires.getTime()) < 1000, 'm1 limited by its own (long) credential');
  // Renew past the short credential: EXPIRED for the whole call, nothing changed
  const in2d = new Date(Date.now() + 48 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const r = await struct(g, () => g.am.renew([TEST_SLICE, OTHER_SLICE], ['both'], in2d, {}));
  assert.equal(r.code.geni_code, 15, r.output);
  assert.match(r.output, /credential for urn:publicid:IDN\+ch\.test\+slice\+other/);
  // with geni_extend_alap: each slice up to its own credential
  const alap = await struct(g, () => g.am.renew([TEST_SLICE, OTHER_SLICE], ['both'], in2d, { geni_extend_alap: true }));
  assert.equal(alap.code.geni_code, 0, alap.output);
  const after = new Map((await sliverRows(w)).map((x) => [x.clientId, x]));
  assert.ok(Math.abs(after.get('m1')!.expiresAt.getTime() - Date.parse(in2d)) < 1000, 'm1 renewed to the wanted time');
  assert.ok(Math.abs(after.get('o1')!.expiresAt.getTime() - short.expires.getTime()) < 1000, 'o1 only to its credential');
});

forEachEngine('GENI sliver URNs: another slice\'s sliver answers like an unknown one; an authority credential reaches SEARCHFAILED (review #11 finding 8)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  assert.equal((await struct(g, () => g.am.allocate(TEST_SLICE, ['slice-cred'], requestRspec([{ clientId: 'vm1', server: 'kvm1', image: 'tiny' }]), RSPEC_V3))).code.geni_code, 0);
  const [row] = await sliverRows(w);
  const unknown = row!.sliverUrn.replace(/\+vm1$/, '+nosuch');
  // a slice with the same leaf at another authority: the existing sliver and an unknown one look the same
  g.credentials.byToken.set('same-leaf', [sliceCredential('urn:publicid:IDN+other.auth+slice+myslice')]);
  const existing = await struct(g, () => g.am.describe([row!.sliverUrn], ['same-leaf'], RSPEC_V3));
  const missing = await struct(g, () => g.am.describe([unknown], ['same-leaf'], RSPEC_V3));
  assert.equal(existing.code.geni_code, 12, existing.output);
  assert.equal(missing.code.geni_code, 12, missing.output);
  assert.doesNotMatch(existing.output, /ch\.test/, 'the owning slice is not named');
  // another leaf: FORBIDDEN for both, with the same text shape
  const e2 = await struct(g, () => g.am.describe([row!.sliverUrn], ['other-cred'], RSPEC_V3));
  const m2 = await struct(g, () => g.am.describe([unknown], ['other-cred'], RSPEC_V3));
  assert.equal(e2.code.geni_code, 3);
  assert.equal(m2.code.geni_code, 3);
  assert.equal(e2.output.replace(row!.sliverUrn, 'X'), m2.output.replace(unknown, 'X'));
  // an operator's authority credential: an unknown sliver is SEARCHFAILED (was FORBIDDEN)
  g.credentials.byToken.set('authority', [{ ownerUrn: 'urn:publicid:IDN+ch.test+user+op', targetUrn: 'urn:publicid:IDN+ch.test+authority+sa', targetType: 'authority+sa', expires: new Date(Date.now() + 3600_000), privileges: ['*'] }]);
  assert.equal((await struct(g, () => g.am.describe([unknown], ['authority'], RSPEC_V3))).code.geni_code, 12);
  // the owner still sees its sliver
  assert.equal((await struct(g, () => g.am.describe([row!.sliverUrn], ['slice-cred'], RSPEC_V3))).code.geni_code, 0);
});

forEachEngine('GENI ListResources reuses each server\'s template list for 45 s (review #11 finding 9)', async (t, engine) => {
  const { w, g } = await setUp(t, engine);
  const first = await struct(g, () => g.am.listResources(['slice-cred'], RSPEC_V3));
  assert.equal(first.code.geni_code, 0, first.output);
  assert.match(first.value, /tiny/);
  const calls = w.agent.templateCalls.length;
  assert.ok(calls >= 1);
  const second = await struct(g, () => g.am.listResources(['slice-cred'], RSPEC_V3));
  assert.equal(second.code.geni_code, 0, second.output);
  assert.equal(second.value, first.value);
  assert.equal(w.agent.templateCalls.length, calls, 'no agent call for the second ListResources');
});
