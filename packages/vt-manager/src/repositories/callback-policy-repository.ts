/**
 * The `callback_policy` table: per-principal callback allowances (decision 014).
 */
import type { EntityManager } from 'typeorm';
import { CallbackPolicyRecord } from '../db/entities/callback-policy.js';

/** Callback policies in the transaction (or plain manager) `em`. */
export class CallbackPolicyRepository {
  constructor(private readonly em: EntityManager) {}

  /** The policy of `principal`, or null (the default applies). */
  find(principal: string): Promise<CallbackPolicyRecord | null> {
    return this.em.findOneBy(CallbackPolicyRecord, { principal });
  }

  /** Every stored policy, by principal. */
  list(): Promise<CallbackPolicyRecord[]> {
    return this.em.find(CallbackPolicyRecord, { order: { principal: 'ASC' } });
  }

  /** Inserts or replaces the policy of `row.principal`. */
  async upsert(row: { principal: string; allowHttp: boolean; allow: string; setBy: string }): Promise<void> {
    const existing = await this.find(row.principal);
    if (existing) await this.em.update(CallbackPolicyRecord, { id: existing.id }, { allowHttp: row.allowHttp, allow: row.allow, setBy: row.setBy });
    else await this.em.insert(CallbackPolicyRecord, row);
  }

  /** Deletes the policy of `principal` (back to the default); false when there was none. */
  async delete(principal: string): Promise<boolean> {
    return !!(await this.em.delete(CallbackPolicyRecord, { principal })).affected;
  }
}
