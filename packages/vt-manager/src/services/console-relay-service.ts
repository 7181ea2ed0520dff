/**
 * The manager's side of `vtctl vm console` (decision record 027): resolves the VM to its server, opens the console
 * on that server's agent (which keeps it to one session per VM), and relays bytes between the admin's WebSocket and
 * the agent's under the session limits. At most `maxSessions` sessions on this manager. Every open, refusal and
 * close is logged with who, which VM and why (the console audit trail, docs/security.md).
 */
import { ConflictError, CONSOLE_CLOSE, relayConsole, type ConsoleEndpoint, type ConsoleLimits, type Logger, type RelayHandle, type RelayOutcome } from '@kvm-crm/shared';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { VirtualMachine } from '../db/entities/virtual-machine.js';
import { ServerRepository } from '../repositories/server-repository.js';
import type { AgentConsoles } from './ports.js';

/** Options of {@link ConsoleRelayService}. */
export interface ConsoleRelayOptions extends ConsoleLimits {
  /** Most sessions at once on this manager. */
  maxSessions: number;
  logger: Logger;
}

/** A console opened on the agent, waiting for the admin's WebSocket. */
export interface OpenedConsole {
  vm: { uuid: string; name: string; server: string };
  /** Relays between `client` and the agent until either ends; resolves with how it ended. */
  attach(client: ConsoleEndpoint): Promise<RelayOutcome>;
  /** Gives the console up (the admin's upgrade failed): the agent's side is closed. */
  release(): void;
}

/** Relays admins' consoles to the agents. */
export class ConsoleRelayService {
  private readonly relays = new Set<RelayHandle>();
  private pending = 0;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly vms: { resolve(ref: string): Promise<VirtualMachine> },
    private readonly agents: AgentConsoles,
    private readonly options: ConsoleRelayOptions,
  ) {}

  /** Sessions relaying or being opened now. */
  get count(): number {
    return this.relays.size + this.pending;
  }

  /**
   * Opens the console of the VM named or numbered `ref` for `principal` (an admin); `force` takes over a session
   * already open on it.
   * @throws NotFoundError / ConflictError from the VM lookup; ConflictError when `maxSessions` are open or the
   *   agent refuses (in use, not running); UpstreamError when the agent cannot be reached or refuses otherwise.
   */
  async open(ref: string, force: boolean, principal: string): Promise<OpenedConsole> {
    const log = this.options.logger;
    if (this.count >= this.options.maxSessions) throw new ConflictError(`too many console sessions on this manager (${this.options.maxSessions}); try again later`);
    this.pending++;
    let agentSide: ConsoleEndpoint;
    let vm: OpenedConsole['vm'];
    try {
      const row = await this.vms.resolve(ref);
      const server = await new ServerRepository(this.tx.manager).getById(row.serverId);
      vm = { uuid: row.uuid, name: row.name, server: server.name };
      agentSide = await this.agents.open(server, row.uuid, force);
    } catch (err) {
      this.pending--;
      log.warn('console refused', { vm: ref, by: principal, force, reason: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    let settled = false;
    const settle = () => {
      if (!settled) this.pending--;
      settled = true;
    };
    return {
      vm,
      attach: async (client) => {
        settle();
        const relay = relayConsole(client, agentSide, this.options);
        this.relays.add(relay);
        log.info('console session opened', { vm: vm.uuid, name: vm.name, server: vm.server, by: principal, force });
        const outcome = await relay.done;
        this.relays.delete(relay);
        log.info('console session closed', { vm: vm.uuid, name: vm.name, server: vm.server, by: principal, ...outcome });
        return outcome;
      },
      release: () => {
        settle();
        agentSide.close(CONSOLE_CLOSE.detached, 'the admin connection failed before the console opened');
      },
    };
  }

  /** Ends every session (manager shutdown): both sides get code 1001. */
  async closeAll(): Promise<void> {
    const all = [...this.relays];
    for (const r of all) r.close(CONSOLE_CLOSE.shutdown, 'the manager is shutting down');
    await Promise.all(all.map((r) => r.done));
  }
}
