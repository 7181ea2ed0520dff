/**
 * Per-principal resource quotas (docs/decisions/015-quotas-and-intake-limits.md, docs/security.md "Input limits"):
 * the VMs, vCPUs, guest memory (MiB) and IPv4 addresses of the VMs of the projects a principal owns. Checked inside
 * the create's (or modify's) transaction, with the quota row locked on MySQL, so concurrent creates cannot both pass.
 * Principals without a quota row (admins' own, the config file's `users`) have no limit.
 */
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { PrincipalQuotaRepository, type QuotaLimits, type QuotaUsage } from '../repositories/principal-quota-repository.js';

export type { QuotaLimits, QuotaUsage };

/** Largest limit accepted (a signed 32-bit integer column). */
export const QUOTA_LIMIT_MAX = 2 ** 31 - 1;

const RESOURCES: ReadonlyArray<{ key: keyof QuotaLimits; name: string; unit: string }> = [
  { key: 'vms', name: 'VMs', unit: '' },
  { key: 'vcpus', name: 'vCPUs', unit: '' },
  { key: 'memoryMib', name: 'memory', unit: ' MiB' },
  { key: 'addresses', name: 'IPv4 addresses', unit: '' },
];

/**
 * Checks that `request` (what a create or modify adds) fits `principal`'s quota, in `em`'s transaction; no quota: no
 * check. Internal callers (`principal` undefined) are not checked.
 * @throws ConflictError `quota exceeded: <resource> limit L, in use U, requested R` for the first resource over.
 */
export async function checkQuota(em: EntityManager, principal: string | undefined, request: QuotaUsage): Promise<void> {
  if (principal === undefined) return;
  const quotas = new PrincipalQuotaRepository(em);
  const limits = await quotas.find(principal, true);
  if (!limits) return;
  const usage = await quotas.usage(principal);
  for (const r of RESOURCES) {
    const limit = limits[r.key];
    if (limit === null || request[r.key] === 0) continue;
    if (usage[r.key] + request[r.key] > limit) {
      throw new ConflictError(`quota exceeded: ${r.name} limit ${limit}${r.unit}, in use ${usage[r.key]}${r.unit}, requested ${request[r.key]}${r.unit}`);
    }
  }
}

/**
 * A limit from the admin API: absent (undefined) or a whole number from 0 to {@link QUOTA_LIMIT_MAX}.
 * @throws InputError naming the field.
 */
export function parseLimit(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > QUOTA_LIMIT_MAX) {
    throw new InputError(`${field} must be a whole number from 0 to ${QUOTA_LIMIT_MAX}`);
  }
  return value;
}

/** Quotas for the admin API (`vtctl user set-quota`, `user list`, `user show`). */
export class QuotaService {
  constructor(
    private readonly tx: TransactionRunner,
    /** The quota a new clearinghouse principal gets (the config's `defaultClearinghouseQuota`). */
    private readonly clearinghouseDefault: { vms: number; vcpus: number; memoryMib: number; addresses: number },
  ) {}

  /** In `em`'s transaction: gives a new principal the default quota when it is a clearinghouse and not an admin. */
  async applyDefault(em: EntityManager, name: string, roles: readonly string[]): Promise<void> {
    if (!roles.includes('clearinghouse') || roles.includes('admin')) return;
    await new PrincipalQuotaRepository(em).set(name, { ...this.clearinghouseDefault });
  }

  /**
   * Sets limits of `name`: the given ones replace, the others stay (a principal without a quota gets no limit on
   * them). `none`: removes the quota (no limit at all). Returns the quota in force (undefined: none).
   * @throws NotFoundError when `exists(name)` is false; InputError when `none` is combined with limits.
   */
  async set(name: string, change: Partial<QuotaLimits>, none: boolean, exists: (n: string) => Promise<boolean>): Promise<QuotaLimits | undefined> {
    if (!(await exists(name))) throw new NotFoundError(`no user ${JSON.stringify(name)}`);
    const given = Object.values(change).some((v) => v !== undefined);
    if (none && given) throw new InputError('give either limits or none, not both');
    if (!none && !given) throw new InputError('give at least one limit (vms, vcpus, memoryMib, addresses) or none');
    return this.tx.run(async (em) => {
      const quotas = new PrincipalQuotaRepository(em);
      if (none) {
        await quotas.clear(name);
        return undefined;
      }
      const current = (await quotas.find(name, true)) ?? { vms: null, vcpus: null, memoryMib: null, addresses: null };
      const next: QuotaLimits = {
        vms: change.vms ?? current.vms, vcpus: change.vcpus ?? current.vcpus, memoryMib: change.memoryMib ?? current.memoryMib, addresses: change.addresses ?? current.addresses,
      };
      await quotas.set(name, next);
      return next;
    });
  }

  /** Removes `name`'s quota (its principal was removed). */
  async clear(name: string): Promise<void> {
    await new PrincipalQuotaRepository(this.tx.manager).clear(name);
  }

  /** Every quota, by principal. */
  list(): Promise<Map<string, QuotaLimits>> {
    return new PrincipalQuotaRepository(this.tx.manager).list();
  }

  /** `name`'s quota (undefined: none) and usage. */
  async show(name: string): Promise<{ quota: QuotaLimits | undefined; usage: QuotaUsage }> {
    const quotas = new PrincipalQuotaRepository(this.tx.manager);
    return { quota: await quotas.find(name), usage: await quotas.usage(name) };
  }
}
