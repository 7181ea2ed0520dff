/**
 * Admin method `geni.sliver.list({slice?})` for `vtctl geni slivers`: every GENI sliver (docs/geni-v3.md §5) with
 * its slice, server, GENI states, expiry, VM and failure reason.
 */
import { formatGeniTime, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { DataSource } from 'typeorm';
import { allocationStatusOf } from '../domain/geni-sliver-state.js';
import { GeniSliverRepository } from '../repositories/geni-sliver-repository.js';
import { viewSlivers } from '../services/geni/geni-sliver-view.js';
import { optionalString } from './request-fields.js';

/** The GENI sliver admin methods. */
export function adminGeniSliverApi(deps: { dataSource: DataSource }): Record<string, XmlRpcMethod> {
  return {
    'geni.sliver.list': async (p) => {
      const slice = optionalString(p.length ? structParam(p, 0, 'filter') : {}, 'slice');
      const em = deps.dataSource.manager;
      const repo = new GeniSliverRepository(em);
      const rows = slice ? await repo.listBySlice(slice, true) : await repo.list();
      return (await viewSlivers(em, rows)).map((v) => ({
        urn: v.sliver.sliverUrn, slice: v.sliver.sliceUrn, clientId: v.sliver.clientId, server: v.serverName,
        allocation: allocationStatusOf(v.sliver.allocationState), operational: v.operational, expires: formatGeniTime(v.sliver.expiresAt),
        vm: v.sliver.vmUuid, vmState: v.vm?.state ?? '', template: v.sliver.template, memoryMiB: v.sliver.memoryMb, vcpus: v.sliver.vcpus,
        owner: v.sliver.ownerUrn, failure: v.sliver.failure,
      }));
    },
  };
}
