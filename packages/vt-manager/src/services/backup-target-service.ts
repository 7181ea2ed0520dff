/**
 * Named backup targets (`vtctl backup target add|list|remove`, decision record 026 §3): a name for a folder that
 * `vtctl vm backup --target NAME` and `vtctl backup list --target NAME` resolve to. A target is either the same
 * path on every host (a shared NFS mount, no host given) or pinned to one host. The registry only names folders:
 * the agent still confines every backup to its `backupRoots` and refuses a folder outside them with its reason;
 * the manager cannot check every host's roots when a target is added. Removing a target only forgets the name:
 * the backups stay on disk (list or restore them by path).
 */
import { posix } from 'node:path';
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { Server } from '../db/entities/server.js';
import { isUniqueViolation } from '../db/driver-errors.js';
import { BackupTargetRepository } from '../repositories/backup-target-repository.js';
import { ServerRepository } from '../repositories/server-repository.js';
import type { InventoryService } from './inventory-service.js';

/** Target names: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 64 (like template names). */
export const BACKUP_TARGET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A target as the admin API shows it; `host` null: the same path on every host. */
export interface BackupTargetView {
  name: string;
  path: string;
  host: string | null;
  createdAt: string;
}

/**
 * `path` checked and normalised: absolute, at most 1024 characters, no control characters, no `.` or `..`
 * segment, not `/` itself; repeated and trailing slashes dropped.
 * @throws InputError naming what is wrong.
 */
export function normaliseTargetPath(path: string): string {
  const shown = JSON.stringify(path.slice(0, 120));
  if (!path.startsWith('/')) throw new InputError(`backup target path ${shown} must be absolute`);
  if (path.length > 1024) throw new InputError('backup target path is longer than 1024 characters');
  if (/[\x00-\x1f\x7f]/.test(path)) throw new InputError(`backup target path ${shown} holds a control character`);
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) throw new InputError(`backup target path ${shown} must not contain '.' or '..' segments`);
  if (segments.length === 0) throw new InputError('backup target path must not be / itself');
  return posix.join('/', ...segments);
}

/** The registry of named backup targets (see the module comment). */
export class BackupTargetService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly inventory: InventoryService,
  ) {}

  /**
   * Adds target `name` at `path` (normalised), on every host or only on `host` (name or uuid).
   * @throws InputError for a bad name or path; NotFoundError for an unknown host; ConflictError when the name is taken.
   */
  async add(name: string, path: string, host?: string): Promise<BackupTargetView> {
    if (!BACKUP_TARGET_NAME_PATTERN.test(name)) {
      throw new InputError(`invalid backup target name ${JSON.stringify(name.slice(0, 80))}: need a letter or digit, then letters, digits, '.', '_' or '-' (at most 64)`);
    }
    const clean = normaliseTargetPath(path);
    try {
      return await this.tx.run(async (em) => {
        const server = host !== undefined ? await this.inventory.getServer(em, host) : null;
        const repo = new BackupTargetRepository(em);
        if (await repo.findByName(name)) throw new ConflictError(`backup target ${name} exists already`);
        const t = await repo.add(name, clean, server?.id ?? null);
        return { name: t.name, path: t.path, host: server?.name ?? null, createdAt: t.createdAt.toISOString() };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`backup target ${name} exists already`);
      throw err;
    }
  }

  /** Every target, by name. */
  async list(): Promise<BackupTargetView[]> {
    const servers = new Map((await new ServerRepository(this.tx.manager).list()).map((s) => [s.id, s.name]));
    return (await new BackupTargetRepository(this.tx.manager).list()).map((t) => ({
      name: t.name, path: t.path, host: t.serverId === null ? null : (servers.get(t.serverId) ?? `#${t.serverId}`), createdAt: t.createdAt.toISOString(),
    }));
  }

  /**
   * Forgets target `name`; the backups in its folder stay on disk.
   * @returns the removed target. @throws NotFoundError when there is none.
   */
  async remove(name: string): Promise<BackupTargetView> {
    return this.tx.run(async (em) => {
      const repo = new BackupTargetRepository(em);
      const t = await repo.findByName(name);
      if (!t) throw new NotFoundError(`no backup target ${JSON.stringify(name.slice(0, 80))}`);
      const host = t.serverId === null ? null : (await new ServerRepository(em).getById(t.serverId)).name;
      await repo.remove(name);
      return { name: t.name, path: t.path, host, createdAt: t.createdAt.toISOString() };
    });
  }

  /**
   * The folder target `name` names on `server`.
   * @throws NotFoundError when there is no such target; ConflictError when it is pinned to another host.
   */
  async pathOn(name: string, server: Server): Promise<string> {
    const t = await this.get(name);
    if (t.serverId !== null && t.serverId !== server.id) {
      const pinned = await new ServerRepository(this.tx.manager).getById(t.serverId);
      throw new ConflictError(`backup target ${name} is on host ${pinned.name} only, not on ${server.name}`);
    }
    return t.path;
  }

  /**
   * Where target `name` is: its path and the host it is pinned to (null: every host).
   * @throws NotFoundError when there is no such target.
   */
  async resolve(name: string): Promise<{ path: string; host: string | null }> {
    const t = await this.get(name);
    return { path: t.path, host: t.serverId === null ? null : (await new ServerRepository(this.tx.manager).getById(t.serverId)).name };
  }

  private async get(name: string) {
    const t = BACKUP_TARGET_NAME_PATTERN.test(name) ? await new BackupTargetRepository(this.tx.manager).findByName(name) : null;
    if (!t) throw new NotFoundError(`no backup target ${JSON.stringify(name.slice(0, 80))} (see \`vtctl backup target list\`)`);
    return t;
  }
}
