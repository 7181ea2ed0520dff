/**
 * Storing an accepted action (docs/ocf-protocol.md §2.2.1): validated, checked against the DB (duplicate ids, the VM,
 * its server, project ownership, slice expiry, a busy VM) and stored QUEUED under this manager's lease, with the VM
 * and its addresses for a create, in one transaction: rows are committed before the agent is called (§7.1).
 */
import { ConflictError, InputError, NotAllowedError, NotFoundError, valueOrUndefined } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { Server } from '../../db/entities/server.js';
import type { VirtualMachine } from '../../db/entities/virtual-machine.js';
import type { VmInterface } from '../../db/entities/vm-interface.js';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { validateCreate, validateLifecycle, type ActionHeader, type RequestedResources, type ValidatedAction } from '../../domain/action-validation.js';
import { ActionEventRepository } from '../../repositories/action-event-repository.js';
import { ActionRepository } from '../../repositories/action-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';
import { SliceExpiryRepository } from '../../repositories/slice-expiry-repository.js';
import { VmRepository } from '../../repositories/vm-repository.js';
import { growthAsked, resourcesAsked } from '../../domain/capacity.js';
import type { IpamService } from '../ipam-service.js';
import type { PlacementService } from '../placement/placement-service.js';
import { claimOrCheckProject } from '../project-ownership.js';
import { checkQuota } from '../quota-service.js';
import { agentQueryWithRequest } from './agent-query.js';
import type { ProvisioningSettings } from './provisioning-settings.js';

/** A stored action, ready for the hand-over: its VM, the VM's server, and the query for the agent. */
export interface Prepared {
  vm: VirtualMachine;
  server: Server;
  agentXml: string;
}

/** How the submitter's request is read beyond the OCF fields. */
export interface SaveOptions {
  /**
   * Honour the NICs a create asks for (admin submissions, `vtctl vm create --bridge/--ip`): interfaces with a
   * `switch-id` choose the VM's bridges among the server's (management bridge first), and an `ip` on the
   * management interface reserves that address. Otherwise (OCF clients) the incoming interfaces are only a
   * prototype and ignored, as in the original (docs/ocf-protocol.md §6.5.2).
   */
  honourNicRequests?: boolean;
  /**
   * Runs first inside a create's transaction, before placement (the GENI Provision flips its sliver from
   * `allocated` to `provisioned` and frees the address it reserved, so the VM row takes over the reservation in the
   * same commit; decision record 022). Throwing refuses the create with nothing stored.
   */
  beforeCreate?: (em: EntityManager) => Promise<void>;
  /**
   * Runs first inside the action's transaction, for every action type (the durable intake deletes the action's intake
   * row here, so the row goes exactly when the action is stored: decision 039). Throwing stores nothing.
   */
  claim?: (em: EntityManager) => Promise<void>;
}

/** The bridges and management address a create asked for (see {@link SaveOptions.honourNicRequests}). */
interface NicRequest {
  bridges: string[];
  ip: string | undefined;
}

/** The NIC request of a create's interfaces. */
function nicRequestOf(action: ValidatedAction): NicRequest {
  const nics = action.server?.virtualMachines[0]?.xenConfiguration?.interfaces ?? [];
  const bridges = nics.map((n) => valueOrUndefined(n.switchId)).filter((b): b is string => b !== undefined);
  const ip = nics.map((n) => (n.ismgmt ? valueOrUndefined(n.ip) : undefined)).find((a) => a !== undefined);
  return { bridges, ip };
}

/** Validates and stores actions (one transaction each). */
export class ActionStore {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly ipam: IpamService,
    private readonly settings: ProvisioningSettings,
    private readonly placement: PlacementService,
  ) {}

  /**
   * Validates and stores one action (QUEUED, under this manager's lease).
   * @throws InputError for invalid fields; ConflictError for a used action id or VM uuid, a disabled server, an
   *   expired slice, a busy VM, an exhausted pool, a create or a modify's growth that does not fit its host's capacity
   *   ("host kvm2 has 512 MiB free for VMs, 2048 MiB asked") or an exceeded quota (`quota exceeded: …`); NotFoundError for an unknown VM or server, and for another
   *   clearinghouse's VM (the same text as an unknown one); NotAllowedError for a create in another clearinghouse's
   *   project. Nothing is stored when it throws (the agent query is built inside the transaction).
   */
  save(action: ValidatedAction, callbackUrl: string, principal?: string, options: SaveOptions = {}): Promise<Prepared> {
    return action.type === 'create' ? this.saveCreate(action, callbackUrl, principal, options) : this.saveLifecycle(action, callbackUrl, principal, options);
  }

  /** Create: validates, checks for duplicates, stores VM + NICs + action, allocates addresses (one transaction). */
  private async saveCreate(action: ValidatedAction, callbackUrl: string, principal: string | undefined, options: SaveOptions): Promise<Prepared> {
    const req = validateCreate(action);
    const nicRequest: NicRequest = options.honourNicRequests ? nicRequestOf(action) : { bridges: [], ip: undefined };
    const saved = await this.tx.run(async (em) => {
      if (options.claim) await options.claim(em);
      if (await new ActionRepository(em).exists(action.id)) throw new ConflictError(`action id ${action.id} is already used`);
      if (options.beforeCreate) await options.beforeCreate(em);
      const vms = new VmRepository(em);
      if (await vms.exists(req.vmUuid)) throw new ConflictError(`a VM with uuid ${req.vmUuid} exists`);
      // What needs no server lock comes first: on MySQL every statement after the placement runs with the server
      // row (and then the range rows) locked, so the creates of one host wait for each other only that long
      // (decision 034). All of it is one transaction: a refusal further down stores none of it.
      await claimOrCheckProject(em, req.projectId, principal);
      const sliceExpiry = await new SliceExpiryRepository(em).find(req.sliceId);
      if (sliceExpiry?.expiresAt && sliceExpiry.expiresAt.getTime() <= Date.now()) throw new ConflictError(`slice ${req.sliceId} has expired`);
      await this.insertAction(em, action, req.vmUuid, callbackUrl, {}, principal);
      // Placement and the capacity check, before any address is allocated (the server rows stay locked on MySQL).
      const { server: srv, decision } = await this.placement.place(em, req.serverUuid, resourcesAsked(action, req));
      const bridges = chooseBridges(srv, nicRequest);
      const addresses = bridges.filter((b) => b.isMgmt).length;
      if (nicRequest.ip !== undefined && addresses === 0) throw new InputError(`--ip ${nicRequest.ip}: the VM has no NIC on the management bridge of server ${srv.name}`);
      await checkQuota(em, principal, { vms: 1, vcpus: req.vcpus, memoryMib: req.memoryMb, addresses });
      const interfaces: Array<Omit<VmInterface, 'id' | 'vmId' | 'vm'>> = [];
      for (const [i, bridge] of bridges.entries()) {
        const mac = await this.ipam.allocateMac(em, srv.id, req.vmUuid);
        const lease = !bridge.isMgmt
          ? undefined
          : nicRequest.ip !== undefined
            ? await this.ipam.reserveIpv4(em, srv, req.vmUuid, nicRequest.ip)
            : await this.ipam.allocateIpv4(em, srv.id, req.vmUuid);
        interfaces.push({
          name: `eth${i}`, position: i, isMgmt: bridge.isMgmt, mac, bridge: bridge.name,
          ip: lease?.address ?? null, netmask: lease?.netmask ?? null, gateway: lease?.gateway ?? null, dns1: lease?.dns1 ?? null, dns2: lease?.dns2 ?? null,
        });
      }
      const { serverUuid: _serverUuid, vmUuid, dataDisksMb, sshKeys, guestUsers, ...vmFields } = req;
      const vm = await vms.createWithInterfaces({
        ...vmFields, uuid: vmUuid, serverId: srv.id, state: 'on queue', callbackUrl, interfaces,
        dataDisksMb: dataDisksMb.length ? JSON.stringify(dataDisksMb) : null, sshKeys: sshKeys.length ? JSON.stringify(sshKeys) : null,
        guestUsers: guestUsers.length ? JSON.stringify(guestUsers) : null, keepDisksOnDelete: false,
      });
      await this.placement.record(em, action.id, decision);
      // Built before the commit: a VM the agent query cannot describe is never stored (one action, one status).
      return { vm, server: srv, agentXml: agentQueryWithRequest(action.id, 'create', srv, vm, {}) };
    });
    return saved;
  }

  /** start/stop/hardStop/reboot/delete/modify: looks the VM up and stores the action. */
  private async saveLifecycle(action: ValidatedAction, callbackUrl: string, principal: string | undefined, options: SaveOptions): Promise<Prepared> {
    const { vmUuid, requested, keepDisks } = validateLifecycle(action);
    const saved = await this.tx.run(async (em) => {
      if (options.claim) await options.claim(em);
      const actions = new ActionRepository(em);
      if (await actions.exists(action.id)) throw new ConflictError(`action id ${action.id} is already used`);
      const vm = await new VmRepository(em).findWithInterfaces(vmUuid);
      if (!vm) throw new NotFoundError(`no VM with uuid ${vmUuid}`);
      // Another clearinghouse's VM reads exactly as an unknown one: the refusal tells nothing about other projects.
      await claimOrCheckProject(em, vm.projectId, principal).catch((err: unknown) => {
        throw err instanceof NotAllowedError ? new NotFoundError(`no VM with uuid ${vmUuid}`) : err;
      });
      const busy = await actions.openActionOfVm(vmUuid);
      if (busy) throw new ConflictError(`VM ${vm.name} is busy with action ${busy.uuid} (${busy.type})`);
      if (action.type === 'modify') {
        // A grow is checked like a create: its host's capacity (row-locked on MySQL), then the quota; before any row changes.
        const growth = growthAsked(vm, requested);
        await this.placement.checkGrowth(em, vm.serverId, growth);
        await checkQuota(em, principal, { vms: 0, vcpus: growth.vcpus, memoryMib: growth.memoryMiB, addresses: 0 });
      }
      const server = await new ServerRepository(em).getById(vm.serverId);
      if (action.type === 'delete' && keepDisks !== vm.keepDisksOnDelete) {
        // Kept on the VM row (the action table has no column for it), so a re-sent delete carries it too.
        await new VmRepository(em).setKeepDisksOnDelete(vm.id, keepDisks);
        vm.keepDisksOnDelete = keepDisks;
      }
      await this.insertAction(em, action, vmUuid, callbackUrl, requested, principal);
      // The agent gets the VM as it should become: modify carries the requested memory and vCPUs. Built before the
      // commit, so a failure here stores nothing.
      return { vm, server, agentXml: agentQueryWithRequest(action.id, action.type, server, vm, requested) };
    });
    return saved;
  }

  /** Stores the action QUEUED under this manager's lease, with its first history event. */
  private async insertAction(em: EntityManager, action: ActionHeader, vmUuid: string, callbackUrl: string, requested: RequestedResources, principal?: string): Promise<void> {
    await new ActionRepository(em).insertQueued({
      uuid: action.id, type: action.type, vmUuid, callbackUrl,
      requestedMemoryMb: requested.memoryMb ?? null, requestedVcpus: requested.vcpus ?? null,
      deadline: new Date(Date.now() + this.settings.actionTimeoutSeconds * 1000),
      leaseOwner: this.settings.instanceId, leaseExpiresAt: new Date(Date.now() + this.settings.leaseSeconds * 1000),
    });
    await new ActionEventRepository(em).record(action.id, null, 'QUEUED', principal !== undefined ? `principal:${principal}` : 'system', `${action.type} requested`);
  }
}

/**
 * The server's bridges a new VM gets a NIC on: every registered bridge, or those `request.bridges` names; the
 * management bridge first, then in registration order.
 * @throws InputError naming a requested bridge the server does not have (with the ones it has), or a bridge named twice.
 */
function chooseBridges(srv: Server, request: NicRequest): Server['bridges'] {
  const all = [...srv.bridges].sort((a, b) => Number(b.isMgmt) - Number(a.isMgmt) || a.id - b.id);
  if (request.bridges.length === 0) return all;
  const wanted = new Set<string>();
  for (const name of request.bridges) {
    if (wanted.has(name)) throw new InputError(`bridge ${name} named twice`);
    if (!all.some((b) => b.name === name)) throw new InputError(`server ${srv.name} has no bridge ${name} (it has ${all.map((b) => b.name).join(', ')})`);
    wanted.add(name);
  }
  return all.filter((b) => wanted.has(b.name));
}
