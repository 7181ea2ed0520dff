/**
 * The job runner of provisioning: hands stored actions to their agents under a lease (docs/architecture.md decision 6),
 * takes over actions whose manager died before the hand-over, and fails actions whose agent stays silent past the
 * deadline (docs/ocf-behaviour.md §9 item 8). The lease operations are named in repositories/actions/.
 */
import { describeError, NotFoundError, type Logger } from '@kvm-crm/shared';
import type { ActionRecord } from '../../db/entities/action.js';
import type { Server } from '../../db/entities/server.js';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import type { ActionHeader } from '../../domain/action-validation.js';
import { clientReason } from '../../domain/client-reason.js';
import { ActionEventRepository } from '../../repositories/action-event-repository.js';
import { ActionRepository } from '../../repositories/action-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';
import { VmRepository } from '../../repositories/vm-repository.js';
import type { AgentGateway } from '../ports.js';
import type { ActionCompletion } from './action-completion.js';
import type { Prepared } from './action-store.js';
import { agentQueryWithRequest } from './agent-query.js';
import type { ProvisioningSettings } from './provisioning-settings.js';

/** Sends actions to agents; recovers lapsed leases; fails overdue actions. */
export class ActionDispatcher {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly agents: AgentGateway,
    private readonly completion: ActionCompletion,
    private readonly settings: ProvisioningSettings,
    private readonly log: Logger,
  ) {}

  /** Who this manager is in an action's history. */
  private get me(): string {
    return `manager:${this.settings.instanceId}`;
  }

  /**
   * Hands a stored action to its agent; a failure there ends it FAILED (the VM's state unchanged, a create undone).
   * The client's reason is {@link clientReason}'s (no agent endpoint, no host path); the full error is logged and
   * kept in the action's history.
   */
  async send(action: ActionHeader, prepared: Prepared): Promise<void> {
    try {
      await this.handOver(action.id, prepared.server, prepared.agentXml, 'first');
    } catch (err) {
      const error = describeError(err);
      this.log.warn('action failed before the agent reported', { actionId: action.id, actionType: action.type, error });
      // The agent never got the action: the VM's state is unknown to it, so only a create is undone.
      await this.completion.finish(action.id, 'FAILED', clientReason(err), { vmState: 'unchanged', who: this.me, why: error });
    }
  }

  /**
   * Sends a stored QUEUED action to its agent under this manager's lease: claims it first (only while this manager
   * holds an unexpired lease, so of several managers exactly one sends; the attempt is counted); once the agent
   * accepted, the lease runs until the deadline (the deadline sweep covers a silent agent). Returns false when the
   * lease was lost (another manager took the action over, or, with `claim` `'first'`, a send was already made or
   * counted: the recovery sweep took it over while it waited in the intake lane): nothing was sent.
   * `claim`: `'first'` the intake lane's hand-over (only while no attempt was counted), `'again'` (default) a
   * re-send, `'taken-over'` the recovery's send right after its take-over, which already set the lease and counted
   * the attempt (take-over-expired-lease.ts), so no second claim.
   * @throws the gateway's error when the agent is unreachable or refuses.
   */
  async handOver(actionId: string, server: Server, agentXml: string, claim: 'first' | 'again' | 'taken-over' = 'again'): Promise<boolean> {
    const owner = this.settings.instanceId;
    const claimed = claim === 'taken-over'
      || (await this.tx.run((em) => new ActionRepository(em).claimForHandOver(actionId, owner, new Date(), this.settings.leaseSeconds, claim === 'first')));
    if (!claimed) {
      this.log.warn('lease on the action lost before the hand-over: another manager took it over', { actionId });
      return false;
    }
    await this.agents.send(server, this.settings.agentCallbackUrl, agentXml);
    await this.tx.run((em) => new ActionRepository(em).holdLeaseUntilDeadline(actionId, owner));
    this.log.info('action sent to agent', { actionId, server: server.name });
    return true;
  }

  /**
   * Sends a stored action again (an operator's retry): QUEUED under the hand-over lease, ONGOING directly (the
   * lease only guards QUEUED actions).
   * @throws NotFoundError when its VM is gone; the gateway's error when the agent is unreachable or refuses.
   */
  async resend(action: ActionRecord): Promise<void> {
    const { server, xml } = await this.target(action);
    if (action.status === 'QUEUED') await this.handOver(action.uuid, server, xml);
    else await this.agents.send(server, this.settings.agentCallbackUrl, xml);
  }

  /**
   * Recovery pass (at start and in every sweep): takes over the QUEUED actions whose lease expired before the
   * agent accepted them (their manager died, or was killed, in between) and sends them again. Safe because the
   * re-sent action is one the agent never acknowledged, and start/stop/hardStop/reboot/delete/modify are idempotent
   * on the agent (start of a running domain → SUCCESS "already running", delete of a missing one → "already gone").
   * A create whose send had started is NOT sent again (the agent refuses a second create of an existing domain
   * with FAILED, which would undo the VM): it is left to the agent's report, or to the deadline sweep. Actions past
   * their deadline are left to {@link failOverdueActions}. Returns how many actions were re-sent.
   */
  async recoverQueuedActions(now = new Date()): Promise<number> {
    const stale = await new ActionRepository(this.tx.manager).findExpiredLeases(now);
    let resent = 0;
    for (const a of stale) {
      const ambiguousCreate = a.type === 'create' && a.sendAttempts > 0;
      const taken = await this.tx.run(async (em) => {
        const moved = await new ActionRepository(em).takeOverExpiredLease(
          a.uuid, this.settings.instanceId, now, ambiguousCreate ? 'deadline' : { leaseSeconds: this.settings.leaseSeconds },
        );
        if (!moved) return false;
        await new ActionEventRepository(em).record(a.uuid, 'QUEUED', 'QUEUED', this.me,
          ambiguousCreate
            ? 'lease expired after the create was sent: not sent again, waiting for the agent or the deadline'
            : 'lease expired before the agent accepted the action: taken over and sent again');
        return true;
      });
      if (!taken || ambiguousCreate) continue;
      const log = this.log.child({ actionId: a.uuid, actionType: a.type });
      try {
        const { server, xml } = await this.target(a);
        log.info('re-sending a QUEUED action whose lease expired');
        if (await this.handOver(a.uuid, server, xml, 'taken-over')) resent++;
      } catch (err) {
        const error = describeError(err);
        log.warn('re-sending a recovered action failed', { error });
        await this.completion.finish(a.uuid, 'FAILED', clientReason(err), { vmState: 'unchanged', who: this.me, why: error });
      }
    }
    return resent;
  }

  /**
   * Fails every QUEUED/ONGOING action whose deadline has passed. Returns how many were failed. The VM's state
   * becomes `unknown` (what the agent did is not known); a create is undone.
   */
  async failOverdueActions(now = new Date()): Promise<number> {
    const overdue = await new ActionRepository(this.tx.manager).findOverdue(now);
    let n = 0;
    for (const a of overdue) {
      const reason = `no terminal status from the agent within ${this.settings.actionTimeoutSeconds} s`;
      if (await this.completion.finish(a.uuid, 'FAILED', reason, { vmState: 'unknown', who: 'system' })) n++;
    }
    return n;
  }

  /**
   * A stored action's server and agent query (modify carries the requested memory and vCPUs).
   * @throws NotFoundError when the action's VM is gone.
   */
  private async target(action: ActionRecord): Promise<{ server: Server; xml: string }> {
    const vm = await new VmRepository(this.tx.manager).findWithInterfaces(action.vmUuid);
    if (!vm) throw new NotFoundError(`VM ${action.vmUuid} of the action is gone`);
    const server = await new ServerRepository(this.tx.manager).getById(vm.serverId);
    const xml = agentQueryWithRequest(action.uuid, action.type, server, vm, { memoryMb: action.requestedMemoryMb, vcpus: action.requestedVcpus });
    return { server, xml };
  }
}
