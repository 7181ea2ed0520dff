/**
 * Northbound principals (docs/architecture.md decision 2): HTTP Basic users with salted scrypt hashes and roles,
 * stored in the database and managed through the admin RPC (`vtctl user`). The config file's `users` are
 * bootstrap principals (for the first admin); a principal in the database with the same name wins.
 */
import { assertPattern, ConflictError, hashPasswordAsync, InputError, NotFoundError } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import { PRINCIPAL_ROLES, type PrincipalRole } from '../db/entities/principal.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { PrincipalRepository } from '../repositories/principal-repository.js';

/** What authentication needs to know about a principal. */
export interface PrincipalEntry {
  name: string;
  /** null: certificate login only. */
  passwordScrypt: string | null;
  roles: string[];
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;
const ROLES: readonly PrincipalRole[] = PRINCIPAL_ROLES;
/** Shortest password accepted for a new principal. */
export const MIN_PASSWORD_LENGTH = 12;

/** Northbound principals: the database's, then the config's bootstrap principals. */
export class PrincipalService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly bootstrap: readonly PrincipalEntry[] = [],
    /** Runs in the transaction that adds a principal (the default quota of a new clearinghouse). */
    private readonly onAdd?: (em: EntityManager, name: string, roles: readonly string[]) => Promise<void>,
  ) {}

  /**
   * Adds a principal. `password` undefined: certificate login only.
   * @throws InputError for a bad name, an unknown role, no role, or a password shorter than 12 characters;
   *   ConflictError when the name exists.
   */
  async add(input: { name: string; password?: string; roles: string[] }): Promise<{ name: string; roles: string[] }> {
    assertPattern(input.name, NAME_PATTERN, 'user name');
    const roles = [...new Set(input.roles)];
    if (roles.length === 0) throw new InputError('a user needs at least one role (clearinghouse, admin)');
    for (const r of roles) if (!ROLES.includes(r as PrincipalRole)) throw new InputError(`unknown role ${JSON.stringify(r)}: ${ROLES.join(', ')}`);
    if (input.password !== undefined && input.password.length < MIN_PASSWORD_LENGTH) {
      throw new InputError(`password too short: at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const passwordScrypt = input.password === undefined ? null : await hashPasswordAsync(input.password);
    return this.tx.run(async (em) => {
      const principals = new PrincipalRepository(em);
      if (await principals.exists(input.name)) throw new ConflictError(`a user named ${input.name} exists`);
      await principals.insert({
        name: input.name, roles: roles.join(','), passwordScrypt,
      });
      await this.onAdd?.(em, input.name, roles);
      return { name: input.name, roles };
    });
  }

  /** Removes a principal (the projects it owns stay owned by its name). @throws NotFoundError when absent. */
  async remove(name: string): Promise<void> {
    if (!(await new PrincipalRepository(this.tx.manager).delete(name))) throw new NotFoundError(`no user ${JSON.stringify(name)} in the database`);
  }

  /** Principals in the database, then bootstrap principals from the config that the database does not override. */
  async list(): Promise<Array<{ name: string; roles: string[]; login: string; source: 'database' | 'config' }>> {
    const rows = await new PrincipalRepository(this.tx.manager).list();
    const out: Array<{ name: string; roles: string[]; login: string; source: 'database' | 'config' }> = rows.map((r) => ({
      name: r.name, roles: r.roles.split(','), login: r.passwordScrypt ? 'password' : 'certificate', source: 'database',
    }));
    for (const b of this.bootstrap) {
      if (!rows.some((r) => r.name === b.name)) out.push({ name: b.name, roles: b.roles, login: b.passwordScrypt ? 'password' : 'certificate', source: 'config' });
    }
    return out;
  }

  /** The principal named `name`, from the database or else the config; undefined when unknown. */
  async find(name: string): Promise<PrincipalEntry | undefined> {
    const r = await new PrincipalRepository(this.tx.manager).find(name);
    if (r) return { name: r.name, passwordScrypt: r.passwordScrypt, roles: r.roles.split(',') };
    return this.bootstrap.find((b) => b.name === name);
  }
}
