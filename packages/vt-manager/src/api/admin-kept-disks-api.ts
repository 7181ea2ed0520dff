/**
 * `/xmlrpc/admin`, the kept-disks methods (decision record 021): the disks agents keep of VMs deleted with
 * keep-disks, listed per host and purged by id. Spread into the admin method table by admin-api.ts.
 */
import { structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { KeptDisksService } from '../services/kept-disks-service.js';
import { requireString } from './request-fields.js';

/** The kept-disks methods of the admin endpoint. */
export function adminKeptDisksApi(deps: { keptDisks: KeptDisksService }): Record<string, XmlRpcMethod> {
  return {
    /**
     * `host.keptDisks({server})` → `[{id, vmUuid, vmName, keptAt, actualSizeMiB, files: [{name, virtualSizeMiB,
     * actualSizeMiB} | {name, error}]}]`, oldest first; sizes in MiB, `keptAt` ISO 8601, `vmName` `""` when unknown.
     */
    'host.keptDisks': async (p) => (await deps.keptDisks.list(requireString(structParam(p, 0, 'server'), 'server'))).keptDisks.map((e) => ({ ...e, files: e.files.map((f) => ({ ...f })) })),
    /** `host.purgeKeptDisks({server, id})` → `{host, id, files: [name…]}`: removes the folder and its images. */
    'host.purgeKeptDisks': async (p) => {
      const o = structParam(p, 0, 'request');
      return deps.keptDisks.purge(requireString(o, 'server'), requireString(o, 'id'));
    },
  };
}
