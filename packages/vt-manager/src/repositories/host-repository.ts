/**
 * The host side of the `server` table (decision record 019): the facts an agent reported (`get_host_info`), the
 * `enabled` and `draining` flags placement obeys, and the row lock that serialises placement on a host.
 */
import { In, type EntityManager } from 'typeorm';
import { Server } from '../db/entities/server.js';
import type { HostFacts } from '../services/ports.js';

/** Host facts and placement flags of servers in the transaction (or plain manager) `em`. */
export class HostRepository {
  constructor(private readonly em: EntityManager) {}

  /** Stores the facts an agent reported at `at`. */
  async storeFacts(serverId: number, facts: HostFacts, at: Date): Promise<void> {
    await this.em.update(Server, { id: serverId }, {
      cpuModel: facts.cpuModel.slice(0, 128), cpus: facts.cpus, cpuSockets: facts.cpuSockets, cpuCoresPerSocket: facts.cpuCoresPerSocket,
      cpuThreadsPerCore: facts.cpuThreadsPerCore, cpuFrequencyMHz: facts.cpuFrequencyMHz, memoryTotalMiB: facts.memoryTotalMiB,
      memoryFreeMiB: facts.memoryFreeMiB, storageTotalGiB: facts.storageTotalGiB, storageFreeGiB: facts.storageFreeGiB,
      hypervisor: facts.hypervisor.slice(0, 8), libvirtVersion: facts.libvirtVersion.slice(0, 32), qemuVersion: facts.qemuVersion.slice(0, 32),
      bridgesPresent: [...facts.bridges].sort().join(',').slice(0, 1024), inventoryRefreshedAt: at,
    });
  }

  /** Sets whether new VMs may be placed on the server. */
  async setEnabled(serverId: number, enabled: boolean): Promise<void> {
    await this.em.update(Server, { id: serverId }, { enabled });
  }

  /** Sets whether the server is being drained (no new VMs). */
  async setDraining(serverId: number, draining: boolean): Promise<void> {
    await this.em.update(Server, { id: serverId }, { draining });
  }

  /**
   * The server rows with these ids, in id order, locked until the transaction ends on MySQL/MariaDB (`SELECT … FOR
   * UPDATE`, always in id order so two placements cannot deadlock); plainly read on SQLite, whose transactions are
   * serialised already (db/transaction-runner.ts). Like the range lock in range-repository.ts.
   */
  lockForPlacement(ids: number[]): Promise<Server[]> {
    if (ids.length === 0) return Promise.resolve([]);
    const engine = this.em.connection.options.type;
    const lock = engine === 'mysql' || engine === 'mariadb' ? { lock: { mode: 'pessimistic_write' as const } } : {};
    return this.em.find(Server, { where: { id: In(ids) }, order: { id: 'ASC' }, ...lock });
  }
}
