/**
 * Provisioning: the northbound `send` (ocf-protocol.md §2.2.1) and the agent's `sendAsync` statuses (§5.3).
 *
 * Differences from the original, on purpose (ocf-behaviour.md §10, ARCHITECTURE.md decision 1):
 * - every `<action>` of a message is processed, not only the first (§9 item 9);
 * - every accepted action ends in exactly one terminal status (SUCCESS or FAILED, with a reason) sent to the
 *   client, also when the manager fails before reaching the agent, when the agent is unreachable, or when it
 *   stays silent past the action's deadline (§9 item 8);
 * - a duplicate action id or VM UUID is rejected with FAILED and touches nothing (§9 item 21);
 * - the agent query for start/stop/… is built from the DB, not forwarded from the client (whose server
 *   `virtualization-type` is `xen` even for KVM, §9 item 14);
 * - rows are committed before the agent is called, since the agent's ONGOING may overtake `send`'s reply (§7.1).
 */
import {
  ACTION_ID_PATTERN,
  assertPattern,
  ConflictError,
  describeError,
  InputError,
  isPlaceholder,
  NotAllowedError,
  NotFoundError,
  parsePeerUrl,
  parseRspec,
  PROVISIONING_ACTION_TYPES,
  provisioningStatusResponse,
  serialiseRspec,
  TEMPLATE_NAME_PATTERN,
  UUID_PATTERN,
  VM_NAME_PATTERN,
  type Action,
  type Logger,
  type Rspec,
} from '@kvm-crm/shared';
import { randomUUID } from 'node:crypto';
import { LessThan, In, MoreThan, type EntityManager } from 'typeorm';
import { ActionEvent } from '../db/entities/action-event.js';
import { ActionRecord, type ActionState } from '../db/entities/action.js';
import { ProjectOwner } from '../db/entities/project-owner.js';
import { Server } from '../db/entities/server.js';
import { SliceExpiry } from '../db/entities/slice-expiry.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';
import { VmInterface } from '../db/entities/vm-interface.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { IpamService } from './ipam-service.js';
import type { AgentGateway, ClientNotifier } from './ports.js';
import { vmStateAfter } from './vm-states.js';
import { vmToRspec } from './rspec-mapping.js';

/** Options of {@link ProvisioningService}. */
export interface ProvisioningOptions {
  /** The URL (with credentials) agents call back with `sendAsync` (our `/xmlrpc/agent`). */
  agentCallbackUrl: string;
  /** Seconds an action may stay QUEUED/ONGOING before it is failed for silence. Default 600. */
  actionTimeoutSeconds?: number;
  /** This manager's instance id (lease owner); default a random one per process. */
  instanceId?: string;
  /**
   * Seconds the manager that stored an action has to hand it to the agent before another manager (or this one after
   * a restart) takes it over. Default 60.
   */
  leaseSeconds?: number;
  logger: Logger;
}

/** Who caused an action event: `agent`, `system`, `manager:<id>`, `principal:<name>`, `operator:<name>`. */
export type EventActor = string;

const DESCRIPTION_MAX = 2048;
/** A stored action, ready for the hand-over. */
interface Prepared {
  vm: VirtualMachine;
  server: Server;
  agentXml: string;
}
/** After an expiry delete was issued, when the sweep tries again if the VM is still there (the delete failed). */
const EXPIRY_RETRY_MS = 3600 * 1000;
const TERMINAL: ActionState[] = ['SUCCESS', 'FAILED'];

/** hd-origin-path: `<template>` or `<template>/<file>` (validated before it reaches the agent). */
const HD_ORIGIN_PATTERN = new RegExp(`^${TEMPLATE_NAME_PATTERN.source.slice(1, -1)}(?:/${TEMPLATE_NAME_PATTERN.source.slice(1, -1)})?$`);

export class ProvisioningService {
  private readonly timeoutSeconds: number;
  private readonly leaseSeconds: number;
  /** This manager's lease owner id. */
  readonly instanceId: string;
  private readonly log: Logger;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly ipam: IpamService,
    private readonly agents: AgentGateway,
    private readonly notifier: ClientNotifier,
    private readonly options: ProvisioningOptions,
  ) {
    this.timeoutSeconds = options.actionTimeoutSeconds ?? 600;
    this.leaseSeconds = options.leaseSeconds ?? 60;
    this.instanceId = options.instanceId ?? `mgr-${randomUUID()}`;
    this.log = options.logger;
  }

  /**
   * Northbound `send(callBackUrl, xml)`. Parses the query and validates every action's id and type, stores every
   * action (or refuses it, its FAILED status stored for the client), hands them to the agents in order in the
   * background, and returns (`nil` on the wire): an action accepted is never lost to a manager crash. `handedOver` resolves once
   * every action reached the agent or failed; it maps the actions refused before they were stored (duplicate
   * id, invalid input…) to their reason. `accepted` and `types` are the actions' ids and types, in message order.
   * `callbackUrl` must be an http(s) URL; with `allowNoCallback`, `""` or `"None"` mean "no callback" (send_sync).
   * @throws InputError when the callback URL or the document is invalid, there is no provisioning query, or an
   *   action lacks a valid id or type: nothing is processed then (a status could not be routed to anyone).
   */
  async submit(
    callbackUrl: string,
    xml: string,
    options: { allowNoCallback?: boolean; principal?: string } = {},
  ): Promise<{ accepted: string[]; types: string[]; handedOver: Promise<Map<string, string>> }> {
    if (options.allowNoCallback && (callbackUrl === '' || callbackUrl === 'None')) callbackUrl = '';
    else parsePeerUrl(callbackUrl);
    const doc = parseRspec(xml);
    const actions = doc.query?.provisioning?.actions;
    if (!actions || actions.length === 0) throw new InputError('the document holds no provisioning query with actions');
    const ids = new Set<string>();
    for (const a of actions) {
      assertPattern(a.id, ACTION_ID_PATTERN, 'action id');
      if (ids.has(a.id!)) throw new InputError(`action id ${a.id} appears twice in the message`);
      ids.add(a.id!);
      if (!(PROVISIONING_ACTION_TYPES as readonly string[]).includes(a.type ?? '')) {
        throw new InputError(`unsupported action type ${JSON.stringify(a.type ?? '')} in action ${a.id}`);
      }
    }
    // Every action is stored (or refused, with its FAILED status stored for the client) before `send` answers, so a
    // manager killed right after answering loses none; the hand-overs to the agents follow in the background.
    const refused = new Map<string, string>();
    const stored: Array<{ action: Action; prepared: Prepared }> = [];
    for (const a of actions) {
      const r = await this.store(a, callbackUrl, options.principal);
      if (typeof r === 'string') refused.set(a.id!, r);
      else stored.push({ action: a, prepared: r });
    }
    const handedOver = (async () => {
      for (const { action, prepared } of stored) await this.send(action, prepared);
      return refused;
    })().catch((err: unknown) => {
      this.log.error('action processing crashed', { error: describeError(err) });
      return new Map<string, string>();
    });
    return { accepted: actions.map((a: Action) => a.id!), types: actions.map((a: Action) => a.type!), handedOver };
  }

  /**
   * `send_sync` (ocf-protocol.md §2.2.2, made to work): submits like {@link submit}, then waits until every action of
   * the document is terminal. Resolves `true` when all succeeded, otherwise the failure text
   * (`"<type> <id> FAILED: <reason>"`, several joined by `; `), or `"TIMEOUT"` after `timeoutSeconds`.
   * Polls the database, so it also sees actions finished by another manager process.
   * @throws as {@link submit}.
   */
  async submitAndWait(callbackUrl: string, xml: string, timeoutSeconds: number, principal?: string): Promise<true | string> {
    const { accepted, types, handedOver } = await this.submit(callbackUrl, xml, { allowNoCallback: true, principal });
    const refused = await handedOver;
    const stored = accepted.filter((id) => !refused.has(id));
    const deadline = Date.now() + timeoutSeconds * 1000;
    const repo = this.tx.dataSource.getRepository(ActionRecord);
    for (;;) {
      const rows = stored.length ? await repo.find({ where: { uuid: In(stored) } }) : [];
      if (rows.every((r) => TERMINAL.includes(r.status))) {
        const failures = accepted
          .map((id, i) => {
            if (refused.has(id)) return `${types[i]} ${id} FAILED: ${refused.get(id)}`;
            const r = rows.find((x) => x.uuid === id);
            return r && r.status === 'FAILED' ? `${r.type} ${id} FAILED: ${r.description}` : undefined;
          })
          .filter((x): x is string => x !== undefined);
        return failures.length ? failures.join('; ') : true;
      }
      if (Date.now() >= deadline) return 'TIMEOUT';
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Runs one action up to the hand-over to the agent; every failure ends in a FAILED status to the client.
   * Returns the reason when the action was refused before it was stored, else undefined.
   */
  private async process(action: Action, callbackUrl: string, principal?: string): Promise<string | undefined> {
    const r = await this.store(action, callbackUrl, principal);
    if (typeof r === 'string') return r;
    await this.send(action, r);
    return undefined;
  }

  /**
   * Validates and stores one action (QUEUED, under this manager's lease). Returns what the hand-over needs, or the
   * reason it was refused: its FAILED status is then on its way to the client (through the outbox when there is one).
   */
  private async store(action: Action, callbackUrl: string, principal?: string): Promise<Prepared | string> {
    const type = action.type!;
    try {
      const prepared =
        type === 'create' ? await this.prepareCreate(action, callbackUrl, principal) : await this.prepareLifecycle(action, callbackUrl, principal);
      this.log.info('action queued', { actionId: action.id, actionType: type, vmUuid: prepared.vm.uuid, server: prepared.server.name });
      return prepared;
    } catch (err) {
      const reason = describeError(err);
      this.log.warn('action refused', { actionId: action.id, actionType: type, reason });
      await this.notifyDurably(callbackUrl, action.id!, type, 'FAILED', reason);
      return reason;
    }
  }

  /** Hands a stored action to its agent; a failure there ends it FAILED (the VM's state unchanged, a create undone). */
  private async send(action: Action, prepared: Prepared): Promise<void> {
    try {
      await this.handOver(action.id!, prepared.server, prepared.agentXml);
    } catch (err) {
      const reason = describeError(err);
      this.log.warn('action failed before the agent reported', { actionId: action.id, actionType: action.type, reason });
      // The agent never got the action: the VM's state is unknown to it, so only a create is undone.
      await this.finish(action.id!, 'FAILED', reason, { vmState: 'unchanged', who: `manager:${this.instanceId}` });
    }
  }

  /**
   * Sends a stored QUEUED action to its agent under this manager's lease: a conditional UPDATE first renews the
   * lease (only while this manager holds it and it has not expired, so of several managers exactly one sends) and
   * counts the attempt; once the agent accepted, the lease runs until the deadline (the deadline sweep covers a
   * silent agent). Returns false when the lease was lost (another manager took the action over): nothing was sent.
   * @throws the gateway's error when the agent is unreachable or refuses.
   */
  private async handOver(actionId: string, server: Server, agentXml: string): Promise<boolean> {
    const now = new Date();
    const claimed = await this.tx.run((em) =>
      em.update(
        ActionRecord,
        { uuid: actionId, status: 'QUEUED', leaseOwner: this.instanceId, leaseExpiresAt: MoreThan(now) },
        { leaseExpiresAt: new Date(now.getTime() + this.leaseSeconds * 1000), sendAttempts: () => 'sendAttempts + 1' },
      ),
    );
    if (!claimed.affected) {
      this.log.warn('lease on the action lost before the hand-over: another manager took it over', { actionId });
      return false;
    }
    await this.agents.send(server, this.options.agentCallbackUrl, agentXml);
    await this.tx.run((em) => em.update(ActionRecord, { uuid: actionId, leaseOwner: this.instanceId }, { leaseExpiresAt: () => 'deadline' }));
    this.log.info('action sent to agent', { actionId, server: server.name });
    return true;
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
    const repo = this.tx.dataSource.getRepository(ActionRecord);
    const stale = await repo.find({ where: { status: 'QUEUED', leaseExpiresAt: LessThan(now), deadline: MoreThan(now) }, order: { id: 'ASC' } });
    let resent = 0;
    for (const a of stale) {
      const ambiguousCreate = a.type === 'create' && a.sendAttempts > 0;
      const taken = await this.tx.run(async (em) => {
        const moved = await em.update(
          ActionRecord,
          { uuid: a.uuid, status: 'QUEUED', leaseExpiresAt: LessThan(now) },
          ambiguousCreate
            ? { leaseOwner: this.instanceId, leaseExpiresAt: () => 'deadline' }
            : { leaseOwner: this.instanceId, leaseExpiresAt: new Date(Date.now() + this.leaseSeconds * 1000) },
        );
        if (!moved.affected) return false;
        await this.recordEvent(em, a.uuid, 'QUEUED', 'QUEUED', `manager:${this.instanceId}`,
          ambiguousCreate
            ? 'lease expired after the create was sent: not sent again, waiting for the agent or the deadline'
            : 'lease expired before the agent accepted the action: taken over and sent again');
        return true;
      });
      if (!taken || ambiguousCreate) continue;
      const log = this.log.child({ actionId: a.uuid, actionType: a.type });
      try {
        const vm = await this.tx.dataSource.manager.findOne(VirtualMachine, { where: { uuid: a.vmUuid }, relations: { interfaces: true } });
        if (!vm) throw new NotFoundError(`VM ${a.vmUuid} of the action is gone`);
        const server = await this.tx.dataSource.manager.findOneByOrFail(Server, { id: vm.serverId });
        log.info('re-sending a QUEUED action whose lease expired');
        if (await this.handOver(a.uuid, server, this.agentXmlFor(a, vm, server))) resent++;
      } catch (err) {
        const reason = describeError(err);
        log.warn('re-sending a recovered action failed', { reason });
        await this.finish(a.uuid, 'FAILED', reason, { vmState: 'unchanged', who: `manager:${this.instanceId}` });
      }
    }
    return resent;
  }

  /**
   * `action.show`: the action and its history, oldest event first.
   * @throws NotFoundError when there is no such action.
   */
  async showAction(actionId: string): Promise<{ action: ActionRecord; events: ActionEvent[] }> {
    const em = this.tx.dataSource.manager;
    const action = await em.findOneBy(ActionRecord, { uuid: actionId });
    if (!action) throw new NotFoundError(`no action ${actionId}`);
    const events = await em.find(ActionEvent, { where: { actionUuid: actionId }, order: { id: 'ASC' } });
    return { action, events };
  }

  /**
   * Operator verbs `action.fail` / `action.succeed` (OpenNebula's `onevm recover --failure|--success`): moves a stuck
   * (QUEUED/ONGOING) action to `status` as if the agent had reported it — the VM effects of that outcome are applied
   * (a failed create or a successful delete removes the VM and releases its addresses; a failed action leaves the
   * VM `unknown`), the client's callback gets the status, and the history records who, when and why (the audit record).
   * @throws InputError without a reason; NotFoundError for an unknown action; ConflictError when it is already terminal.
   */
  async operatorResolve(actionId: string, status: 'SUCCESS' | 'FAILED', why: string, operator: string): Promise<void> {
    if (!why.trim()) throw new InputError('a reason (why) is required');
    await this.showAction(actionId);
    const description = status === 'FAILED' ? `failed by operator ${operator}: ${why}` : `marked successful by operator ${operator}: ${why}`;
    const done = await this.finish(actionId, status, description, { vmState: status === 'FAILED' ? 'unknown' : 'from-table', who: `operator:${operator}`, why });
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
    if (TERMINAL.includes(action.status)) throw new ConflictError(`action ${actionId} is ${action.status}: a finished action is not reopened; the client sends a new action`);
    if (action.type === 'create' && action.sendAttempts > 0) {
      throw new ConflictError(`create ${actionId} was already sent to the agent: check the host, then use fail or succeed`);
    }
    const now = Date.now();
    const taken = await this.tx.run(async (em) => {
      const moved = await em.update(
        ActionRecord,
        { uuid: actionId, status: action.status },
        { leaseOwner: this.instanceId, leaseExpiresAt: new Date(now + this.leaseSeconds * 1000), deadline: new Date(now + this.timeoutSeconds * 1000) },
      );
      if (!moved.affected) return false;
      await this.recordEvent(em, actionId, action.status, action.status, `operator:${operator}`, `retry: ${why}`);
      return true;
    });
    if (!taken) throw new ConflictError(`action ${actionId} changed meanwhile; show it again`);
    const vm = await this.tx.dataSource.manager.findOne(VirtualMachine, { where: { uuid: action.vmUuid }, relations: { interfaces: true } });
    if (!vm) throw new NotFoundError(`VM ${action.vmUuid} of the action is gone`);
    const server = await this.tx.dataSource.manager.findOneByOrFail(Server, { id: vm.serverId });
    const xml = this.agentXmlFor(action, vm, server);
    // An ONGOING action is re-sent directly (the hand-over lease only guards QUEUED actions).
    if (action.status === 'QUEUED') await this.handOver(actionId, server, xml);
    else await this.agents.send(server, this.options.agentCallbackUrl, xml);
  }

  /**
   * `vm.setExpiry`: when the manager deletes the VM (null: never).
   * @throws NotFoundError for an unknown VM.
   */
  async setExpiry(vmUuid: string, expiresAt: Date | null): Promise<void> {
    const moved = await this.tx.run((em) => em.update(VirtualMachine, { uuid: vmUuid.toLowerCase() }, { expiresAt }));
    if (!moved.affected) throw new NotFoundError(`no VM with uuid ${vmUuid}`);
  }

  /**
   * Expiry sweep: issues a normal delete action (system principal, a new action id) for every VM whose `expiresAt`
   * passed and that no action is busy with; its statuses go to the VM's callback like any delete's. A conditional
   * UPDATE moves the expiry forward by {@link EXPIRY_RETRY_MS} first, so of several managers only one deletes, and a
   * delete that fails is tried again later. Then the VMs of expired slices ({@link deleteVmsOfExpiredSlices}).
   * Returns the ids of the delete actions issued.
   */
  async deleteExpiredVms(now = new Date()): Promise<string[]> {
    const em = this.tx.dataSource.manager;
    const expired = await em.find(VirtualMachine, { where: { expiresAt: LessThan(now) }, order: { id: 'ASC' }, take: 100 });
    const issued: string[] = [];
    for (const vm of expired) {
      if (await em.existsBy(ActionRecord, { vmUuid: vm.uuid, status: In(['QUEUED', 'ONGOING']) })) continue;
      const claimed = await this.tx.run((t) => t.update(VirtualMachine, { id: vm.id, expiresAt: LessThan(now) }, { expiresAt: new Date(now.getTime() + EXPIRY_RETRY_MS) }));
      if (!claimed.affected) continue;
      const action: Action = { type: 'delete', id: randomUUID(), server: { virtualMachines: [{ uuid: vm.uuid, name: vm.name }] } };
      this.log.info('VM expired: deleting it', { vmUuid: vm.uuid, actionId: action.id, expiresAt: vm.expiresAt?.toISOString() });
      const refused = await this.process(action, vm.callbackUrl);
      if (refused === undefined) issued.push(action.id!);
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
    await this.tx.run(async (em) => {
      const row = { expiresAt, nextSweepAt: expiresAt, setBy: setBy.slice(0, 100), setAt };
      const moved = await em.update(SliceExpiry, { sliceId }, row);
      if (!moved.affected) await em.insert(SliceExpiry, { sliceId, ...row });
    });
    this.log.info(expiresAt ? 'slice expiry set' : 'slice expiry cleared', {
      sliceId, expiresAt: expiresAt?.toISOString() ?? null, setBy, setAt: setAt.toISOString(), why,
    });
  }

  /** `slice.list`: the slice expiries (cleared ones too, with who cleared them), by slice id. */
  async listSliceExpiries(): Promise<SliceExpiry[]> {
    return this.tx.dataSource.manager.find(SliceExpiry, { order: { sliceId: 'ASC' } });
  }

  /**
   * Expiry sweep for slices: for every slice whose expiry passed, issues a normal delete action (system principal,
   * statuses to each VM's callback) for each of its VMs that no action is busy with. A conditional UPDATE moves the
   * slice's `nextSweepAt` forward first, so of several managers only one issues the deletes; VMs still there then
   * (a delete failed) are tried again after {@link EXPIRY_RETRY_MS}, or after a minute when a VM was busy.
   * Returns the ids of the delete actions issued.
   */
  async deleteVmsOfExpiredSlices(now = new Date()): Promise<string[]> {
    const em = this.tx.dataSource.manager;
    const expired = await em.find(SliceExpiry, { where: { nextSweepAt: LessThan(now), expiresAt: LessThan(now) }, order: { id: 'ASC' }, take: 100 });
    const issued: string[] = [];
    for (const slice of expired) {
      const claimed = await this.tx.run((t) =>
        t.update(SliceExpiry, { id: slice.id, nextSweepAt: LessThan(now) }, { nextSweepAt: new Date(now.getTime() + EXPIRY_RETRY_MS) }),
      );
      if (!claimed.affected) continue;
      let busy = false;
      for (const vm of await em.find(VirtualMachine, { where: { sliceId: slice.sliceId }, order: { id: 'ASC' } })) {
        if (await em.existsBy(ActionRecord, { vmUuid: vm.uuid, status: In(['QUEUED', 'ONGOING']) })) {
          busy = true;
          continue;
        }
        const action: Action = { type: 'delete', id: randomUUID(), server: { virtualMachines: [{ uuid: vm.uuid, name: vm.name }] } };
        this.log.info('slice expired: deleting its VM', { sliceId: slice.sliceId, vmUuid: vm.uuid, actionId: action.id, expiresAt: slice.expiresAt?.toISOString() });
        const refused = await this.process(action, vm.callbackUrl);
        if (refused === undefined) issued.push(action.id!);
      }
      // A VM busy with another action is looked at again soon (the deletes just issued are busy then, so not doubled).
      if (busy) await this.tx.run((t) => t.update(SliceExpiry, { id: slice.id }, { nextSweepAt: new Date(now.getTime() + 60_000) }));
    }
    return issued;
  }

  /** The agent query for a stored action (modify carries the requested memory and vCPUs). */
  private agentXmlFor(action: ActionRecord, vm: VirtualMachine, server: Server): string {
    const target = Object.assign(Object.create(Object.getPrototypeOf(vm)) as VirtualMachine, vm, {
      memoryMb: action.requestedMemoryMb ?? vm.memoryMb,
      vcpus: action.requestedVcpus ?? vm.vcpus,
    });
    return this.agentQuery(action.uuid, action.type, server, target);
  }

  /** Appends a step to an action's history (inside `em`'s transaction). */
  private async recordEvent(em: EntityManager, actionUuid: string, fromStatus: ActionState | null, toStatus: ActionState, who: EventActor, why: string): Promise<void> {
    await em.insert(ActionEvent, { actionUuid, fromStatus, toStatus, who: who.slice(0, 128), why: why.slice(0, DESCRIPTION_MAX) });
  }

  /** Create: validates, checks for duplicates, stores VM + NICs + action, allocates addresses (one transaction). */
  private async prepareCreate(action: Action, callbackUrl: string, principal?: string) {
    const server = action.server;
    const rvm = server?.virtualMachines[0];
    if (!server || !rvm) throw new InputError('create needs server/virtual-machines');
    if (server.virtualMachines.length > 1) throw new InputError('one create action must name exactly one VM');
    const vmUuid = assertPattern(rvm.uuid, UUID_PATTERN, 'VM uuid').toLowerCase();
    const name = assertPattern(rvm.name, VM_NAME_PATTERN, 'VM name');
    const projectId = assertPattern(rvm.projectId, ACTION_ID_PATTERN, 'project-id');
    const sliceId = assertPattern(rvm.sliceId, ACTION_ID_PATTERN, 'slice-id');
    const cfg = rvm.xenConfiguration;
    const hdOriginPath = assertPattern(cfg?.hdOriginPath, HD_ORIGIN_PATTERN, 'hd-origin-path (template)');
    const memoryMb = cfg?.memoryMb;
    if (memoryMb === undefined || memoryMb < 64 || memoryMb > 1024 * 1024) throw new InputError('memory-mb must be an integer from 64 to 1048576');
    const vcpus = cfg?.vcpus ?? 1;
    if (vcpus < 1 || vcpus > 64) throw new InputError('vcpus must be an integer from 1 to 64');
    const serverUuid = assertPattern(server.uuid ?? rvm.serverId, UUID_PATTERN, 'server uuid').toLowerCase();

    const saved = await this.tx.run(async (em) => {
      if (await em.existsBy(ActionRecord, { uuid: action.id! })) throw new ConflictError(`action id ${action.id} is already used`);
      if (await em.existsBy(VirtualMachine, { uuid: vmUuid })) throw new ConflictError(`a VM with uuid ${vmUuid} exists`);
      const srv = await em.findOne(Server, { where: { uuid: serverUuid }, relations: { bridges: true } });
      if (!srv) throw new NotFoundError(`no server with uuid ${serverUuid}`);
      if (!srv.enabled) throw new ConflictError(`server ${srv.name} is disabled`);
      await this.checkProject(em, projectId, principal);
      const sliceExpiry = await em.findOneBy(SliceExpiry, { sliceId });
      if (sliceExpiry?.expiresAt && sliceExpiry.expiresAt.getTime() <= Date.now()) throw new ConflictError(`slice ${sliceId} has expired`);
      const bridges = [...srv.bridges].sort((a, b) => Number(b.isMgmt) - Number(a.isMgmt) || a.id - b.id);
      const interfaces: Partial<VmInterface>[] = [];
      for (const [i, bridge] of bridges.entries()) {
        const mac = await this.ipam.allocateMac(em, srv.id, vmUuid);
        const lease = bridge.isMgmt ? await this.ipam.allocateIpv4(em, srv.id, vmUuid) : undefined;
        interfaces.push({
          name: `eth${i}`, position: i, isMgmt: bridge.isMgmt, mac, bridge: bridge.name,
          ip: lease?.address ?? null, netmask: lease?.netmask ?? null, gateway: lease?.gateway ?? null, dns1: lease?.dns1 ?? null, dns2: lease?.dns2 ?? null,
        });
      }
      const vm = await em.save(
        em.create(VirtualMachine, {
          uuid: vmUuid, name, serverId: srv.id, projectId, projectName: rvm.projectName ?? null, sliceId, sliceName: rvm.sliceName ?? null,
          operatingSystemType: rvm.operatingSystemType ?? null, operatingSystemVersion: rvm.operatingSystemVersion ?? null,
          operatingSystemDistribution: rvm.operatingSystemDistribution ?? null, memoryMb, vcpus, hdSizeMb: cfg?.hdSizeMb ?? null, hdOriginPath,
          hdSetupType: cfg?.hdSetupType ?? 'file-image', virtualizationSetupType: cfg?.virtualizationSetupType ?? 'hvm',
          state: 'on queue', callbackUrl, interfaces: interfaces as VmInterface[],
        }),
      );
      await this.insertAction(em, action, vmUuid, callbackUrl, {}, principal);
      return { vm, server: srv };
    });
    return { ...saved, agentXml: this.agentQuery(action.id!, 'create', saved.server, saved.vm) };
  }

  /** start/stop/hardStop/reboot/delete/modify: looks the VM up and stores the action. */
  private async prepareLifecycle(action: Action, callbackUrl: string, principal?: string) {
    const rvm = action.server?.virtualMachines[0];
    const vmUuid = assertPattern(rvm?.uuid, UUID_PATTERN, 'VM uuid').toLowerCase();
    let requested: { memoryMb?: number; vcpus?: number } = {};
    if (action.type === 'modify') {
      const cfg = rvm?.xenConfiguration;
      requested = { memoryMb: cfg?.memoryMb, vcpus: cfg?.vcpus };
      if (requested.memoryMb === undefined && requested.vcpus === undefined) throw new InputError('modify needs xen-configuration/memory-mb and/or vcpus');
      if (requested.memoryMb !== undefined && (requested.memoryMb < 64 || requested.memoryMb > 1024 * 1024)) throw new InputError('memory-mb must be an integer from 64 to 1048576');
      if (requested.vcpus !== undefined && (requested.vcpus < 1 || requested.vcpus > 64)) throw new InputError('vcpus must be an integer from 1 to 64');
    }
    const saved = await this.tx.run(async (em) => {
      if (await em.existsBy(ActionRecord, { uuid: action.id! })) throw new ConflictError(`action id ${action.id} is already used`);
      const vm = await em.findOne(VirtualMachine, { where: { uuid: vmUuid }, relations: { interfaces: true } });
      if (!vm) throw new NotFoundError(`no VM with uuid ${vmUuid}`);
      await this.checkProject(em, vm.projectId, principal);
      const busy = await em.findOne(ActionRecord, { where: { vmUuid, status: In(['QUEUED', 'ONGOING']) } });
      if (busy) throw new ConflictError(`VM ${vm.name} is busy with action ${busy.uuid} (${busy.type})`);
      const server = await em.findOneByOrFail(Server, { id: vm.serverId });
      await this.insertAction(em, action, vmUuid, callbackUrl, requested, principal);
      return { vm, server };
    });
    // The agent gets the VM as it should become: modify carries the requested memory and vCPUs.
    const target = Object.assign(Object.create(Object.getPrototypeOf(saved.vm)) as VirtualMachine, saved.vm, {
      memoryMb: requested.memoryMb ?? saved.vm.memoryMb,
      vcpus: requested.vcpus ?? saved.vm.vcpus,
    });
    return { ...saved, agentXml: this.agentQuery(action.id!, action.type!, saved.server, target) };
  }

  /**
   * Project ownership: the first clearinghouse principal that names a project owns it; any other principal is
   * refused. Internal callers (no principal) are not checked.
   * @throws NotAllowedError when the project belongs to another principal.
   */
  private async checkProject(em: EntityManager, projectId: string, principal: string | undefined): Promise<void> {
    if (principal === undefined) return;
    let owner = await em.findOneBy(ProjectOwner, { projectId });
    if (!owner) {
      try {
        await em.insert(ProjectOwner, { projectId, principal });
        return;
      } catch (err) {
        // Another request claimed the project between our read and our insert (parallel first creates, or two
        // managers): the unique index decided; read who won.
        if (!/UNIQUE constraint failed|Duplicate entry|ER_DUP_ENTRY/i.test(String((err as Error)?.message ?? err))) throw err;
        owner = await em.findOneBy(ProjectOwner, { projectId });
        if (!owner) throw new ConflictError(`project ${projectId} is being claimed concurrently; try again`);
      }
    }
    if (owner.principal !== principal) throw new NotAllowedError(`project ${projectId} belongs to another clearinghouse`);
  }

  private async insertAction(
    em: EntityManager,
    action: Action,
    vmUuid: string,
    callbackUrl: string,
    requested: { memoryMb?: number; vcpus?: number } = {},
    principal?: string,
  ): Promise<void> {
    await em.insert(ActionRecord, {
      uuid: action.id!, type: action.type!, status: 'QUEUED', description: '', vmUuid, callbackUrl,
      requestedMemoryMb: requested.memoryMb ?? null, requestedVcpus: requested.vcpus ?? null,
      deadline: new Date(Date.now() + this.timeoutSeconds * 1000),
      leaseOwner: this.instanceId, leaseExpiresAt: new Date(Date.now() + this.leaseSeconds * 1000), sendAttempts: 0,
    });
    await this.recordEvent(em, action.id!, null, 'QUEUED', principal !== undefined ? `principal:${principal}` : 'system', `${action.type} requested`);
  }

  /** The query sent to the agent (manager dialect, §6.5): the VM as stored, NICs rewritten as in §6.5.2. */
  agentQuery(actionId: string, type: string, server: Server, vm: VirtualMachine): string {
    const doc: Rspec = {
      query: { provisioning: { actions: [{ type, id: actionId, server: { uuid: server.uuid, virtualizationType: server.virtualizationType, virtualMachines: [vmToRspec(vm, server, true)] } }] } },
    };
    return serialiseRspec(doc, { dialect: 'manager' });
  }

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
      if (status === 'ONGOING') await this.progress(a.id, description);
      else await this.finish(a.id, status, description);
    }
  }

  /** @throws NotAllowedError when one of the (known) actions is about a VM that is not on server `serverName`. */
  private async assertActionsOfServer(actionIds: string[], serverName: string): Promise<void> {
    if (actionIds.length === 0) return;
    const em = this.tx.dataSource.manager;
    const server = await em.findOneBy(Server, { name: serverName });
    for (const action of await em.findBy(ActionRecord, { uuid: In(actionIds) })) {
      const vm = await em.findOneBy(VirtualMachine, { uuid: action.vmUuid });
      if (!server || !vm || vm.serverId !== server.id) {
        throw new NotAllowedError(`action ${action.uuid} is not about a VM of server ${serverName}`);
      }
    }
  }

  private async progress(actionId: string, description: string): Promise<void> {
    const result = await this.tx.run(async (em) => {
      // A conditional update: of two managers applying the same status, only one changes the row.
      const moved = await em.update(ActionRecord, { uuid: actionId, status: 'QUEUED' }, { status: 'ONGOING', description: description.slice(0, DESCRIPTION_MAX) });
      if (!moved.affected) return undefined;
      const action = await em.findOneByOrFail(ActionRecord, { uuid: actionId });
      const vm = await em.findOneBy(VirtualMachine, { uuid: action.vmUuid });
      const state = vmStateAfter(action.type, 'ONGOING');
      if (vm && state) await em.update(VirtualMachine, { id: vm.id }, { state });
      await this.recordEvent(em, actionId, 'QUEUED', 'ONGOING', 'agent', description);
      const callbackUrl = vm?.callbackUrl || action.callbackUrl;
      const outboxed = await this.enqueueStatus(em, callbackUrl, actionId, action.type, 'ONGOING', description);
      return { action, callbackUrl, outboxed };
    });
    if (!result) {
      this.log.info('ONGOING for an unknown or already running action ignored', { actionId });
      return;
    }
    this.afterCommit(result.outboxed, result.callbackUrl, actionId, result.action.type, 'ONGOING', description);
  }

  /**
   * Moves an action to a terminal status exactly once, applies the VM effects (state; a failed create or a
   * successful delete removes the VM and releases its addresses), and notifies the client. A second terminal
   * status for the same action is ignored. `vmState`: `from-table` (default) applies the §5.3 table; `unchanged`
   * keeps the VM's state (the agent never got the action); `unknown` marks it `unknown` (the agent went silent
   * and may or may not have acted).
   */
  async finish(
    actionId: string,
    status: 'SUCCESS' | 'FAILED',
    description: string,
    options: { vmState?: 'from-table' | 'unchanged' | 'unknown'; who?: EventActor; why?: string } = {},
  ): Promise<boolean> {
    const vmStateRule = options.vmState ?? 'from-table';
    const result = await this.tx.run(async (em) => {
      const before = await em.findOneBy(ActionRecord, { uuid: actionId });
      if (!before || TERMINAL.includes(before.status)) return undefined;
      // A conditional update: a terminal status is applied once, also with several managers on one database.
      const moved = await em.update(
        ActionRecord,
        { uuid: actionId, status: In(['QUEUED', 'ONGOING']) },
        { status, description: description.slice(0, DESCRIPTION_MAX) },
      );
      if (!moved.affected) return undefined;
      const action = await em.findOneByOrFail(ActionRecord, { uuid: actionId });
      await this.recordEvent(em, actionId, before.status, status, options.who ?? 'agent', options.why ?? description);
      const vm = await em.findOneBy(VirtualMachine, { uuid: action.vmUuid });
      const callbackUrl = vm?.callbackUrl || action.callbackUrl;
      if (vm) {
        const removes = (action.type === 'create' && status === 'FAILED') || (action.type === 'delete' && status === 'SUCCESS');
        if (removes) {
          await this.ipam.releaseAll(em, vm.uuid);
          await em.delete(VmInterface, { vmId: vm.id });
          await em.delete(VirtualMachine, { id: vm.id });
        } else if (action.type === 'modify' && status === 'SUCCESS') {
          await em.update(VirtualMachine, { id: vm.id }, {
            ...(action.requestedMemoryMb !== null ? { memoryMb: action.requestedMemoryMb } : {}),
            ...(action.requestedVcpus !== null ? { vcpus: action.requestedVcpus } : {}),
          });
        } else if (vmStateRule !== 'unchanged') {
          const state = vmStateRule === 'unknown' ? 'unknown' : vmStateAfter(action.type, status);
          if (state) await em.update(VirtualMachine, { id: vm.id }, { state });
        }
      }
      const outboxed = await this.enqueueStatus(em, callbackUrl, actionId, action.type, status, description);
      return { action, callbackUrl, outboxed };
    });
    if (!result) {
      this.log.info('terminal status for an unknown or finished action ignored', { actionId, status });
      return false;
    }
    this.log.log(status === 'SUCCESS' ? 'info' : 'warn', `action ${status}`, { actionId, actionType: result.action.type, description });
    this.afterCommit(result.outboxed, result.callbackUrl, actionId, result.action.type, status, description);
    return true;
  }

  /**
   * Fails every QUEUED/ONGOING action whose deadline has passed. Returns how many were failed. The VM's state
   * becomes `unknown` (what the agent did is not known); a create is undone.
   */
  async failOverdueActions(now = new Date()): Promise<number> {
    const overdue = await this.tx.dataSource.getRepository(ActionRecord).find({ where: { status: In(['QUEUED', 'ONGOING']), deadline: LessThan(now) } });
    let n = 0;
    for (const a of overdue) {
      if (await this.finish(a.uuid, 'FAILED', `no terminal status from the agent within ${this.timeoutSeconds} s`, { vmState: 'unknown', who: 'system' })) n++;
    }
    return n;
  }

  /** The status document sent to the client. */
  private statusXml(actionId: string, type: string, status: ActionState, description: string): string {
    // The OCF wire is ASCII-only (ocf-protocol.md §6.1 rule 9): a reason must never stop a status from going out.
    const ascii = description.replace(/[^\x20-\x7e\n\t]/g, '?');
    const doc = provisioningStatusResponse({ actionId, type, status: status as 'ONGOING' | 'SUCCESS' | 'FAILED', description: ascii });
    // The manager's forwarded copies drop an empty description (ocf-protocol.md §6.1 rule 6, §8.5).
    if (!ascii) delete doc.response!.provisioning!.actions[0]!.description;
    return serialiseRspec(doc, { dialect: 'manager' });
  }

  /**
   * With an outbox notifier, stores the status notification in the status change's transaction (returns true);
   * otherwise returns false and {@link afterCommit} sends it.
   */
  private async enqueueStatus(em: EntityManager, callbackUrl: string, actionId: string, type: string, status: ActionState, description: string): Promise<boolean> {
    if (!callbackUrl || !this.notifier.enqueue) return false;
    await this.notifier.enqueue(em, callbackUrl, this.statusXml(actionId, type, status, description));
    return true;
  }

  private afterCommit(outboxed: boolean, callbackUrl: string, actionId: string, type: string, status: ActionState, description: string): void {
    if (outboxed) this.notifier.wake?.();
    else this.notify(callbackUrl, actionId, type, status, description);
  }

  /** A status with no state change to commit with it: through the outbox (own transaction) when there is one. */
  private async notifyDurably(callbackUrl: string, actionId: string, type: string, status: ActionState, description: string): Promise<void> {
    if (!callbackUrl) return;
    try {
      const outboxed = await this.tx.run((em) => this.enqueueStatus(em, callbackUrl, actionId, type, status, description));
      this.afterCommit(outboxed, callbackUrl, actionId, type, status, description);
    } catch (err) {
      this.log.error('storing a status for the client failed; sending it directly', { actionId, error: describeError(err) });
      this.notify(callbackUrl, actionId, type, status, description);
    }
  }

  private notify(callbackUrl: string, actionId: string, type: string, status: ActionState, description: string): void {
    if (!callbackUrl) return; // send_sync without a callback
    this.notifier.sendAsync(callbackUrl, this.statusXml(actionId, type, status, description));
  }
}
