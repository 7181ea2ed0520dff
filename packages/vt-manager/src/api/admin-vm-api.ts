/**
 * `/xmlrpc/admin` methods of the VM lifecycle (role `admin`, for `vtctl vm …`; issue 10, decision 020): create,
 * the lifecycle verbs, show, list and the console log. Creates and verbs become the same durable actions as OCF
 * (services/vm-lifecycle-service.ts); they answer the action id at once, and the caller polls `action.show`.
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import { optionalString, requireString } from './request-fields.js';
import type { VirtualMachine } from '../db/entities/virtual-machine.js';
import type { EntityManager } from 'typeorm';
import { LIFECYCLE_TYPES, listVmsWithServers, type LifecycleType, type VmLifecycleService } from '../services/vm-lifecycle-service.js';

type Struct = Record<string, unknown>;

/** An integer field; absent: undefined. @throws InputError when it is not an integer. */
function int(o: Struct, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new InputError(`field ${key} must be an integer`);
  return v;
}

/** A list field of `type`; absent: `[]`. @throws InputError when it is not such a list. */
function list<T extends 'string' | 'number'>(o: Struct, key: string, type: T): Array<T extends 'string' ? string : number> {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === type)) throw new InputError(`field ${key} must be a list of ${type}s`);
  return v as Array<T extends 'string' ? string : number>;
}

/** A VM as the admin API shows it (sizes in MiB; `""` for unset values). */
function vmRow(vm: VirtualMachine, server: string): Struct {
  const nics = [...(vm.interfaces ?? [])].sort((a, b) => a.position - b.position);
  return {
    uuid: vm.uuid, name: vm.name, state: vm.state, stateNote: vm.stateNote, server, projectId: vm.projectId, projectName: vm.projectName ?? '',
    sliceId: vm.sliceId, template: vm.hdOriginPath, memoryMb: vm.memoryMb, vcpus: vm.vcpus, diskMiB: vm.hdSizeMb ?? '', maxMemoryMiB: vm.maxMemoryMb ?? '',
    dataDisksMiB: vm.dataDisksMb ? (JSON.parse(vm.dataDisksMb) as number[]) : [], expiresAt: vm.expiresAt ? vm.expiresAt.toISOString() : '',
    ip: nics.find((i) => i.isMgmt)?.ip ?? '', created: vm.createdAt.toISOString(),
    interfaces: nics.map((i) => ({ name: i.name, mac: i.mac, ip: i.ip ?? '', bridge: i.bridge })),
  };
}

/**
 * The `vm.*` methods; the caller's principal owns what it creates. `vm.list` is always offered; the others need
 * `vms`. Errors are the service's.
 */
export function adminVmApi(deps: { em: EntityManager; vms?: VmLifecycleService }): Record<string, XmlRpcMethod> {
  const listing: Record<string, XmlRpcMethod> = {
    /** `vm.list({project?})` → VMs with their server, project, addresses and NICs, oldest first. */
    'vm.list': async (p) => {
      const o = p.length ? structParam(p, 0, 'filter') : {};
      return (await listVmsWithServers(deps.em, optionalString(o, 'project'))).map(({ vm, server }) => vmRow(vm, server));
    },
  };
  const vms = deps.vms;
  if (!vms) return listing;
  const who = (ctx: { principal?: { name: string } }): string => {
    if (!ctx.principal) throw new InputError('an authenticated admin is needed');
    return ctx.principal.name;
  };
  return {
    ...listing,
    /**
     * `vm.create({name, template, host?, memoryMiB, vcpus?, diskMiB?, maxMemoryMiB?, dataDisksMiB?: [int], sshKeys?:
     * [line], users?: [name], ip?, bridges?: [name]})` → `{actionId, type, vm, name, server, projectId}` once the
     * create is stored and handed to the agent (poll `action.show`).
     */
    'vm.create': async (p, ctx) => {
      const o = structParam(p, 0, 'vm');
      const memoryMiB = int(o, 'memoryMiB');
      if (memoryMiB === undefined) throw new InputError('missing field memoryMiB');
      return vms.create(who(ctx), {
        name: requireString(o, 'name'), template: requireString(o, 'template'), host: optionalString(o, 'host'), memoryMiB, vcpus: int(o, 'vcpus') ?? 1,
        diskMiB: int(o, 'diskMiB'), maxMemoryMiB: int(o, 'maxMemoryMiB'), dataDisksMiB: list(o, 'dataDisksMiB', 'number'),
        sshKeys: list(o, 'sshKeys', 'string'), users: list(o, 'users', 'string'), ip: optionalString(o, 'ip'), bridges: list(o, 'bridges', 'string'),
      });
    },
    /** `vm.action({vm: name|uuid, type: start|stop|hardStop|reboot|delete, keepDisks?})` → the action ticket. */
    'vm.action': async (p, ctx) => {
      const o = structParam(p, 0, 'action');
      const type = requireString(o, 'type');
      if (!(LIFECYCLE_TYPES as readonly string[]).includes(type)) throw new InputError(`type must be one of ${LIFECYCLE_TYPES.join(', ')}`);
      return vms.act(who(ctx), requireString(o, 'vm'), type as LifecycleType, { keepDisks: o.keepDisks === true });
    },
    /** `vm.show({vm: name|uuid})` → the VM (as in `vm.list`) with its last 10 actions. */
    'vm.show': async (p) => {
      const { vm, server, actions } = await vms.show(requireString(structParam(p, 0, 'vm'), 'vm'));
      return {
        ...vmRow(vm, server.name),
        actions: actions.map((a) => ({ id: a.uuid, type: a.type, status: a.status, description: a.description, created: a.createdAt.toISOString(), updated: a.updatedAt.toISOString() })),
      };
    },
    /** `vm.consoleLog({vm: name|uuid, offset?})` → `{vm, data (base64), offset, nextOffset, size}`, at most 64 KiB. */
    'vm.consoleLog': async (p) => {
      const o = structParam(p, 0, 'vm');
      const r = await vms.consoleLog(requireString(o, 'vm'), int(o, 'offset') ?? 0);
      return { vm: r.vm, data: r.data.toString('base64'), offset: r.offset, nextOffset: r.nextOffset, size: r.size };
    },
  };
}
