/**
 * The `server` and `server_bridge` tables: registered KVM hosts and their bridges.
 */
import type { EntityManager } from 'typeorm';
import { Server } from '../db/entities/server.js';
import { RangeSubscription } from '../db/entities/range-subscription.js';
import { ServerBridge } from '../db/entities/server-bridge.js';

/** A new server with its bridges, as {@link ServerRepository.createWithBridges} stores it. */
export type NewServer = Pick<Server, 'uuid' | 'name' | 'agentUrl' | 'agentPassword' | 'legacy' | 'operatingSystemType' | 'operatingSystemDistribution' | 'operatingSystemVersion'> & {
  bridges: Array<Pick<ServerBridge, 'name' | 'isMgmt' | 'switchPort'>>;
};

/** Servers in the transaction (or plain manager) `em`. */
export class ServerRepository {
  constructor(private readonly em: EntityManager) {}

  /** @throws EntityNotFoundError (typeorm) when there is no server with this id. */
  getById(id: number): Promise<Server> {
    return this.em.findOneByOrFail(Server, { id });
  }

  /** The server with this uuid (lower case), with its bridges when `withBridges`, or null. */
  findByUuid(uuid: string, withBridges = false): Promise<Server | null> {
    return withBridges ? this.em.findOne(Server, { where: { uuid }, relations: { bridges: true } }) : this.em.findOneBy(Server, { uuid });
  }

  /** The server with this name, or null. */
  findByName(name: string): Promise<Server | null> {
    return this.em.findOneBy(Server, { name });
  }

  /** The server with this name or uuid, with its bridges (in stored order), or null. */
  findByNameOrUuid(nameOrUuid: string): Promise<Server | null> {
    return this.em.findOne(Server, { where: [{ name: nameOrUuid }, { uuid: nameOrUuid }], relations: { bridges: true } });
  }

  /** Changes a server's agent URL and/or password (undefined: unchanged). */
  async updateAgent(id: number, change: { agentUrl?: string; agentPassword?: string }): Promise<void> {
    // save (not update): the password column's transformer seals the value.
    const s = await this.em.findOneByOrFail(Server, { id });
    if (change.agentUrl !== undefined) s.agentUrl = change.agentUrl;
    if (change.agentPassword !== undefined) s.agentPassword = change.agentPassword;
    await this.em.save(s);
  }

  /** Deletes a server with its bridges and range subscriptions (the caller checked that no VM remains). */
  async deleteWithBridges(id: number): Promise<void> {
    await this.em.delete(RangeSubscription, { serverId: id });
    await this.em.delete(ServerBridge, { serverId: id });
    await this.em.delete(Server, { id });
  }

  /** Every server, without bridges, in no particular order. */
  list(): Promise<Server[]> {
    return this.em.find(Server);
  }

  /** Every server with its bridges, ordered by `name` or by `id`. */
  listWithBridges(order: 'name' | 'id'): Promise<Server[]> {
    return this.em.find(Server, { relations: { bridges: true }, order: order === 'name' ? { name: 'ASC' } : { id: 'ASC' } });
  }

  /** Records whether the server's agent answered the last monitoring ping. */
  async setAvailable(id: number, available: boolean): Promise<void> {
    await this.em.update(Server, { id }, { available });
  }

  /**
   * Stores a server and its bridges; returns it as saved.
   * @throws the driver's unique-violation error when the name or uuid is taken (see db/driver-errors.ts).
   */
  createWithBridges(server: NewServer): Promise<Server> {
    return this.em.save(this.em.create(Server, server));
  }
}
