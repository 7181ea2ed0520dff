/**
 * The `vm_migration` table and the few `action`/VM updates an offline migration makes (decision record 025). The
 * lease operations are conditional UPDATEs, like those of repositories/actions/: of several managers one wins.
 */
import { LessThan, type EntityManager } from 'typeorm';
import { ActionRecord } from '../db/entities/action.js';
import { GeniSliver } from '../db/entities/geni-sliver.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';
import { VmInterface } from '../db/entities/vm-interface.js';
import { VmMigration, type MigrationStep } from '../db/entities/vm-migration.js';

/** Migrations and their actions in the transaction (or plain manager) `em`. */
export class VmMigrationRepository {
  constructor(private readonly em: EntityManager) {}

  async insert(row: Pick<VmMigration, 'actionUuid' | 'vmUuid' | 'sourceServerId' | 'targetServerId' | 'flatten' | 'stopActionUuid'>): Promise<void> {
    await this.em.insert(VmMigration, { ...row, step: 'export', ticketId: '', totalBytes: 0, copiedBytes: 0, copyStartedAt: null, copyEndedAt: null });
  }

  findByAction(actionUuid: string): Promise<VmMigration | null> {
    return this.em.findOneBy(VmMigration, { actionUuid });
  }

  /** Records progress: any of step, ticket, byte counts, copy times. */
  async update(actionUuid: string, change: Partial<Pick<VmMigration, 'step' | 'ticketId' | 'totalBytes' | 'copiedBytes' | 'copyStartedAt' | 'copyEndedAt'>>): Promise<void> {
    await this.em.update(VmMigration, { actionUuid }, change);
  }

  /**
   * `UPDATE action SET leaseExpiresAt = :until WHERE uuid = :id AND status = 'ONGOING' AND leaseOwner = :owner`:
   * the runner keeps its lease while it works. Returns false when the action is no longer ours (or ended).
   */
  async renewLease(actionUuid: string, owner: string, until: Date): Promise<boolean> {
    const r = await this.em.update(ActionRecord, { uuid: actionUuid, status: 'ONGOING', leaseOwner: owner }, { leaseExpiresAt: until });
    return !!r.affected;
  }

  /** The ONGOING `migrate` actions whose lease expired before `now` (their manager died). */
  findStale(now: Date): Promise<ActionRecord[]> {
    return this.em.find(ActionRecord, { where: { type: 'migrate', status: 'ONGOING', leaseExpiresAt: LessThan(now) }, order: { id: 'ASC' } });
  }

  /**
   * `UPDATE action SET leaseOwner = :owner, leaseExpiresAt = :until WHERE uuid = :id AND status = 'ONGOING' AND
   * leaseExpiresAt < :now`: takes over a stale migrate action; true for the one manager that won.
   */
  async takeOver(actionUuid: string, owner: string, now: Date, until: Date): Promise<boolean> {
    const r = await this.em.update(ActionRecord, { uuid: actionUuid, status: 'ONGOING', leaseExpiresAt: LessThan(now) }, { leaseOwner: owner, leaseExpiresAt: until });
    return !!r.affected;
  }

  /**
   * The commit of a migration: the VM now lives on `serverId`, its NICs on the bridges `bridgeMap` names, and a GENI
   * sliver provisioned as this VM names the new node (its sliver URN, an identifier, stays as it was).
   */
  async moveVm(vmUuid: string, serverId: number, bridgeMap: Record<string, string>): Promise<void> {
    const vm = await this.em.findOne(VirtualMachine, { where: { uuid: vmUuid }, relations: { interfaces: true } });
    if (!vm) throw new Error(`VM ${vmUuid} vanished during its migration`);
    await this.em.update(VirtualMachine, { id: vm.id }, { serverId });
    await this.em.update(GeniSliver, { vmUuid }, { serverId });
    for (const nic of vm.interfaces) {
      const to = bridgeMap[nic.bridge];
      if (to && to !== nic.bridge) await this.em.update(VmInterface, { id: nic.id }, { bridge: to });
    }
  }

  /** Sets the step of the migration of `actionUuid`. */
  setStep(actionUuid: string, step: MigrationStep): Promise<void> {
    return this.update(actionUuid, { step });
  }
}
