/**
 * VmBackupService (decision record 026) on both engines (`[sqlite]`, `[mysql]`), with the fake agent gateway
 * answering the backup methods from memory: the record a backup carries, a restore's rows (VM, NICs, IP and MAC
 * slots) on another host or, without a host, the original one, the refusals (VM still exists, address in no range of the target, agent refusal: the rows
 * are removed again, the addresses freed).
 */
import assert from 'node:assert/strict';
import { ConflictError, InputError } from '@kvm-crm/shared';
import { addHost, addHostWithFacts, forEachEngine, openWorld, provisionVm, silentLogger, type World } from '../../dist/testing/index.js';
import { VmBackupService, vmRecord } from '../../dist/services/vm-backup-service.js';
import { PlacementService } from '../../dist/services/placement/placement-service.js';
import { Server as ServerRow } from '../../dist/db/entities/server.js';
import { VmRepository } from '../../dist/repositories/vm-repository.js';
import { Ipv4Slot } from '../../dist/db/entities/ipv4-slot.js';
import { MacSlot } from '../../dist/db/entities/mac-slot.js';
import type { Server } from '../../dist/db/entities/server.js';

const H1 = '5e4e0000-0000-4000-8000-000000000001';
const H2 = '5e4e0000-0000-4000-8000-000000000002';
const H3 = '5e4e0000-0000-4000-8000-000000000003';

/** Placement as the manager builds it; memory is not overcommitted, so a 256 MiB VM does not fit a 200 MiB host. */
const placement = () => new PlacementService({ capacity: { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 }, policy: 'spread' });

/** The world's fake gateway, taught the backup methods: one stored backup, restore refused on demand. */
function teach(w: World): { stored: Map<string, Record<string, unknown>>; refuse: { on: boolean }; calls: string[] } {
  const stored = new Map<string, Record<string, unknown>>();
  const refuse = { on: false };
  const calls: string[] = [];
  Object.assign(w.agent, {
    backups: async (server: Server, method: string, params: unknown[]) => {
      calls.push(`${method}@${server.name}`);
      if (method === 'backup_vm') {
        const [uuid, req] = params as [string, { dir: string; record: Record<string, unknown> }];
        stored.set(`${req.dir}/${uuid}/s1`, req.record);
        return { path: `${req.dir}/${uuid}/s1`, vmUuid: uuid, sizeBytes: 1, elapsedMs: 1, removed: [] };
      }
      const record = stored.get(params[0] as string);
      if (method === 'inspect_backup') return { vmUuid: record?.uuid, record };
      if (refuse.on) throw new ConflictError('backup is corrupted: the SHA-256 of disk.qcow2 is 00');
      return { vmUuid: record?.uuid, bytes: 1, elapsedMs: 1, notes: [] };
    },
  });
  return { stored, refuse, calls };
}

forEachEngine('backup records the VM (no callback URL); restore on another host recreates rows and slots; refusals leave nothing', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'kvm1', H1, 1);
  await addHost(w, 'kvm2', H2, 2);
  const { refuse, calls } = teach(w);
  const svc = new VmBackupService(w.tx, w.inventory, w.agent, placement(), silentLogger());
  const a = await provisionVm(w, { serverUuid: H1 });
  const vm = (await new VmRepository(w.tx.manager).findWithInterfaces(a.vmUuid))!;
  const rec = vmRecord(vm, 'kvm1');
  assert.equal(rec.uuid, a.vmUuid);
  assert.equal(rec.callbackUrl, undefined);
  assert.ok(!JSON.stringify(rec).includes('expedient:pw'), 'no callback credentials in the record');

  const b = await svc.backup(a.vmUuid, '/srv/backups');
  assert.equal(b.host, 'kvm1');
  const path = b.path as string;
  await assert.rejects(svc.backup(a.vmUuid, 'relative'), InputError);
  await assert.rejects(svc.restore(path, 'kvm2'), (e: unknown) => e instanceof ConflictError && /still exists on host kvm1/.test(e.message));

  // The VM is deleted (rows and slots), as a delete action does.
  await w.tx.run(async (em) => {
    await new VmRepository(em).deleteWithInterfaces(vm.id);
    await em.delete(Ipv4Slot, { vmUuid: a.vmUuid });
    await em.delete(MacSlot, { vmUuid: a.vmUuid });
  });
  // kvm2 does not subscribe to kvm1's ranges: the addresses lie in none of its ranges (the MAC is reserved first, as
  // a create allocates it first).
  await assert.rejects(svc.restore(path, 'kvm2'), (e: unknown) => e instanceof InputError && /lies in no MAC range of server kvm2/.test(e.message));
  assert.equal(await new VmRepository(w.tx.manager).exists(a.vmUuid), false);
  await w.inventory.subscribe('kvm2', 'mac', 'mac-kvm1');
  await assert.rejects(svc.restore(path, 'kvm2'), (e: unknown) => e instanceof InputError && /lies in no IPv4 range of server kvm2/.test(e.message));
  assert.equal(await new VmRepository(w.tx.manager).exists(a.vmUuid), false);
  assert.equal(await w.tx.manager.countBy(MacSlot, { vmUuid: a.vmUuid }), 0, 'the MAC reserved before the refusal is freed with the rollback');
  await w.inventory.subscribe('kvm2', 'ipv4', 'v4-kvm1');
  refuse.on = true;
  await assert.rejects(svc.restore(path, 'kvm2'), /corrupted/);
  assert.equal(await new VmRepository(w.tx.manager).exists(a.vmUuid), false, 'the rows are removed again');
  assert.equal(await w.tx.manager.countBy(Ipv4Slot, { vmUuid: a.vmUuid }), 0, 'and the addresses freed');
  refuse.on = false;
  const r = await svc.restore(path, 'kvm2');
  assert.equal(r.host, 'kvm2');
  const back = (await new VmRepository(w.tx.manager).findWithInterfaces(a.vmUuid))!;
  assert.equal(back.serverId, (await w.inventory.getServer(w.tx.manager, 'kvm2')).id);
  assert.equal(back.state, 'created (stopped)');
  assert.equal(back.callbackUrl, '');
  assert.deepEqual(back.interfaces.map((i) => [i.mac, i.ip]).sort(), vm.interfaces.map((i) => [i.mac, i.ip]).sort());
  assert.equal(await w.tx.manager.countBy(Ipv4Slot, { vmUuid: a.vmUuid }), 1);
  assert.equal(await w.tx.manager.countBy(MacSlot, { vmUuid: a.vmUuid }), vm.interfaces.length);
  assert.deepEqual(calls.filter((c) => c.startsWith('restore_backup')), ['restore_backup@kvm2', 'restore_backup@kvm2']);

  // Without a host: the original host (kvm1), whose agent can read the backup.
  await w.tx.run(async (em) => {
    await new VmRepository(em).deleteWithInterfaces(back.id);
    await em.delete(Ipv4Slot, { vmUuid: a.vmUuid });
    await em.delete(MacSlot, { vmUuid: a.vmUuid });
  });
  const home = await svc.restore(path);
  assert.equal(home.host, 'kvm1');
  assert.equal((await new VmRepository(w.tx.manager).findByUuid(a.vmUuid))?.serverId, (await w.inventory.getServer(w.tx.manager, 'kvm1')).id);
});

forEachEngine('restore checks the host like a pinned create: a full host and a draining one refuse it, nothing stored', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'kvm1', H1, 1);
  await addHostWithFacts(w, 'kvm3', H3, 3, { memoryTotalMiB: 200 });
  teach(w);
  const svc = new VmBackupService(w.tx, w.inventory, w.agent, placement(), silentLogger());
  const a = await provisionVm(w, { serverUuid: H1 }); // 256 MiB
  const vm = (await new VmRepository(w.tx.manager).findWithInterfaces(a.vmUuid))!;
  const path = (await svc.backup(a.vmUuid, '/srv/backups')).path as string;
  await w.tx.run(async (em) => {
    await new VmRepository(em).deleteWithInterfaces(vm.id);
    await em.delete(Ipv4Slot, { vmUuid: a.vmUuid });
    await em.delete(MacSlot, { vmUuid: a.vmUuid });
  });
  // kvm3 subscribes to kvm1's ranges, so only its capacity can refuse the restore.
  await w.inventory.subscribe('kvm3', 'mac', 'mac-kvm1');
  await w.inventory.subscribe('kvm3', 'ipv4', 'v4-kvm1');
  await assert.rejects(svc.restore(path, 'kvm3'), (e: unknown) => e instanceof ConflictError && /^host kvm3 has 200 MiB free for VMs, 256 MiB asked/.test(e.message));
  assert.equal(await new VmRepository(w.tx.manager).exists(a.vmUuid), false, 'no VM row');
  assert.equal(await w.tx.manager.countBy(MacSlot, { vmUuid: a.vmUuid }), 0, 'no MAC slot');
  assert.equal(await w.tx.manager.countBy(Ipv4Slot, { vmUuid: a.vmUuid }), 0, 'no IPv4 slot');
  // The original host, draining: refused as a create pinned to it would be.
  await w.tx.manager.update(ServerRow, { uuid: H1 }, { draining: true });
  await assert.rejects(svc.restore(path, 'kvm1'), (e: unknown) => e instanceof ConflictError && /server kvm1 is draining/.test(e.message));
  assert.equal(await new VmRepository(w.tx.manager).exists(a.vmUuid), false);
  await w.tx.manager.update(ServerRow, { uuid: H1 }, { draining: false });
  assert.equal((await svc.restore(path, 'kvm1')).host, 'kvm1');
});
