/**
 * Read side for clearinghouses: `listResources` (docs/ocf-protocol.md §2.2.3, §6.7).
 */
import { createHash } from 'node:crypto';
import { informationResponse, serialiseRspec } from '@kvm-crm/shared';
import type { DataSource } from 'typeorm';
import { ServerRepository } from '../repositories/server-repository.js';
import { VmRepository } from '../repositories/vm-repository.js';
import { visibleProjects } from './project-ownership.js';
import { serverToInformation } from './rspec-mapping.js';

/** `"None"`, `""` and an absent argument all mean "no filter" (§2.2.3, recommended behaviour). */
function filterValue(v: string | undefined): string | undefined {
  return v === undefined || v === '' || v === 'None' ? undefined : v;
}

/** `listResources`: the information document, filtered by project, slice and the caller's projects. */
export class InformationService {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The information document for every server, with VMs filtered by project and slice, and its hash: the SHA-256
   * of the document (hex), opaque to clients, equal for equal content (§2.2.3).
   */
  async information(projectId?: string, sliceId?: string, principal?: string): Promise<{ hash: string; xml: string }> {
    const em = this.dataSource.manager;
    const servers = await new ServerRepository(em).listWithBridges('id');
    const vms = await new VmRepository(em).listWithInterfaces({ projectId: filterValue(projectId), sliceId: filterValue(sliceId) }, 'id');
    // a clearinghouse sees only the VMs of its own projects
    const owned = await visibleProjects(em, principal);
    const visible = owned ? vms.filter((v) => owned.has(v.projectId)) : vms;
    const doc = informationResponse(servers.map((s) => serverToInformation(s, visible.filter((v) => v.serverId === s.id))));
    const xml = serialiseRspec(doc, { dialect: 'manager' });
    return { hash: createHash('sha256').update(xml).digest('hex'), xml };
  }

  /** `listResources(remoteHashValue, projectUUID, sliceUUID)` → `[hash, xml]`, or `[hash, ""]` when unchanged. */
  async listResources(remoteHash: string, projectId?: string, sliceId?: string, principal?: string): Promise<[string, string]> {
    const { hash, xml } = await this.information(projectId, sliceId, principal);
    return [hash, hash === remoteHash ? '' : xml];
  }
}
