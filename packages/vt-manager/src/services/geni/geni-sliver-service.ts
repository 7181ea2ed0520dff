/**
 * GENI slivers (docs/geni-v3.md §5, §6.4–§6.9; decision record 022): Allocate reserves capacity and a management
 * address in one transaction (all-or-nothing); Provision runs the normal create action (the same intake, store,
 * dispatcher and agent as OCF `send(create)`, no callback) with `geni_users` for cloud-init; operational actions and
 * Delete are normal start/hardStop/reboot/delete actions; expiry drops allocations and deletes provisioned VMs.
 * Callers (geni-aggregate-service.ts) have checked credentials, arguments and slice binding already.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, describeError, VM_NAME_PATTERN, type Action, type Logger } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { GeniSliver } from '../../db/entities/geni-sliver.js';
import type { Server } from '../../db/entities/server.js';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { sliceProjectId } from '../../domain/geni-sliver-state.js';
import { ActionRepository } from '../../repositories/action-repository.js';
import { GeniSliverRepository } from '../../repositories/geni-sliver-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';
import { VmRepository } from '../../repositories/vm-repository.js';
import type { IpamService } from '../ipam-service.js';
import type { PlacementService } from '../placement/placement-service.js';
import type { AgentGateway } from '../ports.js';
import type { ActionIntake } from '../provisioning/action-intake.js';
import type { GeniUser } from './geni-options.js';
import type { GeniRspecCodec, RequestedNode } from './geni-ports.js';
import { GENI_CODE, GeniFault } from './geni-result.js';
import { GENI_PRINCIPAL, type GeniSettings } from './geni-settings.js';

/** GENI operational actions we support (§6.8) and the action each becomes. */
export const POA_ACTIONS = { geni_start: 'start', geni_stop: 'hardStop', geni_restart: 'reboot' } as const;
export type PoaAction = keyof typeof POA_ACTIONS;

/** Most slivers the sweep looks at per round. */
const SWEEP_BATCH = 200;
/** A failed delete is tried again after this long, in ms. */
const DELETE_RETRY_MS = 60_000;

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

/** Slivers: the write side. */
export class GeniSliverService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly intake: ActionIntake,
    private readonly ipam: IpamService,
    private readonly placement: PlacementService,
    private readonly agents: Pick<AgentGateway, 'listTemplates'>,
    private readonly codec: GeniRspecCodec,
    private readonly settings: GeniSettings,
    private readonly log: Logger,
  ) {}

  /**
   * Allocate (§6.4): one `allocated` sliver per requested node, all in one transaction (all-or-nothing), each
   * reserving its capacity on its server (placed by the placement policy when unbound) and a management address.
   * `expiresAt` is already min(credential, geni_end_time, now + maxAllocationHours).
   * @throws GeniFault BADARGS (bad client_id, duplicate client_id in the request, unknown server, unknown image —
   *   naming the templates we have), ALREADYEXISTS (client_id already in the slice, or the sliver URN taken),
   *   REFUSED (server down/disabled/draining, no room, pool exhausted).
   */
  async allocate(sliceUrn: string, sliceHrn: string, ownerUrn: string, nodes: RequestedNode[], expiresAt: Date): Promise<GeniSliver[]> {
    const seen = new Set<string>();
    for (const n of nodes) {
      if (!VM_NAME_PATTERN.test(n.clientId)) throw new GeniFault(GENI_CODE.BADARGS, `client_id ${JSON.stringify(n.clientId.slice(0, 80))} is not a valid VM name (letters, digits and -, at most 64)`);
      if (seen.has(n.clientId)) throw new GeniFault(GENI_CODE.BADARGS, `client_id ${n.clientId} appears twice in the request`);
      seen.add(n.clientId);
    }
    const servers = await new ServerRepository(this.tx.manager).list();
    const byName = new Map(servers.map((s) => [s.name, s]));
    for (const n of nodes) {
      if (n.serverName === undefined) continue;
      const s = byName.get(n.serverName);
      if (!s) throw new GeniFault(GENI_CODE.BADARGS, `node ${n.serverName} is not a node of this aggregate (nodes: ${servers.map((x) => x.name).join(', ') || 'none'})`);
      if (!s.enabled || s.draining || !s.available) throw new GeniFault(GENI_CODE.REFUSED, `node ${s.name} is ${!s.enabled ? 'disabled' : s.draining ? 'draining' : 'down'}: it takes no new slivers`);
    }
    // Template catalogues (agent calls, outside the transaction): the bound servers', or every eligible one's.
    const wanted = nodes.some((n) => n.serverName === undefined) ? servers.filter((s) => s.enabled && s.available && !s.draining) : [...new Set(nodes.map((n) => byName.get(n.serverName!)!))];
    if (wanted.length === 0) throw new GeniFault(GENI_CODE.REFUSED, 'no node of this aggregate is available (up, enabled, not draining) to place the unbound slivers on');
    const catalogues = new Map<number, string[]>();
    await Promise.all(wanted.map(async (s) => catalogues.set(s.id, await this.templatesOf(s))));
    const plans = nodes.map((n) => {
      const template = this.codec.templateNameOfDiskImage(n.diskImage) ?? this.settings.defaultTemplate;
      const bound = n.serverName === undefined ? undefined : byName.get(n.serverName);
      const known = [...new Set(bound ? (catalogues.get(bound.id) ?? []) : [...catalogues.values()].flat())].sort();
      if (!known.includes(template)) {
        throw new GeniFault(GENI_CODE.BADARGS, `disk image ${JSON.stringify((n.diskImage ?? 'default').slice(0, 200))} (template ${template}) is not available${bound ? ` on node ${bound.name}` : ''}; images: ${known.join(', ') || 'none'}`);
      }
      return { node: n, template, bound, ...this.sizeOf(n) };
    });

    return this.tx.run(async (em) => {
      const repo = new GeniSliverRepository(em);
      const made: GeniSliver[] = [];
      for (const p of plans) {
        if (await repo.clientIdTaken(sliceUrn, p.node.clientId)) throw new GeniFault(GENI_CODE.ALREADYEXISTS, `slice ${sliceUrn} already has a sliver with client_id ${p.node.clientId}`);
        const { server } = await this.placement.place(em, p.bound?.uuid ?? null, { vcpus: p.vcpus, memoryMiB: p.memoryMb, diskMiB: (p.diskGb ?? 0) * 1024 }).catch((err: unknown) => {
          throw err instanceof ConflictError ? new GeniFault(GENI_CODE.REFUSED, err.message) : err;
        });
        if (!p.bound && !(catalogues.get(server.id) ?? []).includes(p.template)) {
          throw new GeniFault(GENI_CODE.BADARGS, `template ${p.template} is not available on node ${server.name}, where the sliver ${p.node.clientId} would be placed; name a node with component_id`);
        }
        const sliverUrn = this.codec.sliverUrn(this.settings.authorityHrn, server.name, sliceUrn, p.node.clientId);
        if (await repo.findByUrn(sliverUrn)) throw new GeniFault(GENI_CODE.ALREADYEXISTS, `sliver ${sliverUrn} exists (a slice with the same name from another authority?); use another client_id`);
        const vmUuid = randomUUID();
        const reservedIp = server.bridges.some((b) => b.isMgmt) ? (await this.ipam.allocateIpv4(em, server.id, vmUuid)).address : null;
        made.push(
          await repo.insert({
            sliverUrn, sliceUrn, sliceHrn, clientId: p.node.clientId, serverId: server.id, allocationState: 'allocated', expiresAt,
            template: p.template, sliverType: p.node.sliverType?.slice(0, 64) ?? null, memoryMb: p.memoryMb, vcpus: p.vcpus, diskGb: p.diskGb,
            reservedIp, users: null, vmUuid, createActionId: null, startWanted: false, deleteWanted: false, ownerUrn: ownerUrn.slice(0, 512), failure: '',
          }),
        );
      }
      return made;
    }).catch((err: unknown) => {
      throw err instanceof ConflictError ? new GeniFault(GENI_CODE.REFUSED, err.message) : err;
    });
  }

  /**
   * Provision (§6.6, §8): for each `allocated` sliver, a create action through the normal intake (principal
   * {@link GENI_PRINCIPAL}, no callback), the sliver flipping to `provisioned` in the create's own transaction
   * (its reservation and address pass to the VM row).
   *
   * All-or-nothing unless `bestEffort` (§8 `geni_best_effort`; decision 022): every sliver's server is checked
   * first (enabled, up, not draining: REFUSED with no change); a create refused afterwards (a race) undoes the
   * creates this call already submitted through the normal Delete path (their VMs are deleted, the slivers go) and
   * the call fails with the refusal. With `bestEffort` the other slivers go on and the refusals are returned by
   * sliver id (the refused slivers stay allocated). `expiresAt`: one expiry for all, or one per sliver (per slice).
   * @throws GeniFault REFUSED naming the sliver and the reason (not with `bestEffort`, except the server check).
   */
  async provision(slivers: GeniSliver[], users: GeniUser[], expiresAt: Date | ((s: GeniSliver) => Date), bestEffort = false): Promise<Map<number, string>> {
    const expiryOf = typeof expiresAt === 'function' ? expiresAt : () => expiresAt;
    const servers = new ServerRepository(this.tx.manager);
    const refusals = new Map<number, string>();
    const todo: GeniSliver[] = [];
    for (const s of slivers) {
      const server = await servers.getById(s.serverId);
      if (!server.enabled || server.draining || !server.available) {
        const reason = `sliver ${s.clientId} could not be provisioned: node ${server.name} is ${!server.enabled ? 'disabled' : server.draining ? 'draining' : 'down'}`;
        if (!bestEffort) throw new GeniFault(GENI_CODE.REFUSED, `${reason} (nothing was provisioned)`);
        refusals.set(s.id, reason);
      } else todo.push(s);
    }
    const done: GeniSliver[] = [];
    for (const s of todo) {
      const refused = await this.provisionOne(s, users, expiryOf(s));
      if (refused === undefined) {
        done.push(s);
        continue;
      }
      const reason = `sliver ${s.clientId} could not be provisioned: ${refused}`;
      if (bestEffort) {
        refusals.set(s.id, reason);
        continue;
      }
      if (done.length > 0) {
        this.log.warn('GENI Provision refused part-way: undoing the slivers provisioned in this call', { refused: s.sliverUrn, undone: done.map((d) => d.sliverUrn) });
        await this.delete(done.map((d) => ({ ...d, allocationState: 'provisioned' as const })));
      }
      throw new GeniFault(GENI_CODE.REFUSED, `${reason}${done.length ? ` (the ${done.length} sliver(s) provisioned before it in this call were deleted)` : ''}`);
    }
    return refusals;
  }

  /** One sliver's create; returns the intake's refusal reason, or undefined when the create was handed over. */
  private async provisionOne(s: GeniSliver, users: GeniUser[], expiresAt: Date): Promise<string | undefined> {
      const actionId = randomUUID();
      const projectId = sliceProjectId(s.sliceUrn);
      const hrn = s.sliceHrn.length <= 200 ? s.sliceHrn : s.sliceHrn.slice(-200);
      const sshKeys = [...new Set(users.flatMap((u) => u.keys))];
      const action: Action = {
        type: 'create', id: actionId,
        server: {
          uuid: 'NONE', virtualizationType: 'kvm',
          virtualMachines: [{
            name: s.clientId, uuid: s.vmUuid, projectId, projectName: hrn, sliceId: projectId, sliceName: hrn, serverId: 'NONE', virtualizationType: 'kvm',
            xenConfiguration: {
              hdSetupType: 'file-image', hdOriginPath: s.template, virtualizationSetupType: 'hvm', memoryMb: s.memoryMb, vcpus: s.vcpus,
              ...(s.diskGb !== null ? { hdSizeMb: s.diskGb * 1024 } : {}),
              interfaces: s.reservedIp ? [{ ismgmt: true, ip: s.reservedIp }] : [],
              ...(users.length ? { users: users.map((u) => ({ name: u.name })) } : {}),
              ...(sshKeys.length ? { sshKeys } : {}),
            },
          }],
        },
      };
      // The server is the sliver's: pin it (placement then checks it still fits, with the reservation released).
      const server = await new ServerRepository(this.tx.manager).getById(s.serverId);
      action.server!.uuid = server.uuid;
      action.server!.virtualMachines[0]!.serverId = server.uuid;
      const beforeCreate = async (em: EntityManager) => {
        const moved = await new GeniSliverRepository(em).transition(s.id, 'allocated', 'provisioned', {
          createActionId: actionId, users: JSON.stringify(users), expiresAt, startWanted: this.settings.autoStartAfterProvision,
        });
        if (!moved) throw new ConflictError(`sliver ${s.sliverUrn} is no longer allocated (provisioned or deleted meanwhile)`);
        await this.ipam.releaseAll(em, s.vmUuid);
      };
      const { handedOver } = await this.intake.submitActions('', [action], { allowNoCallback: true, principal: GENI_PRINCIPAL, honourNicRequests: true, beforeCreate });
      const refused = (await handedOver).get(actionId);
      if (refused !== undefined) return refused;
      await this.tx.run((em) => new VmRepository(em).setExpiry(s.vmUuid, expiresAt));
      this.log.info('GENI sliver provisioned', { sliverUrn: s.sliverUrn, vmUuid: s.vmUuid, actionId });
      return undefined;
  }

  /**
   * PerformOperationalAction (§6.8) over `slivers` (all checked first, nothing done when one is refused):
   * allocated-only → REFUSED; failed → REFUSED; a transient state → REFUSED; `geni_start` while the create still
   * runs → remembered, started after the create (no refusal: the RO calls it right after Provision); start of a
   * running VM / stop of a stopped one → nothing to do.
   * @throws GeniFault REFUSED naming the sliver and its state.
   */
  async performAction(slivers: GeniSliver[], poa: PoaAction): Promise<void> {
    const em = this.tx.manager;
    const plan: Array<{ s: GeniSliver; type?: string; remember?: boolean; forget?: boolean }> = [];
    for (const s of slivers) {
      if (s.allocationState === 'allocated') throw new GeniFault(GENI_CODE.REFUSED, `sliver ${s.sliverUrn} is only allocated: Provision it first`);
      if (s.allocationState === 'unallocated') throw new GeniFault(GENI_CODE.REFUSED, `sliver ${s.sliverUrn} is being deleted`);
      const vm = await new VmRepository(em).findByUuid(s.vmUuid);
      if (!vm || vm.state === 'failed' || s.failure) throw new GeniFault(GENI_CODE.REFUSED, `sliver ${s.sliverUrn} failed${s.failure ? `: ${s.failure}` : ''}; Delete it`);
      const open = await new ActionRepository(em).openActionOfVm(s.vmUuid);
      const creating = open?.type === 'create' || vm.state === 'on queue' || vm.state === 'creating...';
      if (creating) {
        if (poa === 'geni_start') plan.push({ s, remember: true });
        else if (poa === 'geni_stop') plan.push({ s, forget: true });
        else throw new GeniFault(GENI_CODE.REFUSED, `sliver ${s.sliverUrn} is being created (geni_configuring); try geni_restart later`);
        continue;
      }
      // The same operation already under way (e.g. the RO's geni_start right after the auto-start was issued): nothing
      // to do, not a refusal — the RO fails its whole call on any error.
      if (open && ((poa === 'geni_start' && open.type === 'start') || (poa === 'geni_stop' && (open.type === 'hardStop' || open.type === 'stop')))) {
        plan.push({ s });
        continue;
      }
      if (open || vm.state.endsWith('...')) throw new GeniFault(GENI_CODE.REFUSED, `sliver ${s.sliverUrn} is busy (${open ? open.type : vm.state}); try again when it is ready or stopped`);
      const running = vm.state === 'running';
      if (poa === 'geni_start') plan.push(running ? { s } : { s, type: 'start' });
      else if (poa === 'geni_stop') plan.push(running ? { s, type: 'hardStop', forget: true } : { s, forget: true });
      else plan.push({ s, type: running ? 'reboot' : 'start' });
    }
    for (const p of plan) {
      if (p.remember || p.forget) await this.tx.run((t) => new GeniSliverRepository(t).update(p.s.id, { startWanted: !!p.remember }));
      if (p.type) await this.submitLifecycle(p.s, p.type);
    }
  }

  /**
   * Delete (§6.9): allocations vanish at once (reservation and address released); provisioned slivers become
   * `unallocated` and get a normal delete action (now, or by the sweep once the VM is not busy); the row goes
   * when the VM is gone. Works in any state; an allocation provisioned meanwhile (a racing Provision) is deleted as
   * a provisioned sliver.
   */
  async delete(slivers: GeniSliver[]): Promise<void> {
    for (let s of slivers) {
      if (s.allocationState === 'allocated') {
        const dropped = await this.tx.run(async (em) => {
          if (!(await new GeniSliverRepository(em).transition(s.id, 'allocated', 'unallocated'))) return false;
          await this.ipam.releaseAll(em, s.vmUuid);
          await new GeniSliverRepository(em).remove(s.id);
          return true;
        });
        if (dropped) continue;
        // A Provision won the race (issue #11 finding 4): re-read; provisioned → delete its VM like any provisioned
        // sliver; gone or already being deleted → nothing to do.
        const now = await new GeniSliverRepository(this.tx.manager).findByUrn(s.sliverUrn);
        if (!now || now.id !== s.id || now.allocationState !== 'provisioned') continue;
        s = now;
      }
      await this.tx.run((em) => new GeniSliverRepository(em).update(s.id, { allocationState: 'unallocated', deleteWanted: true, startWanted: false }));
      // Issued now when the VM is free; otherwise (or when refused) the sweep issues it later.
      await this.advance({ ...s, allocationState: 'unallocated', deleteWanted: true, startWanted: false }).catch((err: unknown) =>
        this.log.warn('GENI delete deferred to the sweep', { sliverUrn: s.sliverUrn, reason: describeError(err) }),
      );
    }
  }

  /** Renew (§6.5): sets each sliver's expiry (and its VM's) to `at`, capped at now + maxAllocationHours (allocated) or maxSliverDays (provisioned); updates the given rows. */
  async renew(slivers: GeniSliver[], at: Date, now = new Date()): Promise<void> {
    for (const s of slivers) {
      const cap = new Date(now.getTime() + (s.allocationState === 'allocated' ? this.settings.maxAllocationHours * HOUR_MS : this.settings.maxSliverDays * DAY_MS));
      const expiresAt = at.getTime() > cap.getTime() ? cap : at;
      await this.tx.run(async (em) => {
        await new GeniSliverRepository(em).update(s.id, { expiresAt });
        if (s.allocationState === 'provisioned') await new VmRepository(em).setExpiry(s.vmUuid, expiresAt);
      });
      s.expiresAt = expiresAt;
    }
  }

  /**
   * The sweep (every 5 s with the manager's others, and for the slivers a Status reads): expired allocations
   * vanish; expired provisioned slivers are deleted like a GENI Delete; wanted starts and deletes are issued when
   * the VM is free; rows of VMs that are gone are removed; a failed create is recorded on its sliver.
   */
  async sweep(now = new Date()): Promise<void> {
    const em = this.tx.manager;
    for (const s of await new GeniSliverRepository(em).listExpired(now, SWEEP_BATCH)) {
      this.log.info('GENI sliver expired', { sliverUrn: s.sliverUrn, state: s.allocationState, expiresAt: s.expiresAt.toISOString() });
      await this.delete([s]);
    }
    for (const s of await new GeniSliverRepository(em).listPending(SWEEP_BATCH)) {
      await this.advance(s).catch((err: unknown) => this.log.error('GENI sliver sweep failed', { sliverUrn: s.sliverUrn, error: describeError(err) }));
    }
  }

  /** One sliver's step of the sweep (see {@link sweep}). */
  async advance(s: GeniSliver): Promise<void> {
    if (s.allocationState === 'allocated') return;
    const em = this.tx.manager;
    const vm = await new VmRepository(em).findByUuid(s.vmUuid);
    const actions = new ActionRepository(em);
    if (!vm) {
      const last = (await actions.list({ vmUuid: s.vmUuid }, 1))[0];
      const deleted = s.allocationState === 'unallocated' || (last?.type === 'delete' && last.status === 'SUCCESS');
      if (deleted) {
        await this.tx.run((t) => new GeniSliverRepository(t).remove(s.id));
        this.log.info('GENI sliver gone', { sliverUrn: s.sliverUrn });
      } else if (last?.type === 'create' && last.status === 'FAILED' && !s.failure) {
        await this.tx.run((t) => new GeniSliverRepository(t).update(s.id, { failure: `create failed: ${last.description}`.slice(0, 1024), startWanted: false }));
      }
      return;
    }
    if (await actions.isVmBusy(s.vmUuid)) return;
    if (s.deleteWanted) {
      const last = (await actions.list({ vmUuid: s.vmUuid }, 1))[0];
      if (last?.type === 'delete' && last.status === 'FAILED' && Date.now() - last.updatedAt.getTime() < DELETE_RETRY_MS) return;
      await this.submitLifecycle(s, 'delete');
      return;
    }
    if (s.startWanted) {
      if (vm.state === 'created (stopped)' || vm.state === 'stopped') await this.submitLifecycle(s, 'start');
      await this.tx.run((t) => new GeniSliverRepository(t).update(s.id, { startWanted: false }));
    }
  }

  /** Submits start/hardStop/reboot/delete of the sliver's VM as {@link GENI_PRINCIPAL}. @throws GeniFault REFUSED with the intake's reason. */
  private async submitLifecycle(s: GeniSliver, type: string): Promise<void> {
    const server = await new ServerRepository(this.tx.manager).getById(s.serverId);
    const actionId = randomUUID();
    const action: Action = { type, id: actionId, server: { uuid: server.uuid, virtualizationType: server.virtualizationType, virtualMachines: [{ uuid: s.vmUuid, name: s.clientId }] } };
    const { handedOver } = await this.intake.submitActions('', [action], { allowNoCallback: true, principal: GENI_PRINCIPAL });
    const refused = (await handedOver).get(actionId);
    if (refused !== undefined) throw new GeniFault(GENI_CODE.REFUSED, `${type} of sliver ${s.clientId} refused: ${refused}`);
    this.log.info('GENI sliver action issued', { sliverUrn: s.sliverUrn, type, actionId });
  }

  /** The VM size of a node: `emulab:xen` values clamped to policy, else the defaults (memory MiB, disk GiB). */
  private sizeOf(n: RequestedNode): { memoryMb: number; vcpus: number; diskGb: number | null } {
    const v = this.settings.vm;
    const clamp = (x: number | undefined, dflt: number, max: number, min: number) => Math.max(min, Math.min(max, Math.floor(x ?? dflt)));
    return {
      memoryMb: clamp(n.ramMb, v.memoryMiB, v.maxMemoryMiB, 64),
      vcpus: clamp(n.cores, v.vcpus, v.maxVcpus, 1),
      diskGb: n.diskGb === undefined ? v.diskGiB : clamp(n.diskGb, 1, v.maxDiskGiB, 1),
    };
  }

  /** The template names of a server's catalogue; `[]` when its agent cannot say (logged). */
  private async templatesOf(s: Server): Promise<string[]> {
    try {
      return (await this.agents.listTemplates(s)).map((t) => t.name);
    } catch (err) {
      this.log.warn('template catalogue unavailable', { server: s.name, error: describeError(err) });
      return [];
    }
  }
}
