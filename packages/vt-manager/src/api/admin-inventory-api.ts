/**
 * `/xmlrpc/admin` methods that change the inventory without SQL (role `admin`, for `vtctl server remove|set|
 * add-bridge|remove-bridge` and `vtctl range remove|unsubscribe|exclude|include`; issue 10). Every method takes one
 * struct and answers `true`; refusals are the service's ConflictError/NotFoundError with the reason.
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { InventoryChangesService } from '../services/inventory-changes-service.js';

type Struct = Record<string, unknown>;

/** A string field; absent or `""`: undefined. @throws InputError when not a string. */
function str(o: Struct, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new InputError(`field ${key} must be a string`);
  return v;
}

/** A required string field. @throws InputError when absent. */
function need(o: Struct, key: string): string {
  const v = str(o, key);
  if (v === undefined) throw new InputError(`missing field ${key}`);
  return v;
}

/** The `kind` field: `ipv4` or `mac`. @throws InputError otherwise. */
function kind(o: Struct): 'ipv4' | 'mac' {
  const k = need(o, 'kind');
  if (k !== 'ipv4' && k !== 'mac') throw new InputError('kind must be ipv4 or mac');
  return k;
}

/** The inventory change methods. */
export function adminInventoryApi(deps: { changes: InventoryChangesService }): Record<string, XmlRpcMethod> {
  const c = deps.changes;
  return {
    /** `server.remove({name})`: refused while VMs remain on it. */
    'server.remove': async (p) => {
      await c.removeServer(need(structParam(p, 0, 'server'), 'name'));
      return true;
    },
    /** `server.set({name, agentUrl?, agentPassword?})`. */
    'server.set': async (p) => {
      const o = structParam(p, 0, 'server');
      await c.setAgent(need(o, 'name'), { agentUrl: str(o, 'agentUrl'), agentPassword: str(o, 'agentPassword') });
      return true;
    },
    /** `server.addBridge({name, bridge})`. */
    'server.addBridge': async (p) => {
      const o = structParam(p, 0, 'bridge');
      await c.addBridge(need(o, 'name'), need(o, 'bridge'));
      return true;
    },
    /** `server.removeBridge({name, bridge})`: refused for the management bridge and while VM NICs use it. */
    'server.removeBridge': async (p) => {
      const o = structParam(p, 0, 'bridge');
      await c.removeBridge(need(o, 'name'), need(o, 'bridge'));
      return true;
    },
    /** `range.remove({kind, name})`: refused while addresses of it are allocated. */
    'range.remove': async (p) => {
      const o = structParam(p, 0, 'range');
      await c.removeRange(kind(o), need(o, 'name'));
      return true;
    },
    /** `range.unsubscribe({server, kind, range})`: refused while the server's VMs hold addresses of it. */
    'range.unsubscribe': async (p) => {
      const o = structParam(p, 0, 'subscription');
      await c.unsubscribe(need(o, 'server'), kind(o), need(o, 'range'));
      return true;
    },
    /** `range.exclude({kind, range, address})`: refused for an allocated address. */
    'range.exclude': async (p) => {
      const o = structParam(p, 0, 'address');
      await c.exclude(kind(o), need(o, 'range'), need(o, 'address'));
      return true;
    },
    /** `range.include({kind, range, address})`: an excluded address becomes allocatable again. */
    'range.include': async (p) => {
      const o = structParam(p, 0, 'address');
      await c.include(kind(o), need(o, 'range'), need(o, 'address'));
      return true;
    },
  };
}
