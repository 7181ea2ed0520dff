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
import { LessThan, In, type EntityManager } from 'typeorm';
import { ActionRecord, type ActionState } from '../db/entities/action.js';
import { ProjectOwner } from '../db/entities/project-owner.js';
import { Server } from '../db/entities/server.js';
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
  logger: Logger;
}

const DESCRIPTION_MAX = 2048;
const TERMINAL: ActionState[] = ['SUCCESS', 'FAILED'];

/** hd-origin-path: `<template>` or `<template>/<file>` (validated before it reaches the agent). */
const HD_ORIGIN_PATTERN = new RegExp(`^${TEMPLATE_NAME_PATTERN.source.slice(1, -1)}(?:/${TEMPLATE_NAME_PATTERN.source.slice(1, -1)})?$`);

export class ProvisioningService {
  private readonly timeoutSeconds: number;
  private readonly log: Logger;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly ipam: IpamService,
    private readonly agents: AgentGateway,
    private readonly notifier: ClientNotifier,
    private readonly options: ProvisioningOptions,
  ) {
    this.timeoutSeconds = options.actionTimeoutSeconds ?? 600;
    this.log = options.logger;
  }

  /**
   * Northbound `send(callBackUrl, xml)`. Parses the query and validates every action's id and type, then
   * processes the actions in order in the background, and returns (`nil` on the wire). `handedOver` resolves once
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
    const handedOver = (async () => {
      const refused = new Map<string, string>();
      for (const a of actions) {
        const reason = await this.process(a, callbackUrl, options.principal);
        if (reason !== undefined) refused.set(a.id!, reason);
      }
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
    const actionId = action.id!;
    const type = action.type!;
    const log = this.log.child({ actionId, actionType: type });
    let stored = false;
    try {
      const prepared =
        type === 'create' ? await this.prepareCreate(action, callbackUrl, principal) : await this.prepareLifecycle(action, callbackUrl, principal);
      stored = true;
      log.info('action queued', { vmUuid: prepared.vm.uuid, server: prepared.server.name });
      await this.agents.send(prepared.server, this.options.agentCallbackUrl, prepared.agentXml);
      log.info('action sent to agent', { server: prepared.server.name });
    } catch (err) {
      const reason = describeError(err);
      log.warn('action failed before the agent reported', { reason });
      // The agent never got the action: the VM's state is unknown to it, so only a create is undone.
      if (stored) await this.finish(actionId, 'FAILED', reason, { vmState: 'unchanged' });
      else {
        this.notify(callbackUrl, actionId, type, 'FAILED', reason);
        return reason;
      }
    }
    return undefined;
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
      await this.insertAction(em, action, vmUuid, callbackUrl);
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
      await this.insertAction(em, action, vmUuid, callbackUrl, requested);
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
    const owner = await em.findOneBy(ProjectOwner, { projectId });
    if (!owner) await em.insert(ProjectOwner, { projectId, principal });
    else if (owner.principal !== principal) throw new NotAllowedError(`project ${projectId} belongs to another clearinghouse`);
  }

  private async insertAction(
    em: EntityManager,
    action: Action,
    vmUuid: string,
    callbackUrl: string,
    requested: { memoryMb?: number; vcpus?: number } = {},
  ): Promise<void> {
    await em.insert(ActionRecord, {
      uuid: action.id!, type: action.type!, status: 'QUEUED', description: '', vmUuid, callbackUrl,
      requestedMemoryMb: requested.memoryMb ?? null, requestedVcpus: requested.vcpus ?? null,
      deadline: new Date(Date.now() + this.timeoutSeconds * 1000),
    });
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
      return { action, callbackUrl: vm?.callbackUrl || action.callbackUrl };
    });
    if (!result) {
      this.log.info('ONGOING for an unknown or already running action ignored', { actionId });
      return;
    }
    this.notify(result.callbackUrl, actionId, result.action.type, 'ONGOING', description);
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
    options: { vmState?: 'from-table' | 'unchanged' | 'unknown' } = {},
  ): Promise<boolean> {
    const vmStateRule = options.vmState ?? 'from-table';
    const result = await this.tx.run(async (em) => {
      // A conditional update: a terminal status is applied once, also with several managers on one database.
      const moved = await em.update(
        ActionRecord,
        { uuid: actionId, status: In(['QUEUED', 'ONGOING']) },
        { status, description: description.slice(0, DESCRIPTION_MAX) },
      );
      if (!moved.affected) return undefined;
      const action = await em.findOneByOrFail(ActionRecord, { uuid: actionId });
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
      return { action, callbackUrl };
    });
    if (!result) {
      this.log.info('terminal status for an unknown or finished action ignored', { actionId, status });
      return false;
    }
    this.log.log(status === 'SUCCESS' ? 'info' : 'warn', `action ${status}`, { actionId, actionType: result.action.type, description });
    this.notify(result.callbackUrl, actionId, result.action.type, status, description);
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
      if (await this.finish(a.uuid, 'FAILED', `no terminal status from the agent within ${this.timeoutSeconds} s`, { vmState: 'unknown' })) n++;
    }
    return n;
  }

  private notify(callbackUrl: string, actionId: string, type: string, status: ActionState, description: string): void {
    if (!callbackUrl) return; // send_sync without a callback
    // The OCF wire is ASCII-only (ocf-protocol.md §6.1 rule 9): a reason must never stop a status from going out.
    const ascii = description.replace(/[^\x20-\x7e\n\t]/g, '?');
    const doc = provisioningStatusResponse({ actionId, type, status: status as 'ONGOING' | 'SUCCESS' | 'FAILED', description: ascii });
    // The manager's forwarded copies drop an empty description (ocf-protocol.md §6.1 rule 6, §8.5).
    if (!ascii) delete doc.response!.provisioning!.actions[0]!.description;
    this.notifier.sendAsync(callbackUrl, serialiseRspec(doc, { dialect: 'manager' }));
  }
}
