/**
 * Storing an accepted action (docs/ocf-protocol.md §2.2.1): validated, checked against the DB (duplicate ids, the VM,
 * its server, project ownership, slice expiry, a busy VM) and stored QUEUED under this manager's lease, with the VM
 * and its addresses for a create, in one transaction: rows are committed before the agent is called (§7.1).
 */
import { ConflictError, NotAllowedError, NotFoundError } from '@kvm-crm/shared';
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
import { resourcesAsked } from '../../domain/capacity.js';
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
   *   expired slice, a busy VM, an exhausted pool or an exceeded quota (`quota exceeded: …`); NotFoundError for an unknown VM or server, and for another
   *   clearinghouse's VM (the same text as an unknown one); NotAllowedError for a create in another clearinghouse's
   *   project. Nothing is stored when it throws (the agent query is built inside the transaction).
   */
  save(action: ValidatedAction, callbackUrl: string, principal?: string): Promise<Prepared> {
    return action.type === 'create' ? this.saveCreate(action, callbackUrl, principal) : this.saveLifecycle(action, callbackUrl, principal);
  }

  /** Create: validates, checks for duplicates, stores VM + NICs + action, allocates addresses (one transaction). */
  private async saveCreate(action: ValidatedAction, callbackUrl: string, principal?: string): Promise<Prepared> {
    const req = validateCreate(action);
    const saved = await this.tx.run(async (em) => {
      if (await new ActionRepository(em).exists(action.id)) throw new ConflictError(`action id ${action.id} is already used`);
      const vms = new VmRepository(em);
      if (await vms.exists(req.vmUuid)) throw new ConflictError(`a VM with uuid ${req.vmUuid} exists`);
      // Placement and the capacity check, before any address is allocated (the server rows stay locked on MySQL).
      const { server: srv, decision } = await this.placement.place(em, req.serverUuid, resourcesAsked(action, req));
      await claimOrCheckProject(em, req.projectId, principal);
      const addresses = srv.bridges.filter((b) => b.isMgmt).length;
      await checkQuota(em, principal, { vms: 1, vcpus: req.vcpus, memoryMib: req.memoryMb, addresses });
      const sliceExpiry = await new SliceExpiryRepository(em).find(req.sliceId);
      if (sliceExpiry?.expiresAt && sliceExpiry.expiresAt.getTime() <= Date.now()) throw new ConflictError(`slice ${req.sliceId} has expired`);
      const bridges = [...srv.bridges].sort((a, b) => Number(b.isMgmt) - Number(a.isMgmt) || a.id - b.id);
      const interfaces: Array<Omit<VmInterface, 'id' | 'vmId' | 'vm'>> = [];
      for (const [i, bridge] of bridges.entries()) {
        const mac = await this.ipam.allocateMac(em, srv.id, req.vmUuid);
        const lease = bridge.isMgmt ? await this.ipam.allocateIpv4(em, srv.id, req.vmUuid) : undefined;
        interfaces.push({
          name: `eth${i}`, position: i, isMgmt: bridge.isMgmt, mac, bridge: bridge.name,
          ip: lease?.address ?? null, netmask: lease?.netmask ?? null, gateway: lease?.gateway ?? null, dns1: lease?.dns1 ?? null, dns2: lease?.dns2 ?? null,
        });
      }
      const { serverUuid: _serverUuid, vmUuid, ...vmFields } = req;
      const vm = await vms.createWithInterfaces({ ...vmFields, uuid: vmUuid, serverId: srv.id, state: 'on queue', callbackUrl, interfaces });
      await this.insertAction(em, action, req.vmUuid, callbackUrl, {}, principal);
      await this.placement.record(em, action.id, decision);
      // Built before the commit: a VM the agent query cannot describe is never stored (one action, one status).
      return { vm, server: srv, agentXml: agentQueryWithRequest(action.id, 'create', srv, vm, {}) };
    });
    return saved;
  }

  /** start/stop/hardStop/reboot/delete/modify: looks the VM up and stores the action. */
  private async saveLifecycle(action: ValidatedAction, callbackUrl: string, principal?: string): Promise<Prepared> {
    const { vmUuid, requested } = validateLifecycle(action);
    const saved = await this.tx.run(async (em) => {
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
        const grow = (want: number | undefined, has: number) => Math.max(0, (want ?? has) - has);
        await checkQuota(em, principal, { vms: 0, vcpus: grow(requested.vcpus, vm.vcpus), memoryMib: grow(requested.memoryMb, vm.memoryMb), addresses: 0 });
      }
      const server = await new ServerRepository(em).getById(vm.serverId);
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
