/**
 * The agent's provisioning statuses (`sendAsync`, docs/ocf-protocol.md §5.3) and their effects: an action moves to
 * ONGOING, then to exactly one terminal status, its VM follows the §5.3 table (a failed create or a successful
 * delete removes the VM and releases its addresses), and the client gets each status.
 */
import { isPlaceholder, NotAllowedError, parseRspec, type Logger, type Rspec } from '@kvm-crm/shared';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { ActionEventRepository, DESCRIPTION_MAX } from '../../repositories/action-event-repository.js';
import { ActionRepository } from '../../repositories/action-repository.js';
import { ProjectOwnerRepository } from '../../repositories/project-owner-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';
import { VmRepository } from '../../repositories/vm-repository.js';
import { scrubReason } from '../../domain/client-reason.js';
import type { ClientStatusNotifier } from '../client-status-notifier.js';
import type { IpamService } from '../ipam-service.js';
import { NO_METRICS, secondsSince, type ActionMetrics } from '../metrics-ports.js';
import { vmStateAfter } from '../vm-states.js';
import type { EventActor } from './provisioning-settings.js';

/** How {@link ActionCompletion.finish} treats the VM's state. */
export interface FinishOptions {
  /**
   * `from-table` (default) applies the §5.3 table; `unchanged` keeps the VM's state (the agent never got the
   * action); `unknown` marks it `unknown` (the agent went silent and may or may not have acted).
   */
  vmState?: 'from-table' | 'unchanged' | 'unknown';
  /** Who caused it, for the action's history (default `agent`). */
  who?: EventActor;
  /** Why, for the history (default the description). */
  why?: string;
}

/** Applies statuses to actions and VMs and notifies the clients. */
export class ActionCompletion {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly ipam: IpamService,
    private readonly statuses: ClientStatusNotifier,
    private readonly log: Logger,
    /** Told once per action that this class finishes (decision record 028). Default: counts nothing. */
    private readonly metrics: ActionMetrics = NO_METRICS,
  ) {}

  /**
   * Agent `sendAsync(xml)` (§5.3): applies each provisioning status to its action and VM and forwards it, with the
   * action type filled in, to the VM's client callback. Statuses for unknown or already-finished actions are logged
   * and dropped. The monitoring part of a document is handled by the MonitoringService.
   * @throws InputError when the document does not parse.
   */
  async handleAgentStatus(xml: string): Promise<void> {
    await this.handleProvisioningDocument(parseRspec(xml));
  }

  /**
   * The provisioning part of an already parsed agent document (see {@link handleAgentStatus}). With `from` (the
   * server whose agent certificate or credentials sent it), every status must be about an action on one of that
   * server's VMs; otherwise nothing is applied.
   * @throws NotAllowedError naming the first action that is about another server's VM.
   */
  async handleProvisioningDocument(doc: Rspec, from?: { name: string }): Promise<void> {
    const actions = doc.response?.provisioning?.actions ?? [];
    if (from) await this.assertActionsOfServer(actions.map((a) => a.id).filter((id): id is string => !!id), from.name);
    for (const a of actions) {
      if (!a.id) continue;
      const status = a.status === 'ONGOING' || a.status === 'SUCCESS' || a.status === 'FAILED' ? a.status : undefined;
      if (!status) {
        this.log.warn('agent status with an unknown value ignored', { actionId: a.id, status: a.status });
        continue;
      }
      const description = isPlaceholder(a.description) ? '' : (a.description ?? '');
      if (status === 'ONGOING') await this.progress(a.id, scrubReason(description));
      // The agent's own words stay in the history and the log; the client gets them without host paths or URLs.
      else await this.finish(a.id, status, scrubReason(description), { why: description });
    }
  }

  /**
   * Moves an action to a terminal status exactly once, applies the VM effects (state; a failed create or a
   * successful delete removes the VM and releases its addresses), and notifies the client. A second terminal
   * status for the same action is ignored. Returns whether this call finished the action.
   */
  async finish(actionId: string, status: 'SUCCESS' | 'FAILED', description: string, options: FinishOptions = {}): Promise<boolean> {
    const vmStateRule = options.vmState ?? 'from-table';
    const result = await this.tx.run(async (em) => {
      const actions = new ActionRepository(em);
      const before = await actions.findByUuid(actionId);
      if (!before || before.status === 'SUCCESS' || before.status === 'FAILED') return undefined;
      if (!(await actions.finishOnce(actionId, status, description.slice(0, DESCRIPTION_MAX)))) return undefined;
      const action = await actions.getByUuid(actionId);
      await new ActionEventRepository(em).record(actionId, before.status, status, options.who ?? 'agent', options.why ?? description);
      const vms = new VmRepository(em);
      const vm = await vms.findByUuid(action.vmUuid);
      const callbackUrl = vm?.callbackUrl || action.callbackUrl;
      const principal = vm ? await new ProjectOwnerRepository(em).ownerOf(vm.projectId) : undefined;
      if (vm) {
        const removes = (action.type === 'create' && status === 'FAILED') || (action.type === 'delete' && status === 'SUCCESS');
        if (removes) {
          await this.ipam.releaseAll(em, vm.uuid);
          await vms.deleteWithInterfaces(vm.id);
        } else if (action.type === 'modify' && status === 'SUCCESS') {
          await vms.applyResources(vm.id, action.requestedMemoryMb, action.requestedVcpus);
        } else if (vmStateRule !== 'unchanged') {
          const state = vmStateRule === 'unknown' ? 'unknown' : vmStateAfter(action.type, status);
          if (state) await vms.setState(vm.id, state);
        }
      }
      const message = { callbackUrl, actionId, type: action.type, status, description, principal };
      return { message, createdAt: before.createdAt, outboxed: await this.statuses.enqueue(em, message) };
    });
    if (!result) {
      this.log.info('terminal status for an unknown or finished action ignored', { actionId, status });
      return false;
    }
    this.metrics.actionFinished(result.message.type, status, secondsSince(result.createdAt));
    this.log.log(status === 'SUCCESS' ? 'info' : 'warn', `action ${status}`, { actionId, actionType: result.message.type, description });
    this.statuses.afterCommit(result.outboxed, result.message);
    return true;
  }

  /** ONGOING: QUEUED → ONGOING once, the VM's transition state, the client notified. */
  private async progress(actionId: string, description: string): Promise<void> {
    const result = await this.tx.run(async (em) => {
      const actions = new ActionRepository(em);
      // A conditional update: of two managers applying the same status, only one changes the row.
      if (!(await actions.startProgress(actionId, description.slice(0, DESCRIPTION_MAX)))) return undefined;
      const action = await actions.getByUuid(actionId);
      const vms = new VmRepository(em);
      const vm = await vms.findByUuid(action.vmUuid);
      const state = vmStateAfter(action.type, 'ONGOING');
      if (vm && state) await vms.setState(vm.id, state);
      await new ActionEventRepository(em).record(actionId, 'QUEUED', 'ONGOING', 'agent', description);
      const principal = vm ? await new ProjectOwnerRepository(em).ownerOf(vm.projectId) : undefined;
      const message = { callbackUrl: vm?.callbackUrl || action.callbackUrl, actionId, type: action.type, status: 'ONGOING' as const, description, principal };
      return { message, outboxed: await this.statuses.enqueue(em, message) };
    });
    if (!result) {
      this.log.info('ONGOING for an unknown or already running action ignored', { actionId });
      return;
    }
    this.statuses.afterCommit(result.outboxed, result.message);
  }

  /** @throws NotAllowedError when one of the (known) actions is about a VM that is not on server `serverName`. */
  private async assertActionsOfServer(actionIds: string[], serverName: string): Promise<void> {
    if (actionIds.length === 0) return;
    const em = this.tx.manager;
    const server = await new ServerRepository(em).findByName(serverName);
    const vms = new VmRepository(em);
    for (const action of await new ActionRepository(em).findByUuids(actionIds)) {
      const vm = await vms.findByUuid(action.vmUuid);
      if (!server || !vm || vm.serverId !== server.id) {
        throw new NotAllowedError(`action ${action.uuid} is not about a VM of server ${serverName}`);
      }
    }
  }
}
