/**
 * Read side for clearinghouses: `listResources` (ocf-protocol.md §2.2.3, §6.7).
 */
import { createHash } from 'node:crypto';
import { informationResponse, serialiseRspec } from '@kvm-crm/shared';
import type { DataSource } from 'typeorm';
import { Server } from '../db/entities/server.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';
import { ProjectOwner } from '../db/entities/project-owner.js';
import { serverToInformation } from './rspec-mapping.js';

/** `"None"`, `""` and an absent argument all mean "no filter" (§2.2.3, recommended behaviour). */
function filterValue(v: string | undefined): string | undefined {
  return v === undefined || v === '' || v === 'None' ? undefined : v;
}

export class InformationService {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The information document for every server, with VMs filtered by project and slice, and its hash: the SHA-256
   * of the document (hex), opaque to clients, equal for equal content (§2.2.3).
   */
  async information(projectId?: string, sliceId?: string, principal?: string): Promise<{ hash: string; xml: string }> {
    const em = this.dataSource.manager;
    const servers = await em.find(Server, { relations: { bridges: true }, order: { id: 'ASC' } });
    const project = filterValue(projectId);
    const slice = filterValue(sliceId);
    const vms = await em.find(VirtualMachine, {
      where: { ...(project ? { projectId: project } : {}), ...(slice ? { sliceId: slice } : {}) },
      relations: { interfaces: true },
      order: { id: 'ASC' },
    });
    // a clearinghouse sees only the VMs of its own projects
    const owned = principal === undefined ? undefined : new Set((await em.find(ProjectOwner, { where: { principal } })).map((o) => o.projectId));
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
