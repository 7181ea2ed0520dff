/**
 * The `backup_target` table: named backup folders (decision record 026 §3).
 */
import type { EntityManager } from 'typeorm';
import { BackupTarget } from '../db/entities/backup-target.js';

/** Backup targets in the transaction (or plain manager) `em`. */
export class BackupTargetRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Adds target `name` at `path`, pinned to server `serverId` (null: every host).
   * @throws the driver's unique-violation error when the name is taken.
   */
  async add(name: string, path: string, serverId: number | null): Promise<BackupTarget> {
    return this.em.save(this.em.create(BackupTarget, { name, path, serverId }));
  }

  /** The target named `name` (exact, case-sensitive), or null. */
  findByName(name: string): Promise<BackupTarget | null> {
    return this.em.findOne(BackupTarget, { where: { name } });
  }

  /** Every target, by name. */
  list(): Promise<BackupTarget[]> {
    return this.em.find(BackupTarget, { order: { name: 'ASC' } });
  }

  /** Forgets target `name`; returns whether a row was removed. */
  async remove(name: string): Promise<boolean> {
    const r = await this.em.delete(BackupTarget, { name });
    return (r.affected ?? 0) > 0;
  }
}
