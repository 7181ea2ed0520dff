/**
 * The guest's serial console as a byte stream (decision record 027): the unix socket QEMU listens on
 * (`<serial type='unix'>` in bind mode, `<vm folder>/console.sock`). QEMU serves one client at a time and logs what
 * the guest writes to `console.log` whether a client is connected or not.
 */
import { connect, type Socket } from 'node:net';
import { lstat } from 'node:fs/promises';
import type { ConsoleEndpoint } from '@kvm-crm/shared/console';
import { ConflictError, NotFoundError } from '@kvm-crm/shared/errors';
import type { SerialConsolePort } from '../services/ports.js';
import type { VmStore } from './vm-store.js';

/** What the adapter asks libvirt: the state of a domain (undefined when there is none). */
export interface DomainStateReader {
  domState(name: string): Promise<string | undefined>;
}

/** Seconds to wait for QEMU to accept the connection. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Opens the serial socket of a running VM of this agent. */
export class SerialConsoleSockets implements SerialConsolePort {
  constructor(
    private readonly vms: Pick<VmStore, 'exists' | 'paths'>,
    private readonly domains: DomainStateReader,
    /** Prefix of our domain names (`<prefix><vm uuid>`). */
    private readonly domainPrefix: string,
  ) {}

  /**
   * Connects to VM `vmUuid`'s serial socket.
   * @throws InputError for a bad uuid; NotFoundError when the VM has no folder or no domain here; ConflictError
   *   when the domain is not running, was defined before interactive consoles (its serial device is a log file
   *   only), or QEMU does not accept the connection.
   */
  async connect(vmUuid: string): Promise<ConsoleEndpoint> {
    if (!(await this.vms.exists(vmUuid))) throw new NotFoundError(`no VM ${vmUuid} on this host`);
    const state = await this.domains.domState(`${this.domainPrefix}${vmUuid}`);
    if (state === undefined) throw new NotFoundError(`VM ${vmUuid} has no domain on this host`);
    if (state !== 'running' && state !== 'paused' && state !== 'blocked') {
      throw new ConflictError(`VM ${vmUuid} is ${state}: its serial console can be opened only while it runs`);
    }
    const socketPath = this.vms.paths(vmUuid).serialSocket;
    const info = await lstat(socketPath).catch(() => undefined);
    if (!info?.isSocket()) {
      throw new ConflictError(`VM ${vmUuid} has no console socket: its serial console is a log file only (domain defined before decision 027, or a storage root too long for a socket path); vtctl vm console-log reads it`);
    }
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(socketPath);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ConflictError(`VM ${vmUuid}: the serial console did not accept a connection within ${CONNECT_TIMEOUT_MS / 1000} s`));
      }, CONNECT_TIMEOUT_MS);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new ConflictError(`VM ${vmUuid}: the serial console is not listening (${err.code ?? err.message}); is the VM running?`));
      });
    });
    return socketEndpoint(socket);
  }
}

/** A connected socket as a {@link ConsoleEndpoint}; its end or error is a close with code 4003 (serial closed). */
export function socketEndpoint(socket: Socket): ConsoleEndpoint {
  let closed = false;
  return {
    send: (data) => {
      if (!socket.destroyed) socket.write(data);
    },
    close: () => {
      closed = true;
      socket.destroy();
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    buffered: () => socket.writableLength,
    onData: (listener) => socket.on('data', listener),
    onClose: (listener) => {
      socket.on('error', () => undefined); // 'close' follows
      socket.once('close', () => {
        if (!closed) listener(4003, 'the serial console closed: the VM stopped');
      });
    },
  };
}
