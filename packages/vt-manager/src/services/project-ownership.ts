/**
 * Project ownership between clearinghouses: the first clearinghouse principal that names a project owns it; only
 * that principal may act on, or see, the project's VMs. Used by provisioning, listing and monitoring.
 */
import { ConflictError, NotAllowedError } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import { isUniqueViolation } from '../db/driver-errors.js';
import { ProjectOwnerRepository } from '../repositories/project-owner-repository.js';

/**
 * Claims the project for `principal` when nobody owns it, else checks that `principal` owns it. Internal callers
 * (`principal` undefined) are not checked. Runs in `em`'s transaction.
 * @throws NotAllowedError when the project belongs to another principal; ConflictError when a concurrent claim
 *   won and its row cannot be read yet.
 */
export async function claimOrCheckProject(em: EntityManager, projectId: string, principal: string | undefined): Promise<void> {
  if (principal === undefined) return;
  const owners = new ProjectOwnerRepository(em);
  let owner = await owners.ownerOf(projectId);
  if (owner === undefined) {
    try {
      await owners.claim(projectId, principal);
      return;
    } catch (err) {
      // Another request claimed the project between our read and our insert (parallel first creates, or two
      // managers): the unique index decided; read who won.
      if (!isUniqueViolation(err)) throw err;
      owner = await owners.ownerOf(projectId);
      if (owner === undefined) throw new ConflictError(`project ${projectId} is being claimed concurrently; try again`);
    }
  }
  if (owner !== principal) throw new NotAllowedError(`project ${projectId} belongs to another clearinghouse`);
}

/** Whether `principal` owns the project (`em`: a transaction or the plain manager). */
export function ownsProject(em: EntityManager, principal: string, projectId: string): Promise<boolean> {
  return new ProjectOwnerRepository(em).owns(principal, projectId);
}

/**
 * The projects `principal` may see: the set of the ids it owns, or undefined (no restriction) for internal callers
 * (`principal` undefined).
 */
export async function visibleProjects(em: EntityManager, principal: string | undefined): Promise<Set<string> | undefined> {
  return principal === undefined ? undefined : new ProjectOwnerRepository(em).projectsOf(principal);
}
