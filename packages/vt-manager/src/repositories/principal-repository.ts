/**
 * The `principal` table: northbound principals stored in the database (roles comma-separated).
 */
import type { EntityManager } from 'typeorm';
import { PrincipalRecord } from '../db/entities/principal.js';

/** Principals in the transaction (or plain manager) `em`. */
export class PrincipalRepository {
  constructor(private readonly em: EntityManager) {}

  /** The principal named `name`, or null. */
  find(name: string): Promise<PrincipalRecord | null> {
    return this.em.findOneBy(PrincipalRecord, { name });
  }

  /** Whether a principal is named `name`. */
  exists(name: string): Promise<boolean> {
    return this.em.existsBy(PrincipalRecord, { name });
  }

  /** Every principal, by name. */
  list(): Promise<PrincipalRecord[]> {
    return this.em.find(PrincipalRecord, { order: { name: 'ASC' } });
  }

  /** Stores a principal; `roles` comma-separated, `passwordScrypt` null for certificate login only. */
  async insert(row: { name: string; roles: string; passwordScrypt: string | null }): Promise<void> {
    await this.em.insert(PrincipalRecord, row);
  }

  /** Deletes the principal; returns false when there was none. */
  async delete(name: string): Promise<boolean> {
    return !!(await this.em.delete(PrincipalRecord, { name })).affected;
  }
}
