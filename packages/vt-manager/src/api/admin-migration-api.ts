/**
 * `/xmlrpc/admin`, the offline-migration methods (decision record 025). Spread into the admin method table by
 * manager-app.ts.
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { MigrationService } from '../services/migration/migration-service.js';
import { optionalString, requireString } from './request-fields.js';

/** An optional boolean field. @throws InputError when present and not a boolean. */
function optionalBool(o: Record<string, unknown>, key: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new InputError(`field ${key} must be a boolean`);
  return v;
}

/** The migration methods of the admin endpoint. */
export function adminMigrationApi(deps: { migrations: MigrationService }): Record<string, XmlRpcMethod> {
  return {
    /**
     * `vm.migrate({vm, to?, stop?, flatten?})` → `{actionId, type: 'migrate', vm, name, server (the source), target,
     * projectId}`: the migration is stored and runs; poll `vm.migration` or `action.show`. Without `to` the placement
     * policy picks the target (the VM's host must be draining).
     */
    'vm.migrate': async (p, ctx) => {
      if (!ctx.principal) throw new InputError('an authenticated admin is needed');
      const o = structParam(p, 0, 'request');
      const to = optionalString(o, 'to');
      return deps.migrations.request(ctx.principal.name, { vm: requireString(o, 'vm'), ...(to ? { to } : {}), stop: optionalBool(o, 'stop'), flatten: optionalBool(o, 'flatten') });
    },
    /**
     * `vm.migration({action})` → `{actionId, vm, source, target, step, copiedBytes, totalBytes, status, description}`
     * (byte counts as decimal strings: XML-RPC's <int> holds 32 bits).
     */
    'vm.migration': async (p) => {
      const r = await deps.migrations.progress(requireString(structParam(p, 0, 'request'), 'action'));
      return { ...r, copiedBytes: String(r.copiedBytes), totalBytes: String(r.totalBytes) };
    },
  };
}
