/**
 * Operator verbs on actions (`vtctl action show|retry|fail|succeed`, OpenNebula's `onevm recover`): every verb is
 * recorded in the action's history with who, when and why (the audit record).
 */
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared';
import type { ActionEvent } from '../db/entities/action-event.js';
import type { ActionRecord } from '../db/entities/action.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { ActionEventRepository } from '../repositories/action-event-repository.js';
import { ActionRepository } from '../repositories/action-repository.js';
import type { ActionCompletion } from './provisioning/action-completion.js';
import type { ActionDispatcher } from './provisioning/action-dispatcher.js';
import type { ProvisioningSettings } from './provisioning/provisioning-settings.js';

/** Shows, retries and resolves stuck actions for operators. */
export class OperatorActionsService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly completion: ActionCompletion,
    private readonly dispatcher: ActionDispatcher,
    private readonly settings: ProvisioningSettings,
  ) {}

  /**
   * `action.show`: the action and its history, oldest event first.
   * @throws NotFoundError when there is no such action.
   */
  async showAction(actionId: string): Promise<{ action: ActionRecord; events: ActionEvent[] }> {
    const action = await new ActionRepository(this.tx.manager).findByUuid(actionId);
    if (!action) throw new NotFoundError(`no action ${actionId}`);
    const events = await new ActionEventRepository(this.tx.manager).history(actionId);
    return { action, events };
  }

  /**
   * Operator verbs `action.fail` / `action.succeed`: moves a stuck (QUEUED/ONGOING) action to `status` as if the
   * agent had reported it — the VM effects of that outcome are applied (a failed create or a successful delete
   * removes the VM and releases its addresses; a failed action leaves the VM `unknown`), the client's callback gets
   * the status, and the history records who, when and why.
   * @throws InputError without a reason; NotFoundError for an unknown action; ConflictError when it is already terminal.
   */
  async operatorResolve(actionId: string, status: 'SUCCESS' | 'FAILED', why: string, operator: string): Promise<void> {
    if (!why.trim()) throw new InputError('a reason (why) is required');
    await this.showAction(actionId);
    const description = status === 'FAILED' ? `failed by operator ${operator}: ${why}` : `marked successful by operator ${operator}: ${why}`;
    const done = await this.completion.finish(actionId, status, description, { vmState: status === 'FAILED' ? 'unknown' : 'from-table', who: `operator:${operator}`, why });
    if (!done) throw new ConflictError(`action ${actionId} is already finished`);
  }

  /**
   * Operator verb `action.retry`: sends a stuck (QUEUED/ONGOING) action to its agent again as a new attempt, with a
   * fresh deadline, under this manager's lease. A create that was already sent is refused (the agent answers a second
   * create of an existing domain with FAILED, which would undo the VM): check the host, then `fail` or `succeed` it.
   * A FAILED action is not reopened (its client already got its one terminal status): the client sends a new action.
   * @throws InputError without a reason; NotFoundError; ConflictError as described; the gateway's error when the
   *   agent is unreachable (the action stays as it was, with the new deadline).
   */
  async operatorRetry(actionId: string, why: string, operator: string): Promise<void> {
    if (!why.trim()) throw new InputError('a reason (why) is required');
    const { action } = await this.showAction(actionId);
    if (action.status === 'SUCCESS' || action.status === 'FAILED') {
      throw new ConflictError(`action ${actionId} is ${action.status}: a finished action is not reopened; the client sends a new action`);
    }
    if (action.type === 'create' && action.sendAttempts > 0) {
      throw new ConflictError(`create ${actionId} was already sent to the agent: check the host, then use fail or succeed`);
    }
    const taken = await this.tx.run(async (em) => {
      const times = { leaseSeconds: this.settings.leaseSeconds, timeoutSeconds: this.settings.actionTimeoutSeconds };
      if (!(await new ActionRepository(em).resetForRetry(actionId, action.status, this.settings.instanceId, Date.now(), times))) return false;
      await new ActionEventRepository(em).record(actionId, action.status, action.status, `operator:${operator}`, `retry: ${why}`);
      return true;
    });
    if (!taken) throw new ConflictError(`action ${actionId} changed meanwhile; show it again`);
    await this.dispatcher.resend(action);
  }
}
