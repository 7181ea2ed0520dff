/**
 * Adapter for libvirt lifecycle events (docs/ocf-protocol.md §6.8, §7.3; docs/architecture.md "Facts: Events"): one long-lived
 * `virsh -c <uri> event --loop --event lifecycle --timestamp` child (run-command.ts, argv array, no shell) whose output
 * lines are parsed into {@link LifecycleEvent}s. The child is restarted with backoff whenever it exits (virsh ends
 * its event loop when libvirtd goes away), and killed by its PID on {@link LibvirtEventStream.stop}.
 *
 * `--event lifecycle` is used instead of `--all`: virsh refuses both together, and lifecycle events are the only
 * ones OCF carries; every other event type has its own line format we would have to skip.
 *
 * Line format printed by virsh 9.0.0 (libvirt 9.0.0, Debian 12), one event per line, flushed at once:
 *
 * ```
 * 2026-11-22 04:01:49.464+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Defined Added
 * 2026-11-22 04:01:53.608+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Shutdown Finished after host request
 * ```
 *
 * Events that happen while the child is down (between a death and the restart) are lost; the manager's periodic
 * `listActiveVMs` (every 45 s, §4.3) corrects the state it derived from them.
 */
import { createInterface } from 'node:readline';
import { InputError, describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { startCommand, type StartedCommand } from './run-command.js';

/** One libvirt domain lifecycle event as virsh prints it. */
export interface LifecycleEvent {
  /** libvirt domain name (as printed between the quotes). */
  domain: string;
  /** Event type: `Defined`, `Undefined`, `Started`, `Suspended`, `Resumed`, `Stopped`, `Shutdown`, `PMSuspended`, `Crashed` (or `unknown`). */
  event: string;
  /** Event detail, possibly several words (`Booted`, `Finished after host request`); `''` when virsh printed none. */
  detail: string;
  /** virsh's `--timestamp` prefix (`2026-11-22 04:01:49.464+0000`, UTC offset included), when present. */
  timestamp?: string;
}

const LINE = /^(?:(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}): )?event 'lifecycle' for domain '(.+)': (\S+)(?: (.*?))?\s*$/;

/**
 * Parses one line of `virsh event --event lifecycle [--timestamp]` output.
 * @returns the event, or undefined for any other line (other event types, `events received: N`, blank lines).
 * @throws nothing.
 */
export function parseLifecycleEventLine(line: string): LifecycleEvent | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const event: LifecycleEvent = { domain: m[2]!, event: m[3]!, detail: m[4] ?? '' };
  if (m[1] !== undefined) event.timestamp = m[1];
  return event;
}

/** Options of {@link LibvirtEventStream}. */
export interface LibvirtEventStreamOptions {
  /** libvirt connection URI; default `qemu:///system`. */
  uri?: string;
  /** Program to run; default `virsh` (looked up in PATH). Tests pass a script. */
  binary?: string;
  logger: Logger;
  /** Delay before the first restart after the child exits, in seconds; doubled on each consecutive failure. Default 1. */
  restartDelaySeconds?: number;
  /** Longest restart delay, in seconds. Default 30. */
  maxRestartDelaySeconds?: number;
  /** A child that ran at least this many seconds resets the restart delay to its initial value. Default 60. */
  healthySeconds?: number;
}

/**
 * Keeps one `virsh event --loop` child running and calls `onEvent` for each lifecycle event, in the order virsh
 * prints them. `onEvent` runs synchronously on the output stream: it must only queue work, never block.
 */
export class LibvirtEventStream {
  /** The libvirt connection URI. */
  readonly uri: string;
  private readonly binary: string;
  private readonly log: Logger;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly healthyMs: number;
  private child: StartedCommand | undefined;
  private childDone: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private running = false;
  private spawned = 0;

  /**
   * @param options see {@link LibvirtEventStreamOptions}.
   * @param onEvent called once per parsed event; an exception it throws is logged and the stream goes on.
   * @throws InputError for a malformed URI.
   */
  constructor(
    options: LibvirtEventStreamOptions,
    private readonly onEvent: (event: LifecycleEvent) => void,
  ) {
    this.uri = options.uri ?? 'qemu:///system';
    if (!/^[a-z][a-z0-9+]*:\/\/[^\s]*$/.test(this.uri)) throw new InputError(`invalid libvirt URI: ${JSON.stringify(this.uri)}`);
    this.binary = options.binary ?? 'virsh';
    this.log = options.logger;
    this.initialDelayMs = (options.restartDelaySeconds ?? 1) * 1000;
    this.maxDelayMs = (options.maxRestartDelaySeconds ?? 30) * 1000;
    this.healthyMs = (options.healthySeconds ?? 60) * 1000;
    this.delayMs = this.initialDelayMs;
  }

  /** The argv passed to the binary: `-c <uri> event --loop --event lifecycle --timestamp`. */
  get args(): string[] {
    return ['-c', this.uri, 'event', '--loop', '--event', 'lifecycle', '--timestamp'];
  }

  /** PID of the current child, undefined while none runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many children were started so far (1 + restarts). */
  get spawnCount(): number {
    return this.spawned;
  }

  /** Starts the child (no-op when already started). Returns at once; failures to start are retried with backoff. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.delayMs = this.initialDelayMs;
    this.spawn();
  }

  /**
   * Stops restarting and kills the child by its PID (SIGTERM, SIGKILL 2 s later); resolves once it has exited.
   * @throws nothing.
   */
  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    const done = this.childDone;
    if (child?.pid !== undefined) child.kill('SIGTERM');
    await done;
  }

  private spawn(): void {
    this.restartTimer = undefined;
    if (!this.running) return;
    const started = Date.now();
    // No timeout: the stream runs until stop() kills it or virsh exits (then it is restarted).
    const child = startCommand(this.binary, this.args);
    this.child = child;
    this.spawned++;
    let stderrTail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-2000);
    });
    const lines = child.stdout ? createInterface({ input: child.stdout, crlfDelay: Infinity }) : undefined;
    lines?.on('line', (line) => this.dispatch(line));
    const linesClosed = lines ? new Promise<void>((resolve) => lines.once('close', resolve)) : Promise.resolve();
    if (child.pid !== undefined) this.log.info('libvirt event stream started', { pid: child.pid, uri: this.uri });

    this.childDone = (async () => {
      const result = await child.exited;
      // Let readline hand out the last lines before the child is declared gone.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([linesClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
      if (this.child === child) this.child = undefined;
      if (!this.running) {
        this.log.info('libvirt event stream stopped', { pid: child.pid });
        return;
      }
      const ranMs = Date.now() - started;
      if (ranMs >= this.healthyMs) this.delayMs = this.initialDelayMs;
      const why = result.exitCode !== undefined ? `exited with status ${result.exitCode}` : result.signal ? `killed by ${result.signal}` : `could not be started (${describeError(result.cause ?? result.shortMessage)})`;
      this.log.warn('libvirt event stream ended; restarting', {
        pid: child.pid, why, stderr: stderrTail.trim().slice(-500), ranMs, restartInMs: this.delayMs,
      });
      this.restartTimer = setTimeout(() => this.spawn(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
    })();
  }

  private dispatch(line: string): void {
    const event = parseLifecycleEventLine(line);
    if (!event) {
      if (line.trim()) this.log.debug('libvirt event stream: line ignored', { line: line.slice(0, 200) });
      return;
    }
    try {
      this.onEvent(event);
    } catch (err) {
      this.log.error('libvirt event handler failed', { domain: event.domain, event: event.event, error: describeError(err) });
    }
  }
}
