/**
 * Provisioning: the northbound `send` (docs/ocf-protocol.md §2.2.1) and the agent's `sendAsync` statuses (§5.3).
 *
 * Differences from the original, on purpose (docs/ocf-behaviour.md §10, docs/architecture.md decision 1):
 * - every `<action>` of a message is processed, not only the first (§9 item 9);
 * - every accepted action ends in exactly one terminal status (SUCCESS or FAILED, with a reason) sent to the
 *   client, also when the manager fails before reaching the agent, when the agent is unreachable, or when it
 *   stays silent past the action's deadline (§9 item 8);
 * - a duplicate action id or VM UUID is rejected with FAILED and touches nothing (§9 item 21);
 * - the agent query for start/stop/… is built from the DB, not forwarded from the client (whose server
 *   `virtualization-type` is `xen` even for KVM, §9 item 14);
 * - rows are committed before the agent is called, since the agent's ONGOING may overtake `send`'s reply (§7.1);
 * - `send` answers once its actions are accepted durably (intake rows); admission follows (decision 039).
 *
 * This class only wires and fronts the services that do the work, read top-down:
 * provisioning/action-intake.ts (send, send_sync) → provisioning/intake-admission.ts (send's durable intake,
 * admission in the background) → provisioning/action-store.ts (validate, store) →
 * provisioning/action-dispatcher.ts (hand-over under a lease, recovery, deadlines) →
 * provisioning/action-completion.ts (agent statuses, VM effects) → client-status-notifier.ts; beside them
 * operator-actions-service.ts (action.show|retry|fail|succeed) and expiry-service.ts (VM and slice expiry).
 */
import { randomUUID } from 'node:crypto';
import type { Logger, Rspec } from '@kvm-crm/shared';
import type { ActionEvent } from '../db/entities/action-event.js';
import type { ActionRecord } from '../db/entities/action.js';
import type { Server } from '../db/entities/server.js';
import type { SliceExpiry } from '../db/entities/slice-expiry.js';
import type { VirtualMachine } from '../db/entities/virtual-machine.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { OPTION_DEFAULTS } from '../manager-options.js';
import { ClientStatusNotifier } from './client-status-notifier.js';
import { ExpiryService } from './expiry-service.js';
import type { IpamService } from './ipam-service.js';
import { OperatorActionsService } from './operator-actions-service.js';
import type { AgentGateway, ClientNotifier } from './ports.js';
import type { ActionMetrics } from './metrics-ports.js';
import { ActionCompletion, type FinishOptions } from './provisioning/action-completion.js';
import { ActionDispatcher } from './provisioning/action-dispatcher.js';
import { ActionIntake, type Submitted } from './provisioning/action-intake.js';
import { ActionStore } from './provisioning/action-store.js';
import { IntakeFirstLane } from './provisioning/intake-first-lane.js';
import type { IntakeAdmission } from './provisioning/intake-admission.js';
import { agentQuery } from './provisioning/agent-query.js';
import { PlacementService } from './placement/placement-service.js';
import type { Overcommit, PlacementPolicy } from '../domain/capacity.js';
import type { EventActor, ProvisioningSettings } from './provisioning/provisioning-settings.js';

export type { EventActor };

/** Options of {@link ProvisioningService}. */
export interface ProvisioningOptions {
  /** The URL (with credentials) agents call back with `sendAsync` (our `/xmlrpc/agent`). */
  agentCallbackUrl: string;
  /** Seconds an action may stay QUEUED/ONGOING before it is failed for silence. Default: the config's (600). */
  actionTimeoutSeconds?: number;
  /** This manager's instance id (lease owner); default a random one per process. */
  instanceId?: string;
  /**
   * Seconds the manager that stored an action has to hand it to the agent before another manager (or this one after
   * a restart) takes it over. Default: the config's `actionLeaseSeconds` (60).
   */
  leaseSeconds?: number;
  /** Most actions per `send` message. Default: the config's `maxActionsPerMessage` (64). */
  maxActionsPerMessage?: number;
  /** Most undelivered statuses per principal. Default: the config's `maxPendingStatusesPerPrincipal` (1000). */
  maxPendingStatusesPerPrincipal?: number;
  /** Most accepted actions waiting for their hand-over ("manager busy" past it). Default: the config's `maxQueuedHandOvers` (2,000). */
  maxQueuedHandOvers?: number;
  logger: Logger;
  /** Overcommit ratios of the capacity accounting. Default: the config's `capacity` (CPU 4.0, memory 1.0, disk 1.0). */
  capacity?: Overcommit;
  /** Placement of creates that name no server. Default: the config's `placement.policy` (`spread`). */
  placementPolicy?: PlacementPolicy;
  /** Action counters and durations (decision record 028). Default: counts nothing. */
  metrics?: ActionMetrics;
}

/** The provisioning services behind one object (the API layer, the sweeps and the tests use it). */
export class ProvisioningService {
  /** This manager's lease owner id. */
  readonly instanceId: string;
  readonly intake: ActionIntake;
  readonly dispatcher: ActionDispatcher;
  readonly completion: ActionCompletion;
  readonly operator: OperatorActionsService;
  readonly expiry: ExpiryService;

  constructor(
    tx: TransactionRunner,
    ipam: IpamService,
    agents: AgentGateway,
    notifier: ClientNotifier,
    /** The options as given (defaults not applied). */
    readonly options: ProvisioningOptions,
  ) {
    const settings: ProvisioningSettings = {
      agentCallbackUrl: options.agentCallbackUrl,
      actionTimeoutSeconds: options.actionTimeoutSeconds ?? OPTION_DEFAULTS.actionTimeoutSeconds,
      leaseSeconds: options.leaseSeconds ?? OPTION_DEFAULTS.actionLeaseSeconds,
      instanceId: options.instanceId ?? `mgr-${randomUUID()}`,
      maxActionsPerMessage: options.maxActionsPerMessage ?? OPTION_DEFAULTS.maxActionsPerMessage,
      maxPendingStatusesPerPrincipal: options.maxPendingStatusesPerPrincipal ?? OPTION_DEFAULTS.maxPendingStatusesPerPrincipal,
    };
    this.instanceId = settings.instanceId;
    const log = options.logger;
    const statuses = new ClientStatusNotifier(tx, notifier, log);
    this.completion = new ActionCompletion(tx, ipam, statuses, log, options.metrics);
    this.dispatcher = new ActionDispatcher(tx, agents, this.completion, settings, log);
    const placement = new PlacementService({ capacity: options.capacity ?? OPTION_DEFAULTS.capacity, policy: options.placementPolicy ?? OPTION_DEFAULTS.placement.policy });
    const lane = new IntakeFirstLane({ maxQueuedActions: options.maxQueuedHandOvers ?? OPTION_DEFAULTS.maxQueuedHandOvers });
    this.intake = new ActionIntake(tx, new ActionStore(tx, ipam, settings, placement), this.dispatcher, statuses, log, settings, lane);
    this.operator = new OperatorActionsService(tx, this.completion, this.dispatcher, settings);
    this.expiry = new ExpiryService(tx, this.intake, log);
  }

  /** See {@link ActionIntake.accept} (the plugin API's `send`: durable intake, admission in the background). */
  accept(callbackUrl: string, xml: string, options: { principal?: string } = {}): Promise<Submitted> {
    return this.intake.accept(callbackUrl, xml, options);
  }

  /** See {@link IntakeAdmission.pickUp}. */
  pickUpIntake(atStart: boolean, now = new Date()): Promise<number> {
    return this.intake.durable.pickUp(atStart, now);
  }

  /** A stopping manager gives its waiting intake rows back (see IntakeAdmission.release, decision 039). */
  releaseIntake(): Promise<void> {
    return this.intake.durable.release();
  }

  /** See {@link ActionIntake.submit}. */
  submit(callbackUrl: string, xml: string, options: { allowNoCallback?: boolean; principal?: string } = {}): Promise<Submitted> {
    return this.intake.submit(callbackUrl, xml, options);
  }

  /** See {@link ActionIntake.submitAndWait}. */
  submitAndWait(callbackUrl: string, xml: string, timeoutSeconds: number, principal?: string): Promise<true | string> {
    return this.intake.submitAndWait(callbackUrl, xml, timeoutSeconds, principal);
  }

  /** See {@link ActionDispatcher.recoverQueuedActions}. */
  recoverQueuedActions(now = new Date()): Promise<number> {
    return this.dispatcher.recoverQueuedActions(now);
  }

  /** See {@link ActionDispatcher.failOverdueActions}. */
  failOverdueActions(now = new Date()): Promise<number> {
    return this.dispatcher.failOverdueActions(now);
  }

  /** See {@link ActionCompletion.handleAgentStatus}. */
  handleAgentStatus(xml: string): Promise<void> {
    return this.completion.handleAgentStatus(xml);
  }

  /** See {@link ActionCompletion.handleProvisioningDocument}. */
  handleProvisioningDocument(doc: Rspec, from?: { name: string }): Promise<void> {
    return this.completion.handleProvisioningDocument(doc, from);
  }

  /** See {@link ActionCompletion.finish}. */
  finish(actionId: string, status: 'SUCCESS' | 'FAILED', description: string, options: FinishOptions = {}): Promise<boolean> {
    return this.completion.finish(actionId, status, description, options);
  }

  /** The query sent to the agent for an action about `vm` (see provisioning/agent-query.ts). */
  agentQuery(actionId: string, type: string, server: Server, vm: VirtualMachine): string {
    return agentQuery(actionId, type, server, vm);
  }

  /** See {@link OperatorActionsService.showAction}. */
  showAction(actionId: string): Promise<{ action: ActionRecord; events: ActionEvent[] }> {
    return this.operator.showAction(actionId);
  }

  /** See {@link OperatorActionsService.operatorResolve}. */
  operatorResolve(actionId: string, status: 'SUCCESS' | 'FAILED', why: string, operator: string): Promise<void> {
    return this.operator.operatorResolve(actionId, status, why, operator);
  }

  /** See {@link OperatorActionsService.operatorRetry}. */
  operatorRetry(actionId: string, why: string, operator: string): Promise<void> {
    return this.operator.operatorRetry(actionId, why, operator);
  }

  /** See {@link ExpiryService.setExpiry}. */
  setExpiry(vmUuid: string, expiresAt: Date | null): Promise<void> {
    return this.expiry.setExpiry(vmUuid, expiresAt);
  }

  /** See {@link ExpiryService.deleteExpiredVms}. */
  deleteExpiredVms(now = new Date()): Promise<string[]> {
    return this.expiry.deleteExpiredVms(now);
  }

  /** See {@link ExpiryService.setSliceExpiry}. */
  setSliceExpiry(sliceId: string, expiresAt: Date | null, setBy: string, why = ''): Promise<void> {
    return this.expiry.setSliceExpiry(sliceId, expiresAt, setBy, why);
  }

  /** See {@link ExpiryService.listSliceExpiries}. */
  listSliceExpiries(): Promise<SliceExpiry[]> {
    return this.expiry.listSliceExpiries();
  }

  /** See {@link ExpiryService.deleteVmsOfExpiredSlices}. */
  deleteVmsOfExpiredSlices(now = new Date()): Promise<string[]> {
    return this.expiry.deleteVmsOfExpiredSlices(now);
  }
}
