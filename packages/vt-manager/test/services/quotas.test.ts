/**
 * Issue 9 item 13: per-principal quotas (VMs, vCPUs, memory MiB, IPv4 addresses) in `principal_quota`, checked in
 * the create's and modify's transaction; the default quota of a new clearinghouse principal; none for admins.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { adminQuotaApi } from '../../dist/api/admin-quota-api.js';
import { PrincipalService } from '../../dist/services/principal-service.js';
import { QuotaService } from '../../dist/services/quota-service.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import {
  addHost, CLIENT_CB, createAction, modifyAction, openWorld, provisionVm, query, SERVER_UUID, waitFor, type World,
} from '../../dist/testing/fakes.js';

const DEFAULT = { vms: 50, vcpus: 200, memoryMib: 262_144, addresses: 50 };
const exists = async () => true;

/** The reason `principal`'s create was refused, or undefined when it was stored. */
async function createAs(w: World, principal: string, spec: Parameters<typeof createAction>[0] = {}): Promise<string | undefined> {
  const a = createAction(spec);
  return (await (await w.provisioning.submit(CLIENT_CB, query(a), { principal })).handedOver).get(a.id);
}

forEachEngine('a create past the VM quota is refused with "quota exceeded", naming the limit, the usage and the request', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const quotas = new QuotaService(w.tx, DEFAULT);
  await quotas.set('alice', { vms: 1 }, false, exists);
  await provisionVm(w, { name: 'a1' }, { principal: 'alice' });
  assert.equal(await createAs(w, 'alice', { name: 'a2' }), 'quota exceeded: VMs limit 1, in use 1, requested 1');
  assert.equal(await createAs(w, 'bob', { name: 'b1', projectId: randomUUID() }), undefined, 'another principal is not limited');
  const vms = (await w.tx.dataSource.query('SELECT name FROM virtual_machine ORDER BY name')) as Array<{ name: string }>;
  assert.deepEqual(vms.map((v) => v.name), ['a1', 'b1']);
});

forEachEngine('vCPU, memory and address quotas; a modify that grows past the memory quota is refused', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const quotas = new QuotaService(w.tx, DEFAULT);
  await quotas.set('alice', { vcpus: 3, memoryMib: 600, addresses: 2 }, false, exists);
  const vm = await provisionVm(w, { name: 'a1', vcpus: 2, memoryMb: 256 }, { principal: 'alice' });
  assert.equal(await createAs(w, 'alice', { name: 'a2', vcpus: 2 }), 'quota exceeded: vCPUs limit 3, in use 2, requested 2');
  assert.equal(await createAs(w, 'alice', { name: 'a2', memoryMb: 512 }), 'quota exceeded: memory limit 600 MiB, in use 256 MiB, requested 512 MiB');
  const grow = modifyAction(vm.vmUuid, { memoryMb: 1024 });
  assert.equal((await (await w.provisioning.submit(CLIENT_CB, query(grow), { principal: 'alice' })).handedOver).get(grow.id), 'quota exceeded: memory limit 600 MiB, in use 256 MiB, requested 768 MiB');
  assert.equal(await createAs(w, 'alice', { name: 'a2', memoryMb: 128 }), undefined);
  await waitFor('the create to reach the agent', () => w.agent.sent.length >= 2);
  // a1 (2 vCPUs) + a2 (1, the default): 3 of 3.
  assert.equal(await createAs(w, 'alice', { name: 'a3', vcpus: 1, memoryMb: 64 }), 'quota exceeded: vCPUs limit 3, in use 3, requested 1');
  await quotas.set('alice', { vcpus: 10 }, false, exists);
  assert.equal(await createAs(w, 'alice', { name: 'a3', vcpus: 1, memoryMb: 64 }), 'quota exceeded: IPv4 addresses limit 2, in use 2, requested 1');
});

forEachEngine('concurrent creates cannot both pass the quota', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  await new QuotaService(w.tx, DEFAULT).set('alice', { vms: 2 }, false, exists);
  const reasons = await Promise.all(Array.from({ length: 6 }, (_, i) => createAs(w, 'alice', { name: `c${i}` })));
  assert.equal(reasons.filter((r) => r === undefined).length, 2, JSON.stringify(reasons));
  assert.ok(reasons.filter((r) => r !== undefined).every((r) => r?.startsWith('quota exceeded: VMs limit 2, in use 2')), JSON.stringify(reasons));
  assert.equal(Number(((await w.tx.dataSource.query('SELECT COUNT(*) AS n FROM virtual_machine')) as Array<{ n: number | string }>)[0]?.n), 2);
});

forEachEngine('a new clearinghouse principal gets the default quota, an admin none; set-quota and --none through the admin API', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const quotas = new QuotaService(w.tx, DEFAULT);
  const principals = new PrincipalService(w.tx, [{ name: 'boot', passwordScrypt: null, roles: ['clearinghouse'] }], (em, n, r) => quotas.applyDefault(em, n, r));
  await principals.add({ name: 'ch1', roles: ['clearinghouse'] });
  await principals.add({ name: 'adm', roles: ['admin'] });
  const api = adminQuotaApi({ principals, quotas });
  const ctx = {} as Parameters<NonNullable<(typeof api)['user.list']>>[1];
  const list = async () => Object.fromEntries(((await api['user.list']!([], ctx)) as Array<{ name: string; quota: unknown }>).map((u) => [u.name, u.quota]));
  assert.deepEqual(await list(), { adm: 'none', boot: 'none', ch1: DEFAULT });
  assert.deepEqual(await api['user.setQuota']!([{ name: 'ch1', vms: 3 }], ctx), { name: 'ch1', quota: { ...DEFAULT, vms: 3 } });
  assert.deepEqual(await api['user.setQuota']!([{ name: 'boot', vcpus: 8 }], ctx), { name: 'boot', quota: { vms: 'unlimited', vcpus: 8, memoryMib: 'unlimited', addresses: 'unlimited' } });
  assert.deepEqual(await api['user.setQuota']!([{ name: 'ch1', none: true }], ctx), { name: 'ch1', quota: 'none' });
  await assert.rejects(async () => api['user.setQuota']!([{ name: 'ch1', vms: -1 }], ctx), /vms must be a whole number from 0 to 2147483647/);
  await assert.rejects(async () => api['user.setQuota']!([{ name: 'ghost', vms: 1 }], ctx), /no user "ghost"/);
  const shown = (await api['user.show']!([{ name: 'boot' }], ctx)) as { quota: unknown; usage: unknown };
  assert.deepEqual(shown.usage, { vms: 0, vcpus: 0, memoryMib: 0, addresses: 0 });
  assert.deepEqual(await list(), { adm: 'none', boot: { vms: 'unlimited', vcpus: 8, memoryMib: 'unlimited', addresses: 'unlimited' }, ch1: 'none' });
});
