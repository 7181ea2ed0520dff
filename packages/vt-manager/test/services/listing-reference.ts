/**
 * Test helper (not a test): the information document as it was rendered before decision 031 (every VM loaded and
 * filtered per server), the reference the listing tests compare the cached, pieced build with byte for byte.
 */
import { informationResponse, serialiseRspec } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import { serverToInformation } from '../../dist/services/rspec-mapping.js';
import { ServerRepository } from '../../dist/repositories/server-repository.js';
import { VmRepository } from '../../dist/repositories/vm-repository.js';
import { ProjectOwnerRepository } from '../../dist/repositories/project-owner-repository.js';

/** The raw (unescaped) document of the view (project, slice, principal's owned projects) read through `em`. */
export async function referenceRendering(em: EntityManager, projectId?: string, sliceId?: string, principal?: string): Promise<string> {
  const servers = await new ServerRepository(em).listWithBridges('id');
  const vms = await new VmRepository(em).listWithInterfaces({ projectId, sliceId }, 'id');
  const owned = principal === undefined ? undefined : await new ProjectOwnerRepository(em).projectsOf(principal);
  const visible = owned ? vms.filter((v) => owned.has(v.projectId)) : vms;
  return serialiseRspec(informationResponse(servers.map((s) => serverToInformation(s, visible.filter((v) => v.serverId === s.id)))), { dialect: 'manager' });
}
