/**
 * `/xmlrpc/admin` methods that change the inventory without SQL (role `admin`, for `vtctl server remove|set|
 * add-bridge|remove-bridge` and `vtctl range remove|unsubscribe|exclude|include`; issue 10). Every method takes one
 * struct and answers `true`; refusals are the service's ConflictError/NotFoundError with the reason.
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import { optionalString, requireString } from './request-fields.js';
import type { InventoryChangesService } from '../services/inventory-changes-service.js';

type Struct = Record<string, unknown>;

/** The `kind` field: `ipv4` or `mac`. @throws InputError otherwise. */
function kind(o: Struct): 'ipv4' | 'mac' {
  const k = requireString(o, 'kind');
  if (k !== 'ipv4' && k !== 'mac') throw new InputError('kind must be ipv4 or mac');
  return k;
}

/** The inventory change methods. */
export function adminInventoryApi(deps: { changes: InventoryChangesService }): Record<string, XmlRpcMethod> {
  const c = deps.changes;
  return {
    /** `server.remove({name})`: refused while VMs remain on it. */
    'server.remove': async (p) => {
      await c.removeServer(requireString(structParam(p, 0, 'server'), 'name'));
      return true;
    },
    /** `server.set({name, agentUrl?, agentPassword?})`. */
    'server.set': async (p) => {
      const o = structParam(p, 0, 'server');
      await c.setAgent(requireString(o, 'name'), { agentUrl: optionalString(o, 'agentUrl'), agentPassword: optionalString(o, 'agentPassword') });
      return true;
    },
    /** `server.addBridge({name, bridge})`. */
    'server.addBridge': async (p) => {
      const o = structParam(p, 0, 'bridge');
      await c.addBridge(requireString(o, 'name'), requireString(o, 'bridge'));
      return true;
    },
    /** `server.removeBridge({name, bridge})`: refused for the management bridge and while VM NICs use it. */
    'server.removeBridge': async (p) => {
      const o = structParam(p, 0, 'bridge');
      await c.removeBridge(requireString(o, 'name'), requireString(o, 'bridge'));
      return true;
    },
    /** `range.remove({kind, name})`: refused while addresses of it are allocated. */
    'range.remove': async (p) => {
      const o = structParam(p, 0, 'range');
      await c.removeRange(kind(o), requireString(o, 'name'));
      return true;
    },
    /** `range.unsubscribe({server, kind, range})`: refused while the server's VMs hold addresses of it. */
    'range.unsubscribe': async (p) => {
      const o = structParam(p, 0, 'subscription');
      await c.unsubscribe(requireString(o, 'server'), kind(o), requireString(o, 'range'));
      return true;
    },
    /** `range.exclude({kind, range, address})`: refused for an allocated address. */
    'range.exclude': async (p) => {
      const o = structParam(p, 0, 'address');
      await c.exclude(kind(o), requireString(o, 'range'), requireString(o, 'address'));
      return true;
    },
    /** `range.include({kind, range, address})`: an excluded address becomes allocatable again. */
    'range.include': async (p) => {
      const o = structParam(p, 0, 'address');
      await c.include(kind(o), requireString(o, 'range'), requireString(o, 'address'));
      return true;
    },
  };
}
