/**
 * A `modify` that grows a VM is checked against its host's capacity like a create (decision record 019): the pure
 * growth rule, then through the real ProvisioningService with a fake agent gateway on both engines (`[sqlite]`,
 * `[mysql]`): a grow that does not fit is refused before anything changes (no action row, the VM as it was, one
 * FAILED with the capacity reason, the growth as the amount asked), a shrink or an unchanged size always passes, an
 * open grow holds its asked size until it ends, and concurrent grows that together overbook the host never both pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { Server } from '../../dist/db/entities/server.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { growthAsked } from '../../dist/domain/capacity.js';
import { CapacityService } from '../../dist/services/capacity-service.js';
import { addHostWithFacts } from '../../dist/testing/capacity-fakes.js';
import { agentStatus, CLIENT_CB, modifyAction, openWorld, provisionVm, query, SERVER_UUID, waitFor, type World } from '../../dist/testing/fakes.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';

const RATIOS = { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 };

/** Submits a modify of `vmUuid`; resolves with its id and its refusal reason (undefined: handed over to the agent). */
async function modify(w: World, vmUuid: string, requested: { memoryMb?: number; vcpus?: number }): Promise<{ id: string; refused: string | undefined }> {
  const a = modifyAction(vmUuid, requested);
  return { id: a.id, refused: (await (await w.provisioning.submit(CLIENT_CB, query(a))).handedOver).get(a.id) };
}

/** A host `kvm1` (SERVER_UUID) of 2 CPUs (8 vCPUs at 4.0) and `memoryTotalMiB`, with VMs of these memory sizes (MiB). */
async function hostWithVms(w: World, memoryTotalMiB: number, vmsMiB: number[]): Promise<string[]> {
  await addHostWithFacts(w, 'kvm1', SERVER_UUID, 30, { memoryTotalMiB });
  const uuids: string[] = [];
  for (const [i, memoryMb] of vmsMiB.entries()) uuids.push((await provisionVm(w, { name: `vm${i}`, memoryMb, serverUuid: SERVER_UUID })).vmUuid);
  return uuids;
}

const vmRow = (w: World, uuid: string) => w.tx.dataSource.getRepository(VirtualMachine).findOneByOrFail({ uuid });

test('growth: what a modify adds (never below 0, absent fields unchanged, no disk)', () => {
  const has = { vcpus: 2, memoryMb: 512 };
  assert.deepEqual(growthAsked(has, { memoryMb: 2048 }), { vcpus: 0, memoryMiB: 1536, diskMiB: 0 });
  assert.deepEqual(growthAsked(has, { vcpus: 6, memoryMb: 256 }), { vcpus: 4, memoryMiB: 0, diskMiB: 0 });
  assert.deepEqual(growthAsked(has, { vcpus: 2, memoryMb: 512 }), { vcpus: 0, memoryMiB: 0, diskMiB: 0 });
  assert.deepEqual(growthAsked(has, {}), { vcpus: 0, memoryMiB: 0, diskMiB: 0 });
});

forEachEngine('modify: a grow that does not fit its host fails at once with the capacity reason (the growth asked); nothing changes', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const [a, b] = await hostWithVms(w, 1024, [512, 256]);
  assert.ok(a && b);
  const mem = await modify(w, a, { memoryMb: 1024 });
  assert.equal(mem.refused, 'host kvm1 has 256 MiB free for VMs, 512 MiB asked');
  const cpu = await modify(w, b, { vcpus: 9 });
  assert.equal(cpu.refused, 'host kvm1 has 6 vCPUs free for VMs, 8 asked');
  const ds = w.tx.dataSource;
  assert.equal(await ds.getRepository(ActionRecord).countBy({ type: 'modify' }), 0, 'no modify action stored');
  assert.deepEqual([(await vmRow(w, a)).memoryMb, (await vmRow(w, b)).vcpus], [512, 1], 'the VMs as they were');
  assert.equal(w.agent.sent.filter((s) => s.xml.includes('<type>modify</type>')).length, 0, 'nothing reached the agent');
  await waitFor('the two FAILED statuses', () => w.notifier.statuses().filter((s) => s.status === 'FAILED').length === 2);
  assert.deepEqual(w.notifier.statuses().filter((s) => s.status === 'FAILED').map((s) => s.description), [mem.refused, cpu.refused]);
  // What fits passes, and the VM then holds its new size.
  const fits = await modify(w, a, { memoryMb: 768, vcpus: 7 });
  assert.equal(fits.refused, undefined);
  await w.provisioning.handleAgentStatus(agentStatus(fits.id, 'SUCCESS'));
  assert.deepEqual([(await vmRow(w, a)).memoryMb, (await vmRow(w, a)).vcpus], [768, 7]);
  const report = (await new CapacityService(RATIOS).report(w.tx.manager))[0];
  assert.deepEqual([report?.memoryMiB.used, report?.memoryMiB.available, report?.cpus.used], [1024, 0, 8]);
});

forEachEngine('modify: a shrink or an unchanged size passes even on a host that is over its capacity', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const [a] = await hostWithVms(w, 1024, [768, 256]);
  assert.ok(a);
  // The host reports less memory than before: its VMs are now over its capacity.
  await w.tx.dataSource.getRepository(Server).update({ uuid: SERVER_UUID }, { memoryTotalMiB: 512 });
  assert.match((await modify(w, a, { memoryMb: 800 })).refused ?? '', /^host kvm1 has 0 MiB free for VMs, 32 MiB asked$/);
  const same = await modify(w, a, { memoryMb: 768, vcpus: 1 });
  assert.equal(same.refused, undefined, 'unchanged');
  await w.provisioning.handleAgentStatus(agentStatus(same.id, 'SUCCESS'));
  const shrink = await modify(w, a, { memoryMb: 128 });
  assert.equal(shrink.refused, undefined, 'shrink');
  await w.provisioning.handleAgentStatus(agentStatus(shrink.id, 'SUCCESS'));
  assert.equal((await vmRow(w, a)).memoryMb, 128);
});

forEachEngine('modify: an open grow holds its asked size until it ends; a FAILED grow gives it back', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const [a, b] = await hostWithVms(w, 1024, [256, 256]);
  assert.ok(a && b);
  const first = await modify(w, a, { memoryMb: 768 });
  assert.equal(first.refused, undefined);
  // a has 256 MiB until its modify succeeds, but holds 768 while it is open: 1024 − 768 − 256 = 0 free.
  assert.equal((await modify(w, b, { memoryMb: 512 })).refused, 'host kvm1 has 0 MiB free for VMs, 256 MiB asked');
  await w.provisioning.handleAgentStatus(agentStatus(first.id, 'FAILED', 'balloon refused'));
  assert.equal((await vmRow(w, a)).memoryMb, 256);
  assert.equal((await modify(w, b, { memoryMb: 512 })).refused, undefined, 'the failed grow holds nothing');
});

forEachEngine('modify: concurrent grows that together overbook the host never both pass', async (t, engine) => {
  const w = await openWorld(t, { engine });
  // 1024 MiB; four VMs of 128 MiB: 512 free. Four grows of +256 at once: exactly two fit.
  const vms = await hostWithVms(w, 1024, [128, 128, 128, 128]);
  const results = await Promise.all(vms.map((uuid) => modify(w, uuid, { memoryMb: 384 })));
  const passed = results.filter((r) => r.refused === undefined);
  assert.equal(passed.length, 2, JSON.stringify(results));
  for (const r of results.filter((x) => x.refused !== undefined)) assert.equal(r.refused, 'host kvm1 has 0 MiB free for VMs, 256 MiB asked');
  for (const r of passed) await w.provisioning.handleAgentStatus(agentStatus(r.id, 'SUCCESS'));
  const report = (await new CapacityService(RATIOS).report(w.tx.manager))[0];
  assert.deepEqual([report?.memoryMiB.used, report?.memoryMiB.total], [1024, 1024], 'full, not over');
}, { timeout: 60_000 });
