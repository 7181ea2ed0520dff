/**
 * The `action` table: provisioning actions and their leases (docs/architecture.md decision 6). Every named lease and
 * status operation sits in its own file under `actions/`, with the exact condition it updates under.
 */
import { In, type EntityManager } from 'typeorm';
import { ActionRecord, type ActionState } from '../db/entities/action.js';
import { claimForHandOver } from './actions/claim-for-hand-over.js';
import { findExpiredLeases } from './actions/find-expired-leases.js';
import { findOverdue } from './actions/find-overdue.js';
import { finishOnce } from './actions/finish-once.js';
import { holdLeaseUntilDeadline } from './actions/hold-lease-until-deadline.js';
import { openStatus } from './actions/open-states.js';
import { resetForRetry } from './actions/reset-for-retry.js';
import { startProgress } from './actions/start-progress.js';
import { takeOverExpiredLease } from './actions/take-over-expired-lease.js';

/** A new action as stored (QUEUED, under its manager's lease). Times are absolute. */
export interface NewAction {
  uuid: string;
  type: string;
  vmUuid: string;
  callbackUrl: string;
  /** modify: the memory (MiB) and vCPUs asked for; null otherwise. */
  requestedMemoryMb: number | null;
  requestedVcpus: number | null;
  deadline: Date;
  leaseOwner: string;
  leaseExpiresAt: Date;
}

/** Filter of {@link ActionRepository.list}; absent fields do not filter. */
export interface ActionFilter {
  status?: ActionState;
  vmUuid?: string;
  type?: string;
}

/** Actions in the transaction (or plain manager) `em`. */
export class ActionRepository {
  constructor(private readonly em: EntityManager) {}

  /** The action with this id (the requester's action id), or null. */
  findByUuid(uuid: string): Promise<ActionRecord | null> {
    return this.em.findOneBy(ActionRecord, { uuid });
  }

  /** @throws EntityNotFoundError (typeorm) when there is no such action. */
  getByUuid(uuid: string): Promise<ActionRecord> {
    return this.em.findOneByOrFail(ActionRecord, { uuid });
  }

  /** Whether an action id is taken. */
  exists(uuid: string): Promise<boolean> {
    return this.em.existsBy(ActionRecord, { uuid });
  }

  /** The actions with these ids (unknown ids are left out), in no particular order. */
  findByUuids(uuids: string[]): Promise<ActionRecord[]> {
    return this.em.findBy(ActionRecord, { uuid: In(uuids) });
  }

  /** The VM-busy query: an open (QUEUED/ONGOING) action about the VM, or null when the VM is free. */
  openActionOfVm(vmUuid: string): Promise<ActionRecord | null> {
    return this.em.findOne(ActionRecord, { where: this.openOfVm(vmUuid) });
  }

  /** Whether an open (QUEUED/ONGOING) action is about the VM (see {@link openActionOfVm}). */
  isVmBusy(vmUuid: string): Promise<boolean> {
    return this.em.existsBy(ActionRecord, this.openOfVm(vmUuid));
  }

  /** The uuids of the VMs that an open action is about. */
  async busyVmUuids(): Promise<Set<string>> {
    return new Set((await this.em.find(ActionRecord, { where: { status: openStatus() } })).map((a) => a.vmUuid));
  }

  /** Stores a new QUEUED action with no send attempt yet. */
  async insertQueued(a: NewAction): Promise<void> {
    // updateEntity(false): typeorm would read the new row back on SQLite (id, dates) for nobody.
    await this.em.createQueryBuilder().insert().into(ActionRecord).values({ ...a, status: 'QUEUED', description: '', sendAttempts: 0 }).updateEntity(false).execute();
  }

  /** `action.list`: actions matching `filter`, newest first, at most `take`. */
  list(filter: ActionFilter, take: number): Promise<ActionRecord[]> {
    const where = { ...(filter.status ? { status: filter.status } : {}), ...(filter.vmUuid ? { vmUuid: filter.vmUuid } : {}), ...(filter.type ? { type: filter.type } : {}) };
    return this.em.find(ActionRecord, { where, order: { id: 'DESC' }, take });
  }

  /** See actions/claim-for-hand-over.ts. */
  claimForHandOver(actionId: string, owner: string, now: Date, leaseSeconds: number, firstAttempt = false): Promise<boolean> {
    return claimForHandOver(this.em, actionId, owner, now, leaseSeconds, firstAttempt);
  }

  /** See actions/hold-lease-until-deadline.ts. */
  holdLeaseUntilDeadline(actionId: string, owner: string): Promise<void> {
    return holdLeaseUntilDeadline(this.em, actionId, owner);
  }

  /** See actions/find-expired-leases.ts. */
  findExpiredLeases(now: Date): Promise<ActionRecord[]> {
    return findExpiredLeases(this.em, now);
  }

  /** See actions/take-over-expired-lease.ts. */
  takeOverExpiredLease(actionId: string, owner: string, now: Date, until: 'deadline' | { leaseSeconds: number }): Promise<boolean> {
    return takeOverExpiredLease(this.em, actionId, owner, now, until);
  }

  /** See actions/reset-for-retry.ts. */
  resetForRetry(actionId: string, status: ActionState, owner: string, now: number, times: { leaseSeconds: number; timeoutSeconds: number }): Promise<boolean> {
    return resetForRetry(this.em, actionId, status, owner, now, times);
  }

  /** See actions/find-overdue.ts. */
  findOverdue(now: Date): Promise<ActionRecord[]> {
    return findOverdue(this.em, now);
  }

  /** See actions/start-progress.ts. */
  startProgress(actionId: string, description: string): Promise<boolean> {
    return startProgress(this.em, actionId, description);
  }

  /** See actions/finish-once.ts. */
  finishOnce(actionId: string, status: 'SUCCESS' | 'FAILED', description: string): Promise<boolean> {
    return finishOnce(this.em, actionId, status, description);
  }

  private openOfVm(vmUuid: string) {
    return { vmUuid, status: openStatus() };
  }
}
