/**
 * The `server_bridge` table on its own (adding and removing a host's bridges), and which VM NICs use a bridge.
 */
import type { EntityManager } from 'typeorm';
import { ServerBridge } from '../db/entities/server-bridge.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';
import { VmInterface } from '../db/entities/vm-interface.js';

/** Bridges in the transaction (or plain manager) `em`. */
export class ServerBridgeRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Adds bridge `name` (not the management one) to the server.
   * @throws the driver's unique-violation error when the server has it already.
   */
  async add(serverId: number, name: string): Promise<void> {
    await this.em.insert(ServerBridge, { serverId, name, isMgmt: false, switchPort: null });
  }

  /** Removes the server's bridge `name`. */
  async remove(serverId: number, name: string): Promise<void> {
    await this.em.delete(ServerBridge, { serverId, name });
  }

  /** The names of the server's VMs that have a NIC on bridge `name`. */
  async vmsUsing(serverId: number, name: string): Promise<string[]> {
    const rows = await this.em
      .createQueryBuilder(VmInterface, 'i')
      .innerJoin(VirtualMachine, 'v', 'v.id = i.vmId')
      .select('v.name', 'name')
      .where('v.serverId = :serverId AND i.bridge = :name', { serverId, name })
      .orderBy('v.name', 'ASC')
      .getRawMany<{ name: string }>();
    return [...new Set(rows.map((r) => r.name))];
  }
}
