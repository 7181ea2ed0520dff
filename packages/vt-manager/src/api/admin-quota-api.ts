/**
 * `/xmlrpc/admin` quota methods (role `admin`, `vtctl user set-quota|show|list`; docs/decisions/015): a principal's
 * limits on VMs, vCPUs, guest memory (MiB) and IPv4 addresses. A limit reads as a number, or `"unlimited"`; a
 * principal without a quota reads `quota: "none"`.
 */
import { InputError, NotFoundError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { PrincipalService } from '../services/principal-service.js';
import { parseLimit, type QuotaLimits, type QuotaService } from '../services/quota-service.js';

/** A quota as the admin API shows it: `"none"`, or each limit as a number or `"unlimited"`. */
export function showQuota(q: QuotaLimits | undefined): string | Record<string, number | string> {
  if (!q) return 'none';
  return Object.fromEntries(Object.entries(q).map(([k, v]) => [k, v ?? 'unlimited']));
}

/**
 * `user.setQuota({name, vms?, vcpus?, memoryMib?, addresses?, none?})` → the quota in force; `user.show({name})` →
 * the principal with its quota and usage; `user.list()` → the principals, each with its quota.
 */
export function adminQuotaApi(deps: { principals: PrincipalService; quotas: QuotaService }): Record<string, XmlRpcMethod> {
  const find = async (name: unknown) => {
    if (typeof name !== 'string' || name === '') throw new InputError('missing field name');
    return { name, principal: await deps.principals.find(name) };
  };
  return {
    'user.setQuota': async (p) => {
      const o = structParam(p, 0, 'quota');
      const { name } = await find(o.name);
      if (o.none !== undefined && typeof o.none !== 'boolean') throw new InputError('field none must be a boolean');
      const change: Partial<QuotaLimits> = {
        vms: parseLimit(o.vms, 'vms'), vcpus: parseLimit(o.vcpus, 'vcpus'), memoryMib: parseLimit(o.memoryMib, 'memoryMib'), addresses: parseLimit(o.addresses, 'addresses'),
      };
      const q = await deps.quotas.set(name, change, o.none === true, async (n) => (await deps.principals.find(n)) !== undefined);
      return { name, quota: showQuota(q) };
    },
    'user.show': async (p) => {
      const { name, principal } = await find(structParam(p, 0, 'user').name);
      const row = (await deps.principals.list()).find((u) => u.name === name);
      if (!principal || !row) throw new NotFoundError(`no user ${JSON.stringify(name)}`);
      const { quota, usage } = await deps.quotas.show(name);
      return { ...row, quota: showQuota(quota), usage: { ...usage } };
    },
    'user.list': async () => {
      const quotas = await deps.quotas.list();
      return (await deps.principals.list()).map((u) => ({ ...u, quota: showQuota(quotas.get(u.name)) }));
    },
  };
}
