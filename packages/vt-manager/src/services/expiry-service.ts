/**
 * VM and slice expiry (`vm.setExpiry`, `slice.setExpiry`, docs/ocf-behaviour.md §7): the sweep deletes expired VMs with
 * normal delete actions (system principal, statuses to each VM's callback), claimed by conditional UPDATEs so that
 * of several managers only one issues each delete.
 */
import { randomUUID } from 'node:crypto';
import { ACTION_ID_PATTERN, assertPattern, NotFoundError, type Logger } from '@kvm-crm/shared';
import type { SliceExpiry } from '../db/entities/slice-expiry.js';
import type { VirtualMachine } from '../db/entities/virtual-machine.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { ValidatedAction } from '../domain/action-validation.js';
import { ActionRepository } from '../repositories/action-repository.js';
import { SliceExpiryRepository } from '../repositories/slice-expiry-repository.js';
import { VmRepository } from '../repositories/vm-repository.js';
import type { ActionIntake } from './provisioning/action-intake.js';

/** After an expiry delete was issued, when the sweep tries again if the VM is still there (the delete failed), in ms. */
const EXPIRY_RETRY_MS = 3600 * 1000;
/** When the sweep looks at a slice again when one of its VMs was busy, in ms. */
const BUSY_RETRY_MS = 60_000;
/** Most VMs (or slices) one sweep looks at. */
const SWEEP_BATCH = 100;

/** Sets expiries and deletes what expired. */
export class ExpiryService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly intake: ActionIntake,
    private readonly log: Logger,
  ) {}

  /**
   * `vm.setExpiry`: when the manager deletes the VM (null: never).
   * @throws NotFoundError for an unknown VM.
   */
  async setExpiry(vmUuid: string, expiresAt: Date | null): Promise<void> {
    const found = await this.tx.run((em) => new VmRepository(em).setExpiry(vmUuid.toLowerCase(), expiresAt));
    if (!found) throw new NotFoundError(`no VM with uuid ${vmUuid}`);
  }

  /**
   * Expiry sweep: issues a delete action for every VM whose `expiresAt` passed and that no action is busy with. A
   * conditional UPDATE moves the expiry forward by {@link EXPIRY_RETRY_MS} first, so of several managers only one
   * deletes, and a delete that fails is tried again later. Then the VMs of expired slices
   * ({@link deleteVmsOfExpiredSlices}). Returns the ids of the delete actions issued.
   */
  async deleteExpiredVms(now = new Date()): Promise<string[]> {
    const em = this.tx.manager;
    const issued: string[] = [];
    for (const vm of await new VmRepository(em).listExpired(now, SWEEP_BATCH)) {
      if (await new ActionRepository(em).isVmBusy(vm.uuid)) continue;
      if (!(await this.tx.run((t) => new VmRepository(t).claimExpiry(vm.id, now, new Date(now.getTime() + EXPIRY_RETRY_MS))))) continue;
      const id = await this.issueDelete(vm, { expiresAt: vm.expiresAt?.toISOString() }, 'VM expired: deleting it');
      if (id) issued.push(id);
    }
    issued.push(...(await this.deleteVmsOfExpiredSlices(now)));
    return issued;
  }

  /**
   * `slice.setExpiry`: when the manager deletes every VM of the slice (null: never); who set it is kept with it.
   * The slice need not have VMs yet (a create in an expired slice is refused).
   * @throws InputError for an invalid slice id.
   */
  async setSliceExpiry(sliceId: string, expiresAt: Date | null, setBy: string, why = ''): Promise<void> {
    assertPattern(sliceId, ACTION_ID_PATTERN, 'slice id');
    const setAt = new Date();
    await this.tx.run((em) => new SliceExpiryRepository(em).set(sliceId, { expiresAt, setBy: setBy.slice(0, 100), setAt }));
    this.log.info(expiresAt ? 'slice expiry set' : 'slice expiry cleared', {
      sliceId, expiresAt: expiresAt?.toISOString() ?? null, setBy, setAt: setAt.toISOString(), why,
    });
  }

  /** `slice.list`: the slice expiries (cleared ones too, with who cleared them), by slice id. */
  listSliceExpiries(): Promise<SliceExpiry[]> {
    return new SliceExpiryRepository(this.tx.manager).list();
  }

  /**
   * Expiry sweep for slices: for every slice whose expiry passed, issues a delete action for each of its VMs that no
   * action is busy with. A conditional UPDATE moves the slice's `nextSweepAt` forward first, so of several managers
   * only one issues the deletes; VMs still there then (a delete failed) are tried again after
   * {@link EXPIRY_RETRY_MS}, or after a minute when a VM was busy. Returns the ids of the delete actions issued.
   */
  async deleteVmsOfExpiredSlices(now = new Date()): Promise<string[]> {
    const em = this.tx.manager;
    const issued: string[] = [];
    for (const slice of await new SliceExpiryRepository(em).listDue(now, SWEEP_BATCH)) {
      if (!(await this.tx.run((t) => new SliceExpiryRepository(t).claimSweep(slice.id, now, new Date(now.getTime() + EXPIRY_RETRY_MS))))) continue;
      let busy = false;
      for (const vm of await new VmRepository(em).listInSlice(slice.sliceId)) {
        if (await new ActionRepository(em).isVmBusy(vm.uuid)) {
          busy = true;
          continue;
        }
        const id = await this.issueDelete(vm, { sliceId: slice.sliceId, expiresAt: slice.expiresAt?.toISOString() }, 'slice expired: deleting its VM');
        if (id) issued.push(id);
      }
      // A VM busy with another action is looked at again soon (the deletes just issued are busy then, so not doubled).
      if (busy) await this.tx.run((t) => new SliceExpiryRepository(t).sweepAgainAt(slice.id, new Date(now.getTime() + BUSY_RETRY_MS)));
    }
    return issued;
  }

  /** Issues a delete action (a new id, no principal) for `vm`; returns its id, or undefined when it was refused. */
  private async issueDelete(vm: VirtualMachine, context: Record<string, unknown>, message: string): Promise<string | undefined> {
    const action: ValidatedAction = { type: 'delete', id: randomUUID(), server: { virtualMachines: [{ uuid: vm.uuid, name: vm.name }] } };
    this.log.info(message, { ...context, vmUuid: vm.uuid, actionId: action.id });
    const refused = await this.intake.process(action, vm.callbackUrl);
    return refused === undefined ? action.id : undefined;
  }
}
