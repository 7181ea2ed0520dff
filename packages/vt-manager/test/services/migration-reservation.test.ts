/**
 * An offline migration reserves its VM's size on the target (decision record 025, usage of decision 019): from the
 * request until the commit moves the VM row, the target's usage counts the VM, so a create pinned to the target
 * cannot take the room the migration was promised; after the commit (and after a rollback) it is counted once, on
 * the host that has the row. Both engines, real database, placement as the manager runs it.
 */
import assert from 'node:assert/strict';
import { ConflictError } from '@kvm-crm/shared';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import { VmMigration } from '../../dist/db/entities/vm-migration.js';
import { AllocationRepository } from '../../dist/repositories/allocation-repository.js';
import { PlacementService } from '../../dist/services/placement/placement-service.js';
import { addHostWithFacts } from '../../dist/testing/capacity-fakes.js';
import { openWorld, provisionVm } from '../../dist/testing/fakes.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';

const KVM1 = '5e4e0000-0000-4000-8000-000000000001';
const KVM2 = '5e4e0000-0000-4000-8000-000000000002';

forEachEngine('a migration on its way holds its VM on the target: a create cannot take that room; counted once after commit or rollback', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const kvm1 = await addHostWithFacts(w, 'kvm1', KVM1, 1, { memoryTotalMiB: 8192 });
  const kvm2 = await addHostWithFacts(w, 'kvm2', KVM2, 2, { memoryTotalMiB: 1024 });
  const a = await provisionVm(w, { name: 'vm1', memoryMb: 512, serverUuid: KVM1 });
  const placement = new PlacementService({ capacity: { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 }, policy: 'spread' });
  const memoryOn = async (id: number) => (await new AllocationRepository(w.tx.manager).usageByServer([id])).get(id)?.memoryMiB ?? 0;
  const createOnKvm2 = (memoryMiB: number) => w.tx.run((em) => placement.place(em, KVM2, { vcpus: 1, memoryMiB, diskMiB: 0 }));

  await w.tx.dataSource.getRepository(VmMigration).insert({ actionUuid: 'mig-1', vmUuid: a.vmUuid, sourceServerId: kvm1.id, targetServerId: kvm2.id, step: 'copy' });
  assert.equal(await memoryOn(kvm2.id), 512, 'reserved on the target while copying');
  assert.equal(await memoryOn(kvm1.id), 512, 'and still counted on the source, which has the row');
  await assert.rejects(createOnKvm2(768), (e: unknown) => e instanceof ConflictError && /^host kvm2 has 512 MiB free for VMs, 768 MiB asked/.test(e.message));
  assert.equal((await createOnKvm2(512)).server.name, 'kvm2', 'what is left still fits');

  // The commit moves the row: counted once, on the target.
  await w.tx.dataSource.getRepository(VirtualMachine).update({ uuid: a.vmUuid }, { serverId: kvm2.id });
  await w.tx.dataSource.getRepository(VmMigration).update({ actionUuid: 'mig-1' }, { step: 'release' });
  assert.equal(await memoryOn(kvm2.id), 512);
  assert.equal(await memoryOn(kvm1.id), 0);

  // A rolled-back migration reserves nothing.
  await w.tx.dataSource.getRepository(VirtualMachine).update({ uuid: a.vmUuid }, { serverId: kvm1.id });
  await w.tx.dataSource.getRepository(VmMigration).update({ actionUuid: 'mig-1' }, { step: 'rollback' });
  assert.equal(await memoryOn(kvm2.id), 0);
  assert.equal(await memoryOn(kvm1.id), 512);
});
