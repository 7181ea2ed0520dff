/**
 * Named backup targets (BackupTargetService and their use by VmBackupService, decision record 026 §3) on both
 * engines (`[sqlite]`, `[mysql]`), with the world's fake agent gateway answering the backup methods from memory:
 * name and path validation, unique names, a host-pinned target vs. one on every host, `--target` resolved to the
 * folder the agent is asked to write to (or list), a pinned target refused for a VM on another host, the agent's
 * refusal (folder outside its backup roots) passed on, remove forgetting only the name, removing the host
 * removing the targets pinned to it.
 */
import assert from 'node:assert/strict';
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared';
import { addHost, forEachEngine, openWorld, provisionVm, silentLogger } from '../../dist/testing/index.js';
import { VmBackupService } from '../../dist/services/vm-backup-service.js';
import { PlacementService } from '../../dist/services/placement/placement-service.js';
import { normaliseTargetPath } from '../../dist/services/backup-target-service.js';
import { InventoryChangesService } from '../../dist/services/inventory-changes-service.js';
import { VmRepository } from '../../dist/repositories/vm-repository.js';
import { BackupTarget } from '../../dist/db/entities/backup-target.js';
import type { Server } from '../../dist/db/entities/server.js';

const H1 = '5e4e0000-0000-4000-8000-0000000000a1';
const H2 = '5e4e0000-0000-4000-8000-0000000000a2';

forEachEngine('backup targets: validation, unique names, pinned or on every host, resolved for backup and list, remove forgets only the name', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'kvm1', H1, 1);
  await addHost(w, 'kvm2', H2, 2);
  const calls: Array<{ host: string; method: string; params: unknown[] }> = [];
  Object.assign(w.agent, {
    backups: async (server: Server, method: string, params: unknown[]) => {
      calls.push({ host: server.name, method, params });
      if (method === 'backup_vm') {
        const [uuid, req] = params as [string, { dir: string }];
        if (!req.dir.startsWith('/srv/')) throw new ConflictError(`backup directory ${req.dir} is not under a backup root of this agent (/srv)`);
        return { path: `${req.dir}/${uuid}/s1`, vmUuid: uuid, sizeBytes: 1, elapsedMs: 1, removed: [] };
      }
      if (method === 'list_backups') return [];
      throw new Error(`unexpected ${method}`);
    },
  });
  const svc = new VmBackupService(w.tx, w.inventory, w.agent, new PlacementService({ capacity: { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 }, policy: 'spread' }), silentLogger());
  const targets = svc.targets;

  // Validation: names and paths, before anything is stored.
  await assert.rejects(targets.add('-bad', '/srv/b'), InputError);
  await assert.rejects(targets.add('a/b', '/srv/b'), InputError);
  await assert.rejects(targets.add('x'.repeat(65), '/srv/b'), InputError);
  await assert.rejects(targets.add('rel', 'srv/b'), (e: unknown) => e instanceof InputError && /must be absolute/.test(e.message));
  await assert.rejects(targets.add('dots', '/srv/../etc'), (e: unknown) => e instanceof InputError && /'\.\.'/.test(e.message));
  await assert.rejects(targets.add('root', '//'), InputError);
  await assert.rejects(targets.add('ctl', '/srv/a\nb'), InputError);
  await assert.rejects(targets.add('nohost', '/srv/b', 'kvm9'), NotFoundError);
  assert.equal(await w.tx.manager.count(BackupTarget), 0, 'nothing stored by a refused add');
  assert.equal(normaliseTargetPath('/srv//nfs/backups/'), '/srv/nfs/backups');

  const shared = await targets.add('nfs', '/srv//nfs/backups/');
  assert.deepEqual([shared.name, shared.path, shared.host], ['nfs', '/srv/nfs/backups', null]);
  const local = await targets.add('local1', '/srv/local', 'kvm1');
  assert.equal(local.host, 'kvm1');
  await targets.add('outside', '/var/tmp/elsewhere');
  await assert.rejects(targets.add('nfs', '/srv/other'), (e: unknown) => e instanceof ConflictError && /exists already/.test(e.message));
  assert.deepEqual((await targets.list()).map((x) => [x.name, x.path, x.host]), [['local1', '/srv/local', 'kvm1'], ['nfs', '/srv/nfs/backups', null], ['outside', '/var/tmp/elsewhere', null]]);

  // vm backup --target: the target's folder reaches the agent of the VM's host.
  const a = await provisionVm(w, { serverUuid: H1 });
  const b = await svc.backup(a.vmUuid, { target: 'nfs' }, 2);
  assert.equal(b.target, 'nfs');
  assert.equal(b.host, 'kvm1');
  const sent = calls.at(-1)!;
  assert.equal(sent.method, 'backup_vm');
  assert.equal((sent.params[1] as { dir: string; keep: number }).dir, '/srv/nfs/backups');
  assert.equal((sent.params[1] as { dir: string; keep: number }).keep, 2);
  assert.equal((await svc.backup(a.vmUuid, { target: 'local1' })).path, `/srv/local/${a.vmUuid}/s1`);
  await assert.rejects(svc.backup(a.vmUuid, { target: 'nope' }), NotFoundError);
  // The agent's refusal (folder outside its roots) passes on with its reason.
  await assert.rejects(svc.backup(a.vmUuid, { target: 'outside' }), /not under a backup root of this agent/);
  // A target pinned to kvm1 is refused for a VM on kvm2, before the agent is asked.
  const b2 = await provisionVm(w, { serverUuid: H2 });
  const before = calls.length;
  await assert.rejects(svc.backup(b2.vmUuid, { target: 'local1' }), (e: unknown) => e instanceof ConflictError && /on host kvm1 only, not on kvm2/.test(e.message));
  assert.equal(calls.length, before, 'the agent was not asked');

  // backup list --target: a shared target asks every host for its folder, a pinned one only its host.
  calls.length = 0;
  await svc.list({ target: 'nfs' });
  assert.deepEqual(calls.map((c) => [c.host, (c.params[0] as { dir?: string }).dir]).sort(), [['kvm1', '/srv/nfs/backups'], ['kvm2', '/srv/nfs/backups']]);
  calls.length = 0;
  await svc.list({ target: 'local1' });
  assert.deepEqual(calls.map((c) => [c.host, (c.params[0] as { dir?: string }).dir]), [['kvm1', '/srv/local']]);
  await assert.rejects(svc.list({ target: 'local1', host: 'kvm2' }), ConflictError);
  await assert.rejects(svc.list({ target: 'local1', dir: '/srv' }), InputError);

  // remove forgets only the name; a second remove finds nothing.
  const gone = await targets.remove('nfs');
  assert.equal(gone.path, '/srv/nfs/backups');
  await assert.rejects(targets.remove('nfs'), NotFoundError);
  await assert.rejects(svc.backup(a.vmUuid, { target: 'nfs' }), NotFoundError);
  assert.deepEqual((await targets.list()).map((x) => x.name), ['local1', 'outside']);

  // Removing host kvm2 (its VM deleted first) removes the target pinned to it (ON DELETE CASCADE), no other.
  await targets.add('local2', '/srv/local', 'kvm2');
  await w.tx.run(async (em) => {
    const vm = await new VmRepository(em).findByUuid(b2.vmUuid);
    await new VmRepository(em).deleteWithInterfaces(vm!.id);
  });
  await new InventoryChangesService(w.tx).removeServer('kvm2');
  assert.deepEqual((await targets.list()).map((x) => x.name), ['local1', 'outside'], 'the target pinned to the removed host is gone');
});
