/**
 * `/xmlrpc/admin`: inventory administration for `vtctl` (role `admin`). Every method takes one struct and
 * returns plain structs/arrays (ocf-behaviour.md B5: hosts and pools are registered through RPC, never SQL).
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { DataSource } from 'typeorm';
import type { ActionRecord } from '../db/entities/action.js';
import { ActionRepository } from '../repositories/action-repository.js';
import { VmRepository } from '../repositories/vm-repository.js';
import type { InventoryService } from '../services/inventory-service.js';
import type { PrincipalService } from '../services/principal-service.js';
import type { ProvisioningService } from '../services/provisioning-service.js';

function str(o: Record<string, unknown>, key: string, required = true): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new InputError(`missing field ${key}`);
    return undefined;
  }
  if (typeof v !== 'string') throw new InputError(`field ${key} must be a string`);
  return v;
}

function strList(o: Record<string, unknown>, key: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InputError(`field ${key} must be a list of strings`);
  return v as string[];
}

export function adminApi(deps: {
  inventory: InventoryService;
  dataSource: DataSource;
  principals: PrincipalService;
  /** Operator verbs on actions (`action.show|retry|fail|succeed`); absent: those methods are not offered. */
  provisioning?: ProvisioningService;
  /** Called after a principal was removed (drops cached logins). */
  onPrincipalRemoved?: (name: string) => void;
}): Record<string, XmlRpcMethod> {
  const em = deps.dataSource.manager;
  const provisioning = deps.provisioning;
  const operator = (ctx: { principal?: { name: string } }): string => ctx.principal?.name ?? 'unknown';
  const actionVerbs: Record<string, XmlRpcMethod> = provisioning
    ? {
        /** `action.show({id})` → the action and its history (at, from, to, who, why). */
        'action.show': async (p) => {
          const { action: a, events } = await provisioning.showAction(str(structParam(p, 0, 'action'), 'id')!);
          return {
            id: a.uuid, type: a.type, status: a.status, description: a.description, vm: a.vmUuid, deadline: a.deadline.toISOString(),
            leaseOwner: a.leaseOwner ?? '', leaseExpiresAt: a.leaseExpiresAt ? a.leaseExpiresAt.toISOString() : '', sendAttempts: a.sendAttempts,
            created: a.createdAt.toISOString(), updated: a.updatedAt.toISOString(),
            history: events.map((e) => ({ at: e.at.toISOString(), from: e.fromStatus ?? '', to: e.toStatus, who: e.who, why: e.why })),
          };
        },
        /** `vm.setExpiry({uuid, expiresAt})`: ISO 8601 time when the manager deletes the VM; `""` clears it. */
        'vm.setExpiry': async (p) => {
          const o = structParam(p, 0, 'vm');
          const at = str(o, 'expiresAt', false);
          const when = at === undefined ? null : new Date(at);
          if (when && Number.isNaN(when.getTime())) throw new InputError('expiresAt must be an ISO 8601 time or ""');
          await provisioning.setExpiry(str(o, 'uuid')!, when);
          return true;
        },
        /**
         * `slice.setExpiry({sliceId, expiresAt, why?})`: ISO 8601 time when the manager deletes every VM of the slice
         * (and refuses creates in it); `""` clears it. Who set it, and when, is kept with it and logged (with why).
         */
        'slice.setExpiry': async (p, ctx) => {
          const o = structParam(p, 0, 'slice');
          const at = str(o, 'expiresAt', false);
          const when = at === undefined ? null : new Date(at);
          if (when && Number.isNaN(when.getTime())) throw new InputError('expiresAt must be an ISO 8601 time or ""');
          await provisioning.setSliceExpiry(str(o, 'sliceId')!, when, operator(ctx), str(o, 'why', false) ?? '');
          return true;
        },
        /** `slice.list()` → the slice expiries: sliceId, expiresAt (`""`: cleared), setBy, setAt. */
        'slice.list': async () =>
          (await provisioning.listSliceExpiries()).map((s) => ({
            sliceId: s.sliceId, expiresAt: s.expiresAt ? s.expiresAt.toISOString() : '', setBy: s.setBy, setAt: s.setAt.toISOString(),
          })),
        /** `action.retry({id, why})`: re-sends a stuck action as a new attempt (audited). */
        'action.retry': async (p, ctx) => {
          const o = structParam(p, 0, 'action');
          await provisioning.operatorRetry(str(o, 'id')!, str(o, 'why')!, operator(ctx));
          return true;
        },
        /** `action.fail({id, why})`: fails a stuck action, notifies the client (audited). */
        'action.fail': async (p, ctx) => {
          const o = structParam(p, 0, 'action');
          await provisioning.operatorResolve(str(o, 'id')!, 'FAILED', str(o, 'why')!, operator(ctx));
          return true;
        },
        /** `action.succeed({id, why})`: applies a stuck action's success, notifies the client (audited). */
        'action.succeed': async (p, ctx) => {
          const o = structParam(p, 0, 'action');
          await provisioning.operatorResolve(str(o, 'id')!, 'SUCCESS', str(o, 'why')!, operator(ctx));
          return true;
        },
      }
    : {};
  return {
    ...actionVerbs,
    /** `user.add({name, password?, roles: ['clearinghouse'|'admin'…]})`; no password: certificate login only. */
    'user.add': async (p) => {
      const o = structParam(p, 0, 'user');
      return deps.principals.add({ name: str(o, 'name')!, password: str(o, 'password', false), roles: strList(o, 'roles') });
    },
    /** `user.remove({name})`. */
    'user.remove': async (p) => {
      const name = str(structParam(p, 0, 'user'), 'name')!;
      await deps.principals.remove(name);
      deps.onPrincipalRemoved?.(name);
      return true;
    },
    /** `user.list()` → names, roles, login kind, source (database or config); never hashes. */
    'user.list': async () => deps.principals.list(),
    /** `server.register({name, agentUrl, agentPassword, bridges: [name…] | [{name,isMgmt}…], legacy?, uuid?})`. */
    'server.register': async (p) => {
      const o = structParam(p, 0, 'server');
      const rawBridges = o.bridges;
      if (!Array.isArray(rawBridges)) throw new InputError('field bridges must be a list');
      const bridges = rawBridges.map((b) => (typeof b === 'string' ? { name: b } : { name: str(b as Record<string, unknown>, 'name')!, isMgmt: (b as Record<string, unknown>).isMgmt === true }));
      const s = await deps.inventory.registerServer({
        name: str(o, 'name')!, agentUrl: str(o, 'agentUrl')!, agentPassword: str(o, 'agentPassword')!, bridges,
        legacy: o.legacy === true, uuid: str(o, 'uuid', false),
      });
      return { uuid: s.uuid, name: s.name };
    },
    /** `server.list()` → servers with bridges (no passwords). */
    'server.list': async () =>
      (await deps.inventory.listServers(em)).map((s) => ({
        name: s.name, uuid: s.uuid, agentUrl: s.agentUrl, legacy: s.legacy, enabled: s.enabled,
        bridges: s.bridges.map((b) => ({ name: b.name, isMgmt: b.isMgmt })),
      })),
    /** `ipv4.addRange({name, start, end, netmask, gateway?, dns1?, dns2?, excluded?: [ip…]})`. */
    'ipv4.addRange': async (p) => {
      const o = structParam(p, 0, 'range');
      const r = await deps.inventory.addIpv4Range({
        name: str(o, 'name')!, start: str(o, 'start')!, end: str(o, 'end')!, netmask: str(o, 'netmask')!,
        gateway: str(o, 'gateway', false), dns1: str(o, 'dns1', false), dns2: str(o, 'dns2', false), excluded: strList(o, 'excluded'),
      });
      return { name: r.name };
    },
    /** `mac.addRange({name, start, end, excluded?})`. */
    'mac.addRange': async (p) => {
      const o = structParam(p, 0, 'range');
      const r = await deps.inventory.addMacRange({ name: str(o, 'name')!, start: str(o, 'start')!, end: str(o, 'end')!, excluded: strList(o, 'excluded') });
      return { name: r.name };
    },
    /** `range.subscribe({server, kind: 'ipv4'|'mac', range, priority?})`. */
    'range.subscribe': async (p) => {
      const o = structParam(p, 0, 'subscription');
      const kind = str(o, 'kind');
      if (kind !== 'ipv4' && kind !== 'mac') throw new InputError('kind must be ipv4 or mac');
      const priority = typeof o.priority === 'number' ? o.priority : 0;
      await deps.inventory.subscribe(str(o, 'server')!, kind, str(o, 'range')!, priority);
      return true;
    },
    /** `range.list()` → ranges with usage. */
    'range.list': async () => deps.inventory.listRanges(em),
    /** `vm.list({project?})` → VMs with their NICs. */
    'vm.list': async (p) => {
      const o = p.length ? structParam(p, 0, 'filter') : {};
      const project = str(o, 'project', false);
      const vms = await new VmRepository(em).listWithInterfaces({ projectId: project }, 'createdAt');
      return vms.map((v) => ({
        uuid: v.uuid, name: v.name, state: v.state, stateNote: v.stateNote, expiresAt: v.expiresAt ? v.expiresAt.toISOString() : '', projectId: v.projectId, sliceId: v.sliceId, memoryMb: v.memoryMb, template: v.hdOriginPath,
        interfaces: v.interfaces.sort((a, b) => a.position - b.position).map((i) => ({ name: i.name, mac: i.mac, ip: i.ip ?? '', bridge: i.bridge })),
      }));
    },
    /** `action.list({status?, vm?, type?})` → actions, newest first (at most 500). */
    'action.list': async (p) => {
      const o = p.length ? structParam(p, 0, 'filter') : {};
      const status = str(o, 'status', false);
      const vm = str(o, 'vm', false);
      const type = str(o, 'type', false);
      const rows = await new ActionRepository(em).list({ status: status as ActionRecord['status'] | undefined, vmUuid: vm, type }, 500);
      return rows.map((a) => ({ id: a.uuid, type: a.type, status: a.status, description: a.description, vm: a.vmUuid, created: a.createdAt.toISOString(), updated: a.updatedAt.toISOString() }));
    },
  };
}
