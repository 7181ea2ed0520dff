/**
 * `/xmlrpc/admin`, the snapshot and backup methods (decision record 026): `vm.snapshot`, `vm.backup`, `vm.restore`
 * and `backup.list`. Synchronous: each answers with the result, or a fault with the reason. Spread into the admin
 * method table by admin-api.ts.
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { VmBackupService } from '../services/vm-backup-service.js';
import { optionalString, requireString } from './request-fields.js';

const SNAPSHOT_OPS = ['create', 'list', 'revert', 'delete'] as const;

/** The snapshot and backup methods of the admin endpoint. */
export function adminBackupApi(deps: { backups: VmBackupService }): Record<string, XmlRpcMethod> {
  return {
    /**
     * `vm.snapshot({vm, op: create|list|revert|delete, name?})` → `{vm, vmName, host, name, createdAt, disks,
     * complete}` (create, revert), `{vm, vmName, host, name, disks}` (delete), `{vm, name, host, snapshots: [...]}`
     * (list). The VM must be stopped except for list.
     */
    'vm.snapshot': async (p) => {
      const o = structParam(p, 0, 'request');
      const op = requireString(o, 'op');
      if (!(SNAPSHOT_OPS as readonly string[]).includes(op)) throw new InputError(`op must be one of ${SNAPSHOT_OPS.join(', ')}`);
      return deps.backups.snapshot(op as (typeof SNAPSHOT_OPS)[number], requireString(o, 'vm'), optionalString(o, 'name'));
    },
    /**
     * `vm.backup({vm, dir, keep?})` → `{host, path, vmUuid, vmName, backedUpAt, disks, sizeBytes, removed, elapsedMs}`:
     * a full backup of the stopped VM into `dir` (a folder under a backup root of its host's agent).
     */
    'vm.backup': async (p) => {
      const o = structParam(p, 0, 'request');
      const keep = o.keep;
      if (keep !== undefined && keep !== null && typeof keep !== 'number') throw new InputError('field keep must be an integer');
      return deps.backups.backup(requireString(o, 'vm'), requireString(o, 'dir'), typeof keep === 'number' ? keep : undefined);
    },
    /** `backup.list({host?, dir?, vm?})` → `{backups: [{host, path, vmUuid, vmName, backedUpAt, disks, sizeBytes}], errors: [{host, error}]}`. */
    'backup.list': async (p) => {
      const o = p.length ? structParam(p, 0, 'request') : {};
      const host = optionalString(o, 'host');
      const dir = optionalString(o, 'dir');
      const vm = optionalString(o, 'vm');
      return deps.backups.list({ ...(host ? { host } : {}), ...(dir ? { dir } : {}), ...(vm ? { vm } : {}) });
    },
    /** `vm.restore({path, host?})` (no host: the original host if it can read the backup, else the first that can) → `{host, path, vmUuid, vmName, domain, bytes, elapsedMs, notes}`: the VM, stopped, same identity. */
    'vm.restore': async (p) => {
      const o = structParam(p, 0, 'request');
      return deps.backups.restore(requireString(o, 'path'), optionalString(o, 'host'));
    },
  };
}
