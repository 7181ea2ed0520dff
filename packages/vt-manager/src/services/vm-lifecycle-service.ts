/**
 * VM lifecycle for admins (`vtctl vm create|start|stop|hard-stop|reboot|delete|show|list|console-log`, issue 10
 * "VM lifecycle from vtctl", decision 020). A front door onto the same durable actions as OCF
 * (docs/architecture.md decision 9): it builds the rspec actions an OCF client would send and hands them to the same
 * intake ({@link ActionIntake.submitActions}), with no callback URL: the admin polls the action (`action.show`).
 *
 * VMs an admin creates belong to the admin's own project, whose id is derived from the principal's name
 * ({@link adminProjectId}); its slice has the same id.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ConflictError, InputError, NotFoundError, UUID_PATTERN, type Action, type Interface } from '@kvm-crm/shared';
import type { ActionRecord } from '../db/entities/action.js';
import type { Server } from '../db/entities/server.js';
import type { VirtualMachine } from '../db/entities/virtual-machine.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { EntityManager } from 'typeorm';
import { ActionRepository } from '../repositories/action-repository.js';
import { ServerRepository } from '../repositories/server-repository.js';
import { VmRepository } from '../repositories/vm-repository.js';
import type { AgentGateway, ConsoleLogChunk } from './ports.js';
import type { ActionIntake } from './provisioning/action-intake.js';

/** What `vtctl vm create` asks for. Sizes in MiB. */
export interface AdminCreate {
  name: string;
  template: string;
  /** Server name or uuid; absent: placement (not available yet: refused). */
  host?: string;
  memoryMiB: number;
  vcpus: number;
  /** System disk size (grown from the template's, thin); absent: the template's. */
  diskMiB?: number;
  maxMemoryMiB?: number;
  dataDisksMiB: number[];
  sshKeys: string[];
  users: string[];
  /** A management address to reserve (it must lie in a range the host subscribes to). */
  ip?: string;
  /** The bridges the VM gets NICs on (default: every bridge of the host). */
  bridges: string[];
  /** Guest host name for cloud-init (a manifest's `hostname`, decision 024); absent: the VM name. */
  hostname?: string;
}

/** The lifecycle verbs, as action types. */
export const LIFECYCLE_TYPES = ['start', 'stop', 'hardStop', 'reboot', 'delete'] as const;
export type LifecycleType = (typeof LIFECYCLE_TYPES)[number];

/** An accepted admin action: poll it with `action.show`. */
export interface AdminActionTicket {
  actionId: string;
  type: string;
  vm: string;
  name: string;
  server: string;
  projectId: string;
}

/**
 * The project (and slice) id of the VMs admin `principal` creates: a UUID derived from the name (SHA-256 of
 * `kvm-crm admin project` and the name, version nibble 8, RFC 9562 variant), the same on every manager.
 */
export function adminProjectId(principal: string): string {
  const h = createHash('sha256').update(`kvm-crm admin project\0${principal}`).digest('hex');
  const variant = ((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Every VM (of `projectId` when given) with its NICs and server name, oldest first (`em`: a transaction or the plain manager). */
export async function listVmsWithServers(em: EntityManager, projectId?: string): Promise<Array<{ vm: VirtualMachine; server: string }>> {
  const vms = await new VmRepository(em).listWithInterfaces({ projectId }, 'createdAt');
  const names = new Map((await new ServerRepository(em).list()).map((s) => [s.id, s.name]));
  return vms.map((vm) => ({ vm, server: names.get(vm.serverId) ?? '?' }));
}

/** The admin front door onto provisioning (see the file comment). */
export class VmLifecycleService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly intake: ActionIntake,
    private readonly agents: AgentGateway,
  ) {}

  /**
   * Stores a create action for a new VM in `principal`'s project and hands it to the host's agent; resolves once
   * the agent has it (or it failed before: then the action is FAILED with the reason, poll it).
   * Without `host` the manager places the VM (the same placement as an OCF create naming no server, decision 019).
   * @throws InputError for `ip` or `bridges` without a host (they name a host's ranges and bridges) or invalid fields;
   *   NotFoundError for an unknown host; ConflictError (with the reason) when the action was refused before it
   *   was stored (a taken address, an exhausted pool, a disabled host…).
   */
  async create(principal: string, input: AdminCreate): Promise<AdminActionTicket> {
    if (!input.host && (input.ip || input.bridges.length)) throw new InputError('--ip and --bridge need --host: they name that host\'s ranges and bridges');
    const server = input.host ? await this.serverOf(input.host) : undefined;
    const projectId = adminProjectId(principal);
    const vmUuid = randomUUID();
    const actionId = randomUUID();
    const mgmt = server?.bridges.find((b) => b.isMgmt)?.name;
    const interfaces: Interface[] = input.bridges.map((b) => ({ ismgmt: b === mgmt, switchId: b, ...(b === mgmt && input.ip ? { ip: input.ip } : {}) }));
    if (input.ip && !interfaces.some((i) => i.ismgmt)) interfaces.push({ ismgmt: true, ip: input.ip });
    const action: Action = {
      type: 'create', id: actionId,
      server: {
        uuid: server?.uuid ?? 'NONE', virtualizationType: server?.virtualizationType ?? 'kvm',
        virtualMachines: [{
          name: input.name, uuid: vmUuid, projectId, projectName: `admin ${principal}`, sliceId: projectId, sliceName: 'vtctl',
          serverId: server?.uuid ?? 'NONE', virtualizationType: server?.virtualizationType ?? 'kvm',
          xenConfiguration: {
            hdSetupType: 'file-image', hdOriginPath: input.template, virtualizationSetupType: 'hvm', memoryMb: input.memoryMiB, vcpus: input.vcpus,
            ...(input.diskMiB !== undefined ? { hdSizeMb: input.diskMiB } : {}),
            ...(input.maxMemoryMiB !== undefined ? { maxMemoryMb: input.maxMemoryMiB } : {}),
            interfaces,
            ...(input.users.length ? { users: input.users.map((name) => ({ name })) } : {}),
            ...(input.dataDisksMiB.length ? { dataDisks: input.dataDisksMiB.map((sizeMb) => ({ sizeMb })) } : {}),
            ...(input.sshKeys.length ? { sshKeys: input.sshKeys } : {}),
            ...(input.hostname ? { hostname: input.hostname } : {}),
          },
        }],
      },
    };
    await this.submit(principal, action);
    const placed = server ?? (await this.serverOfVm(vmUuid));
    return { actionId, type: 'create', vm: vmUuid, name: input.name, server: placed.name, projectId };
  }

  /**
   * Stores a start/stop/hardStop/reboot/delete of the VM named or numbered `ref` and hands it to its agent. A VM
   * of the admin's own project is acted on as the admin; a VM of a clearinghouse's project as the manager itself
   * (its clearinghouse gets the statuses at its callback, as for an expiry delete).
   * @throws NotFoundError / ConflictError as {@link resolve}; ConflictError with the reason when the action was
   *   refused (the VM is busy with another action…).
   */
  async act(principal: string, ref: string, type: LifecycleType, options: { keepDisks?: boolean } = {}): Promise<AdminActionTicket> {
    if (options.keepDisks && type !== 'delete') throw new InputError('--keep-disks goes with delete only');
    const vm = await this.resolve(ref);
    const server = await new ServerRepository(this.tx.manager).getById(vm.serverId);
    const actionId = randomUUID();
    const action: Action = {
      type, id: actionId,
      server: { uuid: server.uuid, virtualizationType: server.virtualizationType, virtualMachines: [{ uuid: vm.uuid, name: vm.name, ...(options.keepDisks ? { xenConfiguration: { keepDisks: true } } : {}) }] },
    };
    const own = vm.projectId === adminProjectId(principal);
    await this.submit(own ? principal : undefined, action);
    return { actionId, type, vm: vm.uuid, name: vm.name, server: server.name, projectId: vm.projectId };
  }

  /** The VM named or numbered `ref` with its NICs, its server and its last 10 actions, newest first. @throws as {@link resolve}. */
  async show(ref: string): Promise<{ vm: VirtualMachine; server: Server; actions: ActionRecord[] }> {
    const vm = await this.resolve(ref);
    const server = await new ServerRepository(this.tx.manager).getById(vm.serverId);
    const actions = await new ActionRepository(this.tx.manager).list({ vmUuid: vm.uuid }, 10);
    return { vm, server, actions };
  }

  /** See {@link listVmsWithServers}. */
  list(projectId?: string): Promise<Array<{ vm: VirtualMachine; server: string }>> {
    return listVmsWithServers(this.tx.manager, projectId);
  }

  /**
   * A piece (at most 64 KiB) of the serial console log of the VM named or numbered `ref`, from byte `offset`, read
   * by its host's agent.
   * @throws as {@link resolve}; UpstreamError when the agent cannot be reached or has no such method.
   */
  async consoleLog(ref: string, offset: number): Promise<ConsoleLogChunk & { vm: string }> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InputError('offset must be a non-negative integer');
    const vm = await this.resolve(ref);
    const server = await new ServerRepository(this.tx.manager).getById(vm.serverId);
    if (!this.agents.consoleLog) throw new InputError('this manager cannot read console logs');
    return { ...(await this.agents.consoleLog(server, vm.uuid, offset)), vm: vm.uuid };
  }

  /**
   * The VM whose uuid is `ref`, or the only VM named `ref`.
   * @throws NotFoundError when there is none; ConflictError naming the uuids (and projects) when several VMs have
   *   that name.
   */
  async resolve(ref: string): Promise<VirtualMachine> {
    const vms = new VmRepository(this.tx.manager);
    if (UUID_PATTERN.test(ref)) {
      const vm = await vms.findWithInterfaces(ref.toLowerCase());
      if (!vm) throw new NotFoundError(`no VM with uuid ${ref}`);
      return vm;
    }
    const named = await vms.findByName(ref);
    const only = named[0];
    if (!only) throw new NotFoundError(`no VM named ${JSON.stringify(ref)}`);
    if (named.length > 1) throw new ConflictError(`${named.length} VMs are named ${ref}: ${named.map((v) => `${v.uuid} (project ${v.projectId})`).join(', ')}; give the uuid`);
    return only;
  }

  /** @throws NotFoundError when no server has that name or uuid. */
  /** The server a stored VM was placed on. @throws NotFoundError when the VM was not stored. */
  private async serverOfVm(vmUuid: string): Promise<Server> {
    const vm = await this.resolve(vmUuid);
    return new ServerRepository(this.tx.manager).getById(vm.serverId);
  }

  private async serverOf(nameOrUuid: string): Promise<Server> {
    const s = await new ServerRepository(this.tx.manager).findByNameOrUuid(nameOrUuid);
    if (!s) throw new NotFoundError(`no server ${JSON.stringify(nameOrUuid)}`);
    return s;
  }

  /**
   * Submits one action with no callback and waits until it was handed to the agent (or failed on the way).
   * @throws ConflictError with the reason when the intake refused it before storing it.
   */
  private async submit(principal: string | undefined, action: Action): Promise<void> {
    const { handedOver } = await this.intake.submitActions('', [action], { allowNoCallback: true, principal, honourNicRequests: true });
    const reason = (await handedOver).get(action.id ?? '');
    if (reason !== undefined) throw new ConflictError(reason);
  }
}
