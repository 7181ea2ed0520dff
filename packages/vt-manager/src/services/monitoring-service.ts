/**
 * Monitoring (docs/ocf-protocol.md §4.3, §5.4, §6.8, §7.3): periodic `ping` + `listActiveVMs` per server, libvirt
 * lifecycle events pushed by agents (`id="callback"`), and the clearinghouse's `force_update_exp_vms` (§2.2.5).
 *
 * Deliberate differences from the original (docs/compatibility.md):
 * - VMs with an action in flight are not touched by monitoring (their action decides their state);
 * - a `listActiveVMs` result marks listed VMs running and running-but-unlisted VMs stopped; other states
 *   (`created (stopped)`, `failed`…) are left alone instead of being forced to `stopped`;
 * - events: Started/Resumed → running, Stopped → stopped, Suspended → unknown; Defined/Undefined change nothing
 *   (create and delete report those); only Started and Stopped are forwarded to the client, the two values the
 *   Expedient plugin maps (§3.3) — anything else would turn its VM `unknown`;
 * - records are never deleted by monitoring (`force_update_exp_vms` in the original deleted `deleting...` and
 *   `failed` VMs that were not running, leaving their domains and addresses behind).
 */
import { randomUUID } from 'node:crypto';
import {
  describeError,
  listActiveVmsQuery,
  NotAllowedError,
  NotFoundError,
  serialiseRspec,
  UUID_PATTERN,
  InputError,
  type Action,
  type Logger,
  type Rspec,
} from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { Server } from '../db/entities/server.js';
import type { VmState } from '../db/entities/virtual-machine.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { OPTION_DEFAULTS } from '../manager-options.js';
import { ActionRepository } from '../repositories/action-repository.js';
import { ServerRepository } from '../repositories/server-repository.js';
import { VmRepository } from '../repositories/vm-repository.js';
import { ownsProject, visibleProjects } from './project-ownership.js';
import type { AgentGateway, ClientNotifier, TemplateInfo } from './ports.js';

/** Options of {@link MonitoringService}. */
export interface MonitoringOptions {
  /** The URL (with credentials) agents answer monitoring queries on. */
  agentCallbackUrl: string;
  logger: Logger;
  /** Consecutive failed pings before a server is marked unavailable. Default: the config's (3); 1 marks it at the first failure. */
  failureThreshold?: number;
  /** Refreshes a server's host facts after each successful ping (never throws); absent: not refreshed. */
  hostFacts?: { refresh(server: Server): Promise<unknown> };
}

const EVENT_STATES: Record<string, VmState | undefined> = { Started: 'running', Resumed: 'running', Stopped: 'stopped', Suspended: 'unknown' };
const FORWARDED_EVENTS = new Set(['Started', 'Stopped']);
/** State note of a VM whose domain was undefined on its host with no action in flight. */
export const VANISHED_NOTE = 'domain vanished from host';
/** How long a sent listActiveVMs query waits for its answer before it is forgotten, in ms. */
const QUERY_TTL_MS = 10 * 60 * 1000;

/** Monitoring rounds, agents' monitoring documents, `force_update_exp_vms` and `list_vm_templates`. */
export class MonitoringService {
  private readonly pendingQueries = new Map<string, { serverId: number; sentAt: number }>();
  /** Consecutive failed pings per server id. */
  private readonly failures = new Map<number, number>();
  private readonly log: Logger;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly agents: AgentGateway,
    private readonly notifier: ClientNotifier,
    private readonly options: MonitoringOptions,
  ) {
    this.log = options.logger;
  }

  /** Reads and single statements outside a transaction. */
  private get em(): EntityManager {
    return this.tx.manager;
  }

  /**
   * One monitoring round (§7.3): for each server, `ping`; on success `listActiveVMs` (its answer arrives later
   * through `sendAsync`) and the server is available; after `failureThreshold` consecutive failures it is marked
   * unavailable. Returns per-server outcomes.
   */
  async monitorOnce(): Promise<Array<{ server: string; available: boolean; error?: string }>> {
    const servers = await new ServerRepository(this.em).list();
    const now = Date.now();
    for (const [id, q] of this.pendingQueries) if (now - q.sentAt > QUERY_TTL_MS) this.pendingQueries.delete(id);
    const out: Array<{ server: string; available: boolean; error?: string }> = [];
    for (const server of servers) {
      try {
        await this.agents.ping(server, 'hola');
        this.failures.delete(server.id);
        if (!server.available) this.log.info('server available again', { server: server.name });
        await new ServerRepository(this.em).setAvailable(server.id, true);
        await this.options.hostFacts?.refresh(server);
        const id = randomUUID();
        this.pendingQueries.set(id, { serverId: server.id, sentAt: now });
        const xml = serialiseRspec(listActiveVmsQuery({ actionId: id, virtualizationType: server.virtualizationType }), { dialect: 'manager' });
        await this.agents.sendMonitoring(server, this.options.agentCallbackUrl, xml);
        out.push({ server: server.name, available: true });
      } catch (err) {
        const error = describeError(err);
        const failures = (this.failures.get(server.id) ?? 0) + 1;
        this.failures.set(server.id, failures);
        const down = failures >= (this.options.failureThreshold ?? OPTION_DEFAULTS.monitoringFailureThreshold);
        if (!down) {
          this.log.info('agent did not answer', { server: server.name, failures, error });
          out.push({ server: server.name, available: server.available, error });
          continue;
        }
        if (server.available) this.log.warn('server unavailable', { server: server.name, failures, error });
        await new ServerRepository(this.em).setAvailable(server.id, false);
        out.push({ server: server.name, available: false, error });
      }
    }
    return out;
  }

  /**
   * Applies the monitoring part of an agent `sendAsync` document (§5.4). Unknown ids and VMs are logged and
   * dropped. With `from` (the sending server), events must be about that server's VMs and answers about queries
   * sent to that server; otherwise nothing is applied.
   * @throws NotAllowedError naming the first message about another server.
   */
  async handleMonitoringDocument(doc: Rspec, rawForward: (doc: Rspec) => string, from?: { name: string }): Promise<void> {
    const actions = doc.response?.monitoring?.actions ?? [];
    if (from) await this.assertAboutServer(actions, from.name);
    for (const action of actions) {
      try {
        if (action.id === 'callback') await this.handleEvent(action, rawForward);
        else await this.handleListResult(action);
      } catch (err) {
        this.log.warn('monitoring message not applied', { actionId: action.id, error: describeError(err) });
      }
    }
  }

  private async handleEvent(action: Action, rawForward: (doc: Rspec) => string): Promise<void> {
    const ev = action.server?.virtualMachines[0];
    if (!ev?.uuid || !UUID_PATTERN.test(ev.uuid)) return;
    const vms = new VmRepository(this.em);
    const vm = await vms.findByUuid(ev.uuid.toLowerCase());
    if (!vm) {
      this.log.info('event for an unknown VM dropped', { vmUuid: ev.uuid, status: ev.status });
      return;
    }
    const state = EVENT_STATES[ev.status ?? ''];
    if (state && !(await this.busy(vm.uuid)) && (vm.state !== state || vm.stateNote)) {
      await vms.setState(vm.id, state, '');
      this.log.info('VM state from libvirt event', { vmUuid: vm.uuid, event: ev.status, state });
    }
    // The domain was undefined on the host while no action (delete, failed create) was about the VM: it vanished
    // (removed by hand, host reinstalled). The VM is marked so, never deleted: an operator or the client decides.
    if (ev.status === 'Undefined' && !(await this.busy(vm.uuid)) && vm.state !== 'failed') {
      await vms.setState(vm.id, 'failed', VANISHED_NOTE);
      this.log.warn('VM domain vanished from its host: marked failed', { vmUuid: vm.uuid, previousState: vm.state });
    }
    if (FORWARDED_EVENTS.has(ev.status ?? '') && vm.callbackUrl) {
      const forwarded: Rspec = { response: { monitoring: { actions: [{ ...action, server: { virtualMachines: [{ name: ev.name ?? vm.name, uuid: vm.uuid, status: ev.status }] } }] } } };
      this.notifier.sendAsync(vm.callbackUrl, rawForward(forwarded));
    }
  }

  private async handleListResult(action: Action): Promise<void> {
    const queryId = action.id;
    const pending = queryId ? this.pendingQueries.get(queryId) : undefined;
    if (!queryId || !pending) {
      this.log.info('monitoring answer for an unknown query dropped', { actionId: action.id, status: action.status });
      return;
    }
    if (action.status === 'ONGOING') return;
    this.pendingQueries.delete(queryId);
    if (action.status !== 'SUCCESS') {
      this.log.warn('listActiveVMs failed', { serverId: pending.serverId, description: action.description });
      return;
    }
    const running = new Set((action.server?.virtualMachines ?? []).map((v) => v.uuid?.toLowerCase()).filter(Boolean));
    await this.applyRunningSet(pending.serverId, running, undefined);
  }

  private async assertAboutServer(actions: Action[], serverName: string): Promise<void> {
    if (actions.length === 0) return;
    const server = await new ServerRepository(this.em).findByName(serverName);
    for (const action of actions) {
      if (action.id === 'callback') {
        const uuid = action.server?.virtualMachines[0]?.uuid?.toLowerCase();
        const vm = uuid ? await new VmRepository(this.em).findByUuid(uuid) : null;
        if (vm && (!server || vm.serverId !== server.id)) throw new NotAllowedError(`event about VM ${uuid}, which is not on server ${serverName}`);
      } else {
        const pending = action.id ? this.pendingQueries.get(action.id) : undefined;
        if (pending && (!server || pending.serverId !== server.id)) throw new NotAllowedError(`answer to query ${action.id}, which was sent to another server`);
      }
    }
  }

  /** VMs with a QUEUED/ONGOING action are left to that action. */
  private async busy(vmUuid: string): Promise<boolean> {
    return new ActionRepository(this.em).isVmBusy(vmUuid);
  }

  /** Listed VMs become running; unlisted VMs that were running or in a transition become stopped. */
  private async applyRunningSet(serverId: number, running: Set<string | undefined>, onlyVm: string | undefined): Promise<number> {
    return this.tx.run(async (em) => {
      const vmRepo = new VmRepository(em);
      const vms = await vmRepo.listOnServer(serverId, onlyVm);
      const busy = await new ActionRepository(em).busyVmUuids();
      let changed = 0;
      for (const vm of vms) {
        if (busy.has(vm.uuid)) continue;
        const next: VmState | undefined = running.has(vm.uuid)
          ? 'running'
          : ['running', 'starting...', 'stopping...', 'rebooting...'].includes(vm.state)
            ? 'stopped'
            : undefined;
        if (next && next !== vm.state) {
          await vmRepo.setState(vm.id, next);
          changed++;
        }
      }
      return changed;
    });
  }

  /**
   * `force_update_exp_vms(client_id, vm_id)` (§2.2.5): asks the agent(s) which VMs run, updates the states, and
   * returns the agents' `{vm uuid: name}`. `client_id` is a server UUID, `vm_id` a VM UUID, either `"None"`
   * (both `"None"`: every server; the original faulted). An unreachable agent contributes `{}`.
   * @throws NotFoundError for an unknown server or VM (Expedient then drops its copy of that VM, §3.2), and for
   *   another clearinghouse's VM (the same text as an unknown one); InputError for a malformed UUID.
   */
  async forceUpdate(serverUuid: string, vmUuid: string, principal?: string): Promise<Record<string, string>> {
    const none = (v: string) => v === 'None' || v === '';
    const repo = new ServerRepository(this.em);
    const vms = new VmRepository(this.em);
    let servers: Server[];
    let onlyVm: string | undefined;
    if (!none(vmUuid)) {
      if (!UUID_PATTERN.test(vmUuid)) throw new InputError('vm_id must be a VM UUID or None');
      const vm = await vms.findByUuid(vmUuid.toLowerCase());
      // Another clearinghouse's VM reads exactly as an unknown one (docs/security.md: refusals do not leak).
      if (!vm || (principal !== undefined && !(await ownsProject(this.em, principal, vm.projectId)))) throw new NotFoundError(`no VM with uuid ${vmUuid}`);
      onlyVm = vm.uuid;
      servers = [await repo.getById(vm.serverId)];
    } else if (!none(serverUuid)) {
      if (!UUID_PATTERN.test(serverUuid)) throw new InputError('client_id must be a server UUID or None');
      const s = await repo.findByUuid(serverUuid.toLowerCase());
      if (!s) throw new NotFoundError(`no server with uuid ${serverUuid}`);
      servers = [s];
    } else servers = await repo.list();
    const answer: Record<string, string> = {};
    for (const server of servers) {
      let listed: Record<string, string>;
      try {
        listed = await this.agents.forceListActiveVms(server, onlyVm ?? 'None');
      } catch (err) {
        this.log.warn('force_list_active_vms failed', { server: server.name, error: describeError(err) });
        continue;
      }
      // Answer with the VM names (§2.2.5, §8.11); an agent may report its domain names instead.
      const uuids = Object.keys(listed).map((k) => k.toLowerCase());
      const known = uuids.length ? await vms.findByUuids(uuids) : [];
      const owned = await visibleProjects(this.em, principal);
      for (const [uuid, name] of Object.entries(listed)) {
        const vm = known.find((v) => v.uuid === uuid.toLowerCase());
        // a clearinghouse learns only about the VMs of its own projects
        if (owned && (!vm || !owned.has(vm.projectId))) continue;
        answer[uuid] = vm?.name ?? name;
      }
      await this.applyRunningSet(server.id, new Set(Object.keys(listed).map((k) => k.toLowerCase())), onlyVm);
    }
    return answer;
  }

  /**
   * `list_vm_templates(server_uuid)` (§2.2.4, made to work): the agent's catalogue with metadata.
   * @throws NotFoundError for an unknown server; UpstreamError when the agent fails.
   */
  async listTemplates(serverUuid: string): Promise<TemplateInfo[]> {
    if (!UUID_PATTERN.test(serverUuid)) throw new InputError('server_uuid must be a UUID');
    const server = await new ServerRepository(this.em).findByUuid(serverUuid.toLowerCase());
    if (!server) throw new NotFoundError(`no server with uuid ${serverUuid}`);
    return this.agents.listTemplates(server);
  }
}
