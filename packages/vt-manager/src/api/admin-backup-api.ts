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
     * `vm.backup({vm, dir | target, keep?})` → `{host, target?, path, vmUuid, vmName, backedUpAt, disks, sizeBytes,
     * removed, elapsedMs}`: a full backup of the stopped VM into `dir` or the folder of named backup target `target`
     * (either way under a backup root of its host's agent, which refuses it otherwise).
     */
    'vm.backup': async (p) => {
      const o = structParam(p, 0, 'request');
      const keep = o.keep;
      if (keep !== undefined && keep !== null && typeof keep !== 'number') throw new InputError('field keep must be an integer');
      const dir = optionalString(o, 'dir');
      const target = optionalString(o, 'target');
      if ((dir === undefined) === (target === undefined)) throw new InputError('give exactly one of dir and target');
      return deps.backups.backup(requireString(o, 'vm'), dir ?? { target: target! }, typeof keep === 'number' ? keep : undefined);
    },
    /** `backup.list({host?, dir? | target?, vm?})` → `{backups: [{host, path, vmUuid, vmName, backedUpAt, disks, sizeBytes}], errors: [{host, error}]}`. */
    'backup.list': async (p) => {
      const o = p.length ? structParam(p, 0, 'request') : {};
      const host = optionalString(o, 'host');
      const dir = optionalString(o, 'dir');
      const vm = optionalString(o, 'vm');
      const target = optionalString(o, 'target');
      return deps.backups.list({ ...(host ? { host } : {}), ...(dir ? { dir } : {}), ...(vm ? { vm } : {}), ...(target ? { target } : {}) });
    },
    /**
     * `backup.target.add({name, path, host?})` → `{name, path, host, createdAt}` (`host` `""`: the same path on every
     * host; XML-RPC has no null). The manager cannot check the agents' backup roots: a backup into a folder outside them is
     * refused by the agent when it is taken.
     */
    'backup.target.add': async (p) => {
      const o = structParam(p, 0, 'request');
      const t = await deps.backups.targets.add(requireString(o, 'name'), requireString(o, 'path'), optionalString(o, 'host'));
      return { ...t, host: t.host ?? '' };
    },
    /** `backup.target.list()` → `[{name, path, host, createdAt}]` by name (`host` null is sent as an empty string: XML-RPC has no null). */
    'backup.target.list': async () => (await deps.backups.targets.list()).map((t) => ({ ...t, host: t.host ?? '' })),
    /** `backup.target.remove({name})` → the removed target (as `backup.target.add` answers): only the name is forgotten, the backups stay on disk. */
    'backup.target.remove': async (p) => {
      const o = structParam(p, 0, 'request');
      const t = await deps.backups.targets.remove(requireString(o, 'name'));
      return { ...t, host: t.host ?? '' };
    },
    /** `vm.restore({path, host?})` (no host: the original host if it can read the backup, else the first that can) → `{host, path, vmUuid, vmName, domain, bytes, elapsedMs, notes}`: the VM, stopped, same identity. */
    'vm.restore': async (p) => {
      const o = structParam(p, 0, 'request');
      return deps.backups.restore(requireString(o, 'path'), optionalString(o, 'host'));
    },
  };
}
