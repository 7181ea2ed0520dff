/**
 * The interactive serial console relay (decision record 027): the wire rules both hops share (vtctl ↔ manager,
 * manager ↔ agent) and {@link relayConsole}, which copies bytes between two endpoints under the session limits
 * (idle timeout, bytes per second) and ends both with one close code and reason. Transport-free: the daemons adapt
 * their WebSockets and the guest's serial socket to {@link ConsoleEndpoint}.
 */

/** Path of the manager's console endpoint (WebSocket; query `vm=<name|uuid>`, `force=1`). */
export const MANAGER_CONSOLE_PATH = '/console';
/** Path prefix of the agent's console endpoint (WebSocket): `/console/<vm uuid>`, query `force=1`. */
export const AGENT_CONSOLE_PATH = '/console/';
/** Header in which the manager gives the OCF agent password to the agent's console endpoint. */
export const AGENT_PASSWORD_HEADER = 'x-kvmcrm-agent-password';

/**
 * WebSocket close codes of a console session (RFC 6455 §7.4: 4000–4999 are for applications). The close reason is
 * a sentence for the operator (at most 123 bytes on the wire).
 */
export const CONSOLE_CLOSE = {
  /** The operator detached (Ctrl-]) or closed the session. */
  detached: 1000,
  /** A daemon is shutting down. */
  shutdown: 1001,
  /** Another session took the console over (`--force`). */
  takenOver: 4001,
  /** No byte in either direction for the idle timeout. */
  idle: 4002,
  /** The guest's serial socket closed: the VM stopped. */
  serialClosed: 4003,
  /** The connection to the agent (manager side) or to the serial socket was lost. */
  lost: 4004,
} as const;

/** One side of a relay, adapted from a WebSocket or a socket. Binary data only. */
export interface ConsoleEndpoint {
  /** Sends bytes to this side. */
  send(data: Buffer): void;
  /** Ends this side with `code` ({@link CONSOLE_CLOSE}) and `reason`. Called at most once by the relay. */
  close(code: number, reason: string): void;
  /** Stops delivering data (flow control); data that is already on its way may still arrive. */
  pause(): void;
  /** Delivers data again. */
  resume(): void;
  /** Bytes queued to this side and not yet written out (slow reader); 0 when unknown. */
  buffered(): number;
  /** Registers the data listener (once). */
  onData(listener: (data: Buffer) => void): void;
  /** Registers the close listener (once): the code and reason this side closed with. */
  onClose(listener: (code: number, reason: string) => void): void;
}

/** Limits of one console session. */
export interface ConsoleLimits {
  /** Seconds without a byte in either direction after which the session ends ({@link CONSOLE_CLOSE.idle}). */
  idleTimeoutSeconds: number;
  /** Most bytes a second in each direction (a 1 s burst); more pauses the sender, nothing is dropped. */
  bytesPerSecond: number;
}

/** Bytes queued to a slow reader after which the other side is paused until the queue drains: 1 MiB. */
export const CONSOLE_MAX_BUFFERED_BYTES = 1024 * 1024;

/** How a relay ended. `bytesIn`: client → guest; `bytesOut`: guest → client. */
export interface RelayOutcome {
  code: number;
  reason: string;
  /** Which side ended it: `client`, `guest`, or `relay` (idle timeout, {@link RelayHandle.close}). */
  endedBy: 'client' | 'guest' | 'relay';
  bytesIn: number;
  bytesOut: number;
  seconds: number;
}

/** A running relay. */
export interface RelayHandle {
  /** Resolves once, when both sides have been told to close. Never rejects. */
  done: Promise<RelayOutcome>;
  /** Ends the session from outside (takeover, shutdown): both sides get `code` and `reason`. */
  close(code: number, reason: string): void;
}

/** Clips a close reason to the 123 bytes a WebSocket close frame carries (UTF-8, not splitting a character). */
export function clipCloseReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

/**
 * A close code that may be sent on: a code a peer received but cannot send (1005 no status, 1006 abnormal, other
 * reserved codes) becomes {@link CONSOLE_CLOSE.lost}.
 */
export function sendableCloseCode(code: number): number {
  return code === 1000 || code === 1001 || (code >= 4000 && code <= 4999) ? code : CONSOLE_CLOSE.lost;
}

/**
 * Copies bytes client → guest and guest → client until one side closes, the idle timeout passes, or
 * {@link RelayHandle.close} is called; then closes the other side (or both) with the same code and reason.
 * Each direction is held to `limits.bytesPerSecond` by pausing its sender, and a sender is paused while its reader
 * has more than {@link CONSOLE_MAX_BUFFERED_BYTES} queued.
 */
export function relayConsole(client: ConsoleEndpoint, guest: ConsoleEndpoint, limits: ConsoleLimits, now: () => number = Date.now): RelayHandle {
  const started = now();
  let bytesIn = 0;
  let bytesOut = 0;
  let finished = false;
  let resolveDone!: (o: RelayOutcome) => void;
  const done = new Promise<RelayOutcome>((r) => (resolveDone = r));
  const timers = new Set<NodeJS.Timeout>();
  let idleTimer: NodeJS.Timeout | undefined;

  const finish = (code: number, reason: string, endedBy: RelayOutcome['endedBy'], tell: Array<ConsoleEndpoint>) => {
    if (finished) return;
    finished = true;
    if (idleTimer) clearTimeout(idleTimer);
    for (const t of timers) clearTimeout(t);
    const r = clipCloseReason(reason);
    for (const side of tell) {
      try {
        side.close(sendableCloseCode(code), r);
      } catch {
        // the side is already gone: nothing left to tell it
      }
    }
    resolveDone({ code, reason: r, endedBy, bytesIn, bytesOut, seconds: (now() - started) / 1000 });
  };
  const touch = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(
      () => finish(CONSOLE_CLOSE.idle, `console idle for ${limits.idleTimeoutSeconds} s: session closed`, 'relay', [client, guest]),
      limits.idleTimeoutSeconds * 1000,
    );
  };

  /** Forwards `from` → `to` under a token bucket of bytesPerSecond (capacity one second). */
  const pump = (from: ConsoleEndpoint, to: ConsoleEndpoint, count: (n: number) => void) => {
    let tokens = limits.bytesPerSecond;
    let last = now();
    let paused = false;
    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    };
    const waitForDrain = () => {
      if (finished) return;
      if (to.buffered() > CONSOLE_MAX_BUFFERED_BYTES) return later(50, waitForDrain);
      paused = false;
      from.resume();
    };
    from.onData((data) => {
      if (finished) return;
      to.send(data);
      count(data.length);
      touch();
      const t = now();
      tokens = Math.min(limits.bytesPerSecond, tokens + ((t - last) / 1000) * limits.bytesPerSecond) - data.length;
      last = t;
      if (paused) return;
      if (tokens < 0) {
        paused = true;
        from.pause();
        later(Math.ceil((-tokens / limits.bytesPerSecond) * 1000), waitForDrain);
      } else if (to.buffered() > CONSOLE_MAX_BUFFERED_BYTES) {
        paused = true;
        from.pause();
        later(50, waitForDrain);
      }
    });
  };
  pump(client, guest, (n) => (bytesIn += n));
  pump(guest, client, (n) => (bytesOut += n));
  client.onClose((code, reason) => finish(code, reason || 'detached', 'client', [guest]));
  guest.onClose((code, reason) => finish(code, reason || 'the serial console closed', 'guest', [client]));
  touch();
  return { done, close: (code, reason) => finish(code, reason, 'relay', [client, guest]) };
}
