/**
 * The agent's interactive serial console sessions (decision record 027): at most one per VM (a `force` open takes
 * the console over and ends the old session with code 4001), at most `maxSessions` on the host, each relayed
 * between the manager's WebSocket and the guest's serial socket under the idle timeout and the byte rate.
 */
import {
  CONSOLE_CLOSE,
  relayConsole,
  type ConsoleEndpoint,
  type ConsoleLimits,
  type RelayHandle,
  type RelayOutcome,
} from '@kvm-crm/shared/console';
import { ConflictError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import type { SerialConsolePort } from './ports.js';

/** Options of {@link ConsoleSessions}. */
export interface ConsoleSessionOptions extends ConsoleLimits {
  /** Most sessions at once on this host. */
  maxSessions: number;
  logger: Logger;
}

/** A console whose serial side is connected, waiting for its client (the WebSocket upgrade). */
export interface ReservedConsole {
  /** Starts relaying between `client` and the serial console; resolves when the session ended. */
  attach(client: ConsoleEndpoint): Promise<RelayOutcome>;
  /** Gives the reservation up (the upgrade failed): the serial side is closed. */
  release(): void;
}

interface Slot {
  /** Set once the client is attached. */
  relay?: RelayHandle;
  /** Resolves when the slot is free again. */
  gone: Promise<void>;
  free: () => void;
}

/** The console sessions of this host. */
export class ConsoleSessions {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly serial: SerialConsolePort,
    private readonly options: ConsoleSessionOptions,
  ) {}

  /** Number of sessions (reserved or relaying) now. */
  get count(): number {
    return this.slots.size;
  }

  /**
   * Reserves VM `vmUuid`'s console and connects to its serial socket. With `force`, a session already open on the
   * VM is ended first (its client gets code 4001 "taken over"); without it, such a session is a refusal.
   * @throws ConflictError when the VM's console is in use (without `force`) or `maxSessions` are open; what
   *   {@link SerialConsolePort.connect} throws (NotFoundError, ConflictError, InputError).
   */
  async reserve(vmUuid: string, force: boolean, who: string): Promise<ReservedConsole> {
    const existing = this.slots.get(vmUuid);
    if (existing) {
      if (!force) throw new ConflictError(`the console of VM ${vmUuid} is in use by another session; --force takes it over`);
      existing.relay?.close(CONSOLE_CLOSE.takenOver, 'console taken over by another session (--force)');
      if (!existing.relay) existing.free(); // reserved but not attached yet: its upgrade is cut short below
      await existing.gone;
      if (this.slots.has(vmUuid)) throw new ConflictError(`the console of VM ${vmUuid} was taken by another session meanwhile`);
    }
    if (this.slots.size >= this.options.maxSessions) throw new ConflictError(`too many console sessions on this host (${this.options.maxSessions}); try again later`);
    let free!: () => void;
    const gone = new Promise<void>((r) => (free = r));
    const slot: Slot = { gone, free: () => undefined };
    slot.free = () => {
      if (this.slots.get(vmUuid) === slot) this.slots.delete(vmUuid);
      free();
    };
    this.slots.set(vmUuid, slot);
    let guest: ConsoleEndpoint;
    try {
      guest = await this.serial.connect(vmUuid);
    } catch (err) {
      slot.free();
      throw err;
    }
    const log = this.options.logger;
    return {
      attach: async (client) => {
        if (this.slots.get(vmUuid) !== slot) {
          // Taken over between the reservation and the upgrade.
          guest.close(CONSOLE_CLOSE.takenOver, 'taken over');
          client.close(CONSOLE_CLOSE.takenOver, 'console taken over by another session (--force)');
          return { code: CONSOLE_CLOSE.takenOver, reason: 'taken over', endedBy: 'relay', bytesIn: 0, bytesOut: 0, seconds: 0 };
        }
        slot.relay = relayConsole(client, guest, this.options);
        log.info('console session opened', { vmUuid, by: who, force });
        const outcome = await slot.relay.done;
        slot.free();
        log.info('console session closed', { vmUuid, by: who, ...outcome });
        return outcome;
      },
      release: () => {
        guest.close(CONSOLE_CLOSE.detached, 'released');
        slot.free();
      },
    };
  }

  /** Ends every session (agent shutdown): clients get code 1001. Resolves when all are closed. */
  async closeAll(): Promise<void> {
    const slots = [...this.slots.values()];
    for (const s of slots) {
      if (s.relay) s.relay.close(CONSOLE_CLOSE.shutdown, 'the agent is shutting down');
      else s.free();
    }
    await Promise.all(slots.map((s) => s.gone));
  }
}
