/**
 * The `principal_quota` table (per-principal resource limits) and the usage they are checked against: the VMs of
 * the projects a principal owns (`project_owner`), their vCPUs, memory and IPv4 addresses.
 */
import type { EntityManager } from 'typeorm';
import { PrincipalQuota } from '../db/entities/principal-quota.js';
import { ProjectOwner } from '../db/entities/project-owner.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';
import { VmInterface } from '../db/entities/vm-interface.js';

/** Quota limits; null: no limit on that resource. Memory in MiB. */
export interface QuotaLimits {
  vms: number | null;
  vcpus: number | null;
  memoryMib: number | null;
  addresses: number | null;
}

/** What a principal's VMs hold. Memory in MiB. */
export interface QuotaUsage {
  vms: number;
  vcpus: number;
  memoryMib: number;
  addresses: number;
}

const toLimits = (r: PrincipalQuota): QuotaLimits => ({ vms: r.maxVms, vcpus: r.maxVcpus, memoryMib: r.maxMemoryMib, addresses: r.maxAddresses });

/** Quotas in the transaction (or plain manager) `em`. */
export class PrincipalQuotaRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * The principal's limits, or undefined (no quota). With `lock`, the row is locked until the transaction ends on
   * MySQL/MariaDB (`SELECT … FOR UPDATE`: concurrent creates of one principal are checked one after the other);
   * SQLite runs one transaction at a time anyway.
   */
  async find(principal: string, lock = false): Promise<QuotaLimits | undefined> {
    const engine = this.em.connection.options.type;
    const mysql = engine === 'mysql' || engine === 'mariadb';
    const row = await this.em.findOne(PrincipalQuota, { where: { principal }, ...(lock && mysql ? { lock: { mode: 'pessimistic_write' as const } } : {}) });
    return row ? toLimits(row) : undefined;
  }

  /** Every quota, by principal name. */
  async list(): Promise<Map<string, QuotaLimits>> {
    const rows = await this.em.find(PrincipalQuota, { order: { principal: 'ASC' } });
    return new Map(rows.map((r) => [r.principal, toLimits(r)]));
  }

  /** Sets (inserts or replaces) the principal's limits. */
  async set(principal: string, limits: QuotaLimits): Promise<void> {
    const values = { maxVms: limits.vms, maxVcpus: limits.vcpus, maxMemoryMib: limits.memoryMib, maxAddresses: limits.addresses };
    if (await this.em.existsBy(PrincipalQuota, { principal })) await this.em.update(PrincipalQuota, { principal }, values);
    else await this.em.insert(PrincipalQuota, { principal, ...values });
  }

  /** Removes the principal's quota (no limit); false when it had none. */
  async clear(principal: string): Promise<boolean> {
    return !!(await this.em.delete(PrincipalQuota, { principal })).affected;
  }

  /** What the VMs of the projects `principal` owns hold now. */
  async usage(principal: string): Promise<QuotaUsage> {
    const projects = this.em.createQueryBuilder(ProjectOwner, 'po').select('po.projectId').where('po.principal = :principal');
    const vm = await this.em
      .createQueryBuilder(VirtualMachine, 'vm')
      .select('COUNT(vm.id)', 'vms')
      .addSelect('COALESCE(SUM(vm.vcpus), 0)', 'vcpus')
      .addSelect('COALESCE(SUM(vm.memoryMb), 0)', 'memoryMib')
      .where(`vm.projectId IN (${projects.getQuery()})`, { principal })
      .getRawOne<Record<string, number | string>>();
    const ip = await this.em
      .createQueryBuilder(VmInterface, 'i')
      .innerJoin(VirtualMachine, 'vm', 'vm.id = i.vmId')
      .select('COUNT(i.id)', 'addresses')
      .where('i.ip IS NOT NULL')
      .andWhere(`vm.projectId IN (${projects.getQuery()})`, { principal })
      .getRawOne<Record<string, number | string>>();
    return { vms: Number(vm?.vms ?? 0), vcpus: Number(vm?.vcpus ?? 0), memoryMib: Number(vm?.memoryMib ?? 0), addresses: Number(ip?.addresses ?? 0) };
  }
}
