/**
 * What the VMs of each host were promised (decision record 019): a sum over `virtual_machine` (not `failed`; a
 * deleted VM has no row), with each VM's disk taken from its create action's `requestedDiskMb` (hd-size-mb plus data
 * disks), else the VM's `hdSizeMb`, and its vCPUs and memory as the larger of its own and those of its open `modify`;
 * plus the GENI slivers that are allocated but not yet provisioned (decision record 022: an Allocate reserves
 * capacity; Provision flips the sliver to `provisioned` in the transaction that inserts its VM row, so it is never
 * counted twice); plus the VMs on their way to a host by an offline migration that has not ended (decision record
 * 025: reserved on the target from the request, whose transaction checks and locks the target, until the commit moves
 * the VM row there, so a create cannot take the room the migration was promised); and the last placement decisions,
 * for round-robin.
 */
import type { EntityManager } from 'typeorm';
import { ActionRecord } from '../db/entities/action.js';
import { GeniSliver } from '../db/entities/geni-sliver.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';
import { VmMigration } from '../db/entities/vm-migration.js';
import type { Usage } from '../domain/capacity.js';

/** VM states that hold no resources. */
const RELEASED_STATES = ['failed'];

/** Allocation sums and placement history in the transaction (or plain manager) `em`. */
export class AllocationRepository {
  constructor(private readonly em: EntityManager) {}

  /** Usage per server id (servers without VMs are absent), for `serverIds` only when given. */
  async usageByServer(serverIds?: number[]): Promise<Map<number, Usage>> {
    if (serverIds && serverIds.length === 0) return new Map();
    const disk = this.em
      .createQueryBuilder()
      .subQuery()
      .select('a.requestedDiskMb')
      .from(ActionRecord, 'a')
      .where("a.vmUuid = vm.uuid AND a.type = 'create'")
      .orderBy('a.id', 'DESC')
      .limit(1)
      .getQuery();
    // An open modify (QUEUED or ONGOING; a VM has at most one open action) holds the larger of what the VM has and
    // what it asked, so two grows of different VMs queued at once are counted together (decision record 019).
    const pending = (column: 'requestedMemoryMb' | 'requestedVcpus') =>
      this.em
        .createQueryBuilder()
        .subQuery()
        .select(`p.${column}`)
        .from(ActionRecord, 'p')
        .where("p.vmUuid = vm.uuid AND p.type = 'modify' AND p.status IN ('QUEUED', 'ONGOING')")
        .orderBy('p.id', 'DESC')
        .limit(1)
        .getQuery();
    const held = (column: 'requestedMemoryMb' | 'requestedVcpus', own: string) =>
      `CASE WHEN COALESCE(${pending(column)}, 0) > ${own} THEN ${pending(column)} ELSE ${own} END`;
    const q = this.em
      .createQueryBuilder(VirtualMachine, 'vm')
      .select('vm.serverId', 'serverId')
      .addSelect('COUNT(*)', 'vms')
      .addSelect(`SUM(${held('requestedVcpus', 'vm.vcpus')})`, 'vcpus')
      .addSelect(`SUM(${held('requestedMemoryMb', 'vm.memoryMb')})`, 'memoryMiB')
      .addSelect(`SUM(COALESCE(${disk}, vm.hdSizeMb, 0))`, 'diskMiB')
      .where('vm.state NOT IN (:...released)', { released: RELEASED_STATES })
      .groupBy('vm.serverId');
    if (serverIds) q.andWhere('vm.serverId IN (:...serverIds)', { serverIds });
    type Row = { serverId: number | string; vms: number | string; vcpus: number | string; memoryMiB: number | string; diskMiB: number | string | null };
    const rows = await q.getRawMany<Row>();
    // GENI reservations (allocated, not provisioned): counted as VMs of their server until Provision or expiry.
    const r = this.em
      .createQueryBuilder(GeniSliver, 's')
      .select('s.serverId', 'serverId')
      .addSelect('COUNT(*)', 'vms')
      .addSelect('SUM(s.vcpus)', 'vcpus')
      .addSelect('SUM(s.memoryMb)', 'memoryMiB')
      .addSelect('SUM(COALESCE(s.diskGb, 0) * 1024)', 'diskMiB')
      .where("s.allocationState = 'allocated'")
      .groupBy('s.serverId');
    if (serverIds) r.andWhere('s.serverId IN (:...serverIds)', { serverIds });
    // Migrations on their way (not done, not rolled back): the VM counts on its target until its row moves there.
    const m = this.em
      .createQueryBuilder(VmMigration, 'm')
      .innerJoin(VirtualMachine, 'vm', 'vm.uuid = m.vmUuid')
      .select('m.targetServerId', 'serverId')
      .addSelect('COUNT(*)', 'vms')
      .addSelect('SUM(vm.vcpus)', 'vcpus')
      .addSelect('SUM(vm.memoryMb)', 'memoryMiB')
      .addSelect(`SUM(COALESCE(${disk}, vm.hdSizeMb, 0))`, 'diskMiB')
      .where("m.step NOT IN ('done', 'rollback')")
      .andWhere('vm.serverId <> m.targetServerId')
      .andWhere('vm.state NOT IN (:...released)', { released: RELEASED_STATES })
      .groupBy('m.targetServerId');
    if (serverIds) m.andWhere('m.targetServerId IN (:...serverIds)', { serverIds });
    const usage = new Map<number, Usage>();
    for (const row of [...rows, ...(await r.getRawMany<Row>()), ...(await m.getRawMany<Row>())]) {
      const id = Number(row.serverId);
      const u = usage.get(id) ?? { vms: 0, vcpus: 0, memoryMiB: 0, diskMiB: 0 };
      usage.set(id, { vms: u.vms + Number(row.vms), vcpus: u.vcpus + Number(row.vcpus), memoryMiB: u.memoryMiB + Number(row.memoryMiB), diskMiB: u.diskMiB + Number(row.diskMiB ?? 0) });
    }
    return usage;
  }

  /** The placement JSON of the newest create actions that have one, newest first (at most `take`). */
  async recentPlacements(take: number): Promise<string[]> {
    const rows = await this.em
      .createQueryBuilder(ActionRecord, 'a')
      .select(['a.id', 'a.placement'])
      .where('a.placement IS NOT NULL')
      .orderBy('a.id', 'DESC')
      .limit(take)
      .getMany();
    return rows.map((r) => r.placement ?? '');
  }

  /** Records a create's disk asked (MiB) and its placement decision (JSON) on its action row. */
  async recordPlacement(actionId: string, diskMiB: number, placementJson: string): Promise<void> {
    await this.em.update(ActionRecord, { uuid: actionId }, { requestedDiskMb: diskMiB, placement: placementJson });
  }
}
