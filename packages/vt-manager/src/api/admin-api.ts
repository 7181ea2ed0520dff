/**
 * `/xmlrpc/admin`: inventory administration for `vtctl` (role `admin`). Every method takes one struct and
 * returns plain structs/arrays (docs/ocf-behaviour.md B5: hosts and pools are registered through RPC, never SQL).
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { DataSource } from 'typeorm';
import type { ActionRecord } from '../db/entities/action.js';
import { ActionRepository } from '../repositories/action-repository.js';
import type { InventoryService } from '../services/inventory-service.js';
import type { PrincipalService } from '../services/principal-service.js';
import type { QuotaService } from '../services/quota-service.js';
import { adminQuotaApi } from './admin-quota-api.js';
import { adminVmApi } from './admin-vm-api.js';
import { adminInventoryApi } from './admin-inventory-api.js';
import { optionalString, optionalTime, requireString, strList } from './request-fields.js';
import type { InventoryChangesService } from '../services/inventory-changes-service.js';
import type { VmLifecycleService } from '../services/vm-lifecycle-service.js';
import type { ProvisioningService } from '../services/provisioning-service.js';
import { adminHostApi, placementView, type AdminHostDeps } from './admin-host-api.js';
import { adminKeptDisksApi } from './admin-kept-disks-api.js';
import type { KeptDisksService } from '../services/kept-disks-service.js';
import { adminManifestApi } from './admin-manifest-api.js';
import type { ManifestService } from '../services/manifest/manifest-service.js';

/**
 * The admin endpoint's methods (role `admin`): users, servers, ranges and subscriptions, VMs and actions, and, with
 * `provisioning`, the operator verbs on actions and expiries. Every method takes one struct; a missing or mistyped
 * field is an InputError (fault), and the services' errors pass through.
 */
export function adminApi(deps: {
  inventory: InventoryService;
  dataSource: DataSource;
  principals: PrincipalService;
  /** Operator verbs on actions (`action.show|retry|fail|succeed`); absent: those methods are not offered. */
  provisioning?: ProvisioningService;
  /** Called after a principal was removed (drops cached logins). */
  onPrincipalRemoved?: (name: string) => void;
  /** Quotas (`user.setQuota`, `user.show`, quotas in `user.list`); absent: not offered. */
  quotas?: QuotaService;
  /** Host capacity, facts and placement flags (admin-host-api.ts); absent: those methods are not offered. */
  hosts?: AdminHostDeps;
  /** VM lifecycle (`vm.create|action|show|consoleLog`); absent: not offered (`vm.list` always is). */
  vms?: VmLifecycleService;
  /** Inventory changes (`server.remove|set|addBridge|removeBridge`, `range.remove|unsubscribe|exclude|include`); absent: not offered. */
  inventoryChanges?: InventoryChangesService;
  /** Kept disks on the hosts (`host.keptDisks|purgeKeptDisks`); absent: not offered. */
  keptDisks?: KeptDisksService;
  /** Manifests (`manifest.plan|run|domainXml|capacity`, decision 024); absent: not offered. */
  manifests?: ManifestService;
}): Record<string, XmlRpcMethod> {
  const em = deps.dataSource.manager;
  const provisioning = deps.provisioning;
  const operator = (ctx: { principal?: { name: string } }): string => ctx.principal?.name ?? 'unknown';
  const actionVerbs: Record<string, XmlRpcMethod> = provisioning
    ? {
        /** `action.show({id})` → the action and its history (at, from, to, who, why). */
        'action.show': async (p) => {
          const { action: a, events } = await provisioning.showAction(requireString(structParam(p, 0, 'action'), 'id'));
          return {
            id: a.uuid, type: a.type, status: a.status, description: a.description, vm: a.vmUuid, deadline: a.deadline.toISOString(),
            leaseOwner: a.leaseOwner ?? '', leaseExpiresAt: a.leaseExpiresAt ? a.leaseExpiresAt.toISOString() : '', sendAttempts: a.sendAttempts,
            placement: placementView(a.placement),
            created: a.createdAt.toISOString(), updated: a.updatedAt.toISOString(),
            history: events.map((e) => ({ at: e.at.toISOString(), from: e.fromStatus ?? '', to: e.toStatus, who: e.who, why: e.why })),
          };
        },
        /** `vm.setExpiry({uuid, expiresAt})`: ISO 8601 time when the manager deletes the VM; `""` clears it. */
        'vm.setExpiry': async (p) => {
          const o = structParam(p, 0, 'vm');
          const when = optionalTime(o, 'expiresAt');
          await provisioning.setExpiry(requireString(o, 'uuid'), when);
          return true;
        },
        /**
         * `slice.setExpiry({sliceId, expiresAt, why?})`: ISO 8601 time when the manager deletes every VM of the slice
         * (and refuses creates in it); `""` clears it. Who set it, and when, is kept with it and logged (with why).
         */
        'slice.setExpiry': async (p, ctx) => {
          const o = structParam(p, 0, 'slice');
          const when = optionalTime(o, 'expiresAt');
          await provisioning.setSliceExpiry(requireString(o, 'sliceId'), when, operator(ctx), optionalString(o, 'why') ?? '');
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
          await provisioning.operatorRetry(requireString(o, 'id'), requireString(o, 'why'), operator(ctx));
          return true;
        },
        /** `action.fail({id, why})`: fails a stuck action, notifies the client (audited). */
        'action.fail': async (p, ctx) => {
          const o = structParam(p, 0, 'action');
          await provisioning.operatorResolve(requireString(o, 'id'), 'FAILED', requireString(o, 'why'), operator(ctx));
          return true;
        },
        /** `action.succeed({id, why})`: applies a stuck action's success, notifies the client (audited). */
        'action.succeed': async (p, ctx) => {
          const o = structParam(p, 0, 'action');
          await provisioning.operatorResolve(requireString(o, 'id'), 'SUCCESS', requireString(o, 'why'), operator(ctx));
          return true;
        },
      }
    : {};
  return {
    ...actionVerbs,
    ...(deps.hosts ? adminHostApi(deps.hosts) : {}),
    ...(deps.keptDisks ? adminKeptDisksApi({ keptDisks: deps.keptDisks }) : {}),
    ...(deps.manifests ? adminManifestApi({ manifests: deps.manifests }) : {}),
    /** `user.add({name, password?, roles: ['clearinghouse'|'admin'…]})`; no password: certificate login only. */
    'user.add': async (p) => {
      const o = structParam(p, 0, 'user');
      return deps.principals.add({ name: requireString(o, 'name'), password: optionalString(o, 'password'), roles: strList(o, 'roles') });
    },
    /** `user.remove({name})`. */
    'user.remove': async (p) => {
      const name = requireString(structParam(p, 0, 'user'), 'name');
      await deps.principals.remove(name);
      await deps.quotas?.clear(name);
      deps.onPrincipalRemoved?.(name);
      return true;
    },
    /** `user.list()` → names, roles, login kind, source (database or config), quota (with `quotas`); never hashes. */
    'user.list': async () => deps.principals.list(),
    ...(deps.quotas ? adminQuotaApi({ principals: deps.principals, quotas: deps.quotas }) : {}),
    ...adminVmApi({ em, vms: deps.vms }),
    ...(deps.inventoryChanges ? adminInventoryApi({ changes: deps.inventoryChanges }) : {}),
    /** `server.register({name, agentUrl, agentPassword, bridges: [name…] | [{name,isMgmt}…], legacy?, uuid?})`. */
    'server.register': async (p) => {
      const o = structParam(p, 0, 'server');
      const rawBridges = o.bridges;
      if (!Array.isArray(rawBridges)) throw new InputError('field bridges must be a list');
      const bridges = rawBridges.map((b) => (typeof b === 'string' ? { name: b } : { name: requireString(b as Record<string, unknown>, 'name'), isMgmt: (b as Record<string, unknown>).isMgmt === true }));
      const s = await deps.inventory.registerServer({
        name: requireString(o, 'name'), agentUrl: requireString(o, 'agentUrl'), agentPassword: requireString(o, 'agentPassword'), bridges,
        legacy: o.legacy === true, uuid: optionalString(o, 'uuid'),
      });
      await deps.hosts?.hostFacts.refresh(s);
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
        name: requireString(o, 'name'), start: requireString(o, 'start'), end: requireString(o, 'end'), netmask: requireString(o, 'netmask'),
        gateway: optionalString(o, 'gateway'), dns1: optionalString(o, 'dns1'), dns2: optionalString(o, 'dns2'), excluded: strList(o, 'excluded'),
      });
      return { name: r.name };
    },
    /** `mac.addRange({name, start, end, excluded?})`. */
    'mac.addRange': async (p) => {
      const o = structParam(p, 0, 'range');
      const r = await deps.inventory.addMacRange({ name: requireString(o, 'name'), start: requireString(o, 'start'), end: requireString(o, 'end'), excluded: strList(o, 'excluded') });
      return { name: r.name };
    },
    /** `range.subscribe({server, kind: 'ipv4'|'mac', range, priority?})`. */
    'range.subscribe': async (p) => {
      const o = structParam(p, 0, 'subscription');
      const kind = requireString(o, 'kind');
      if (kind !== 'ipv4' && kind !== 'mac') throw new InputError('kind must be ipv4 or mac');
      const priority = typeof o.priority === 'number' ? o.priority : 0;
      await deps.inventory.subscribe(requireString(o, 'server'), kind, requireString(o, 'range'), priority);
      return true;
    },
    /** `range.list()` → ranges with usage. */
    'range.list': async () => deps.inventory.listRanges(em),
    /** `action.list({status?, vm?, type?})` → actions, newest first (at most 500). */
    'action.list': async (p) => {
      const o = p.length ? structParam(p, 0, 'filter') : {};
      const status = optionalString(o, 'status');
      const vm = optionalString(o, 'vm');
      const type = optionalString(o, 'type');
      const rows = await new ActionRepository(em).list({ status: status as ActionRecord['status'] | undefined, vmUuid: vm, type }, 500);
      return rows.map((a) => ({ id: a.uuid, type: a.type, status: a.status, description: a.description, vm: a.vmUuid, created: a.createdAt.toISOString(), updated: a.updatedAt.toISOString() }));
    },
  };
}
