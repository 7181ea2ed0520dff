/**
 * The `project_owner` table: which clearinghouse principal owns a project.
 */
import type { EntityManager } from 'typeorm';
import { ProjectOwner } from '../db/entities/project-owner.js';

/** Project owners in the transaction (or plain manager) `em`. */
export class ProjectOwnerRepository {
  constructor(private readonly em: EntityManager) {}

  /** The principal that owns the project, or undefined when nobody claimed it yet. */
  async ownerOf(projectId: string): Promise<string | undefined> {
    return (await this.em.findOneBy(ProjectOwner, { projectId }))?.principal;
  }

  /**
   * Records `principal` as the project's owner.
   * @throws the driver's unique-violation error when the project was claimed meanwhile (see db/driver-errors.ts).
   */
  async claim(projectId: string, principal: string): Promise<void> {
    await this.em.insert(ProjectOwner, { projectId, principal });
  }

  /** Whether `principal` owns the project. */
  owns(principal: string, projectId: string): Promise<boolean> {
    return this.em.existsBy(ProjectOwner, { principal, projectId });
  }

  /** The ids of the projects `principal` owns. */
  async projectsOf(principal: string): Promise<Set<string>> {
    return new Set((await this.em.findBy(ProjectOwner, { principal })).map((o) => o.projectId));
  }
}
