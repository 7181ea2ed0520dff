/**
 * Host inventory (decision record 019): asks a server's agent for its host facts (`get_host_info`: CPUs, memory,
 * storage, hypervisor, versions, bridges) and stores them on the server row. Called when a server is registered
 * and after each successful monitoring ping. Never throws: a legacy OCF agent without the method keeps its facts
 * null (logged once per server), an agent that fails is logged and retried at the next round.
 */
import { describeError, type Logger } from '@kvm-crm/shared';
import type { Server } from '../db/entities/server.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { HostRepository } from '../repositories/host-repository.js';
import type { AgentGateway } from './ports.js';

/** Refreshes the host facts stored on server rows from their agents. */
export class HostFactsService {
  /** Servers already logged as offering no `get_host_info` (by id). */
  private readonly noFacts = new Set<number>();

  constructor(
    private readonly tx: TransactionRunner,
    private readonly agents: AgentGateway,
    private readonly logger: Logger,
  ) {}

  /** Asks `server`'s agent for its facts and stores them; returns whether facts were stored. Never throws. */
  async refresh(server: Server): Promise<boolean> {
    try {
      const facts = await this.agents.getHostInfo(server);
      if (!facts) {
        if (!this.noFacts.has(server.id)) this.logger.info('agent offers no get_host_info: host capacity unknown', { server: server.name });
        this.noFacts.add(server.id);
        return false;
      }
      this.noFacts.delete(server.id);
      await new HostRepository(this.tx.manager).storeFacts(server.id, facts, new Date());
      return true;
    } catch (err) {
      this.logger.warn('host facts not refreshed', { server: server.name, error: describeError(err) });
      return false;
    }
  }
}
