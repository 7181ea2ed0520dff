/**
 * The agent's held-open libvirt connections (decision 041): one `/usr/bin/python3 libexec/libvirt-session.py <uri>`
 * child with Debian's python3-libvirt (a pool of worker threads, each with its own connection), spoken to in JSON
 * lines (one request, one answer, matched by id). A `virsh`
 * run costs ~35 ms of loading and ~10 ms of connecting before it does anything (measured on the test machine:
 * `virsh --version` 35–37 ms, `virsh domstate` 44–63 ms, the same lookup on an open connection 0.2–0.4 ms); the
 * create + start path made four of them. Arguments are JSON values, never command text.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { UpstreamError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { startCommand, type StartedCommand } from './run-command.js';
import { assertLibvirtUri } from './virsh.js';

/** The helper program, shipped beside `dist/` (install.sh copies `libexec/`). */
export const LIBVIRT_SESSION_SCRIPT = fileURLToPath(new URL('../../libexec/libvirt-session.py', import.meta.url));

/** libvirt's virErrorNumber values the agent tells apart (libvirt's virterror.h). */
export const VIR_ERR = { NO_DOMAIN: 42, OPERATION_INVALID: 55 } as const;

/** Options of {@link LibvirtConnection}. */
export interface LibvirtConnectionOptions {
  /** libvirt connection URI; default `qemu:///system`. */
  uri?: string;
  /** The Python that has the `libvirt` module; default `/usr/bin/python3` (Debian's, where python3-libvirt installs). */
  python?: string;
  /** The helper script; default {@link LIBVIRT_SESSION_SCRIPT}. Tests pass another. */
  script?: string;
  /** Seconds to wait for the helper's first line (the connection open) before giving up; default 30. */
  openTimeoutSeconds?: number;
  logger: Logger;
}

/** A libvirt call failed: libvirt's error (its `code` and `domain`), a timeout, or the helper went away. */
export class LibvirtCallError extends UpstreamError {
  constructor(
    message: string,
    /** libvirt's virErrorNumber; 0 when the failure is not libvirt's (timeout, helper gone). */
    readonly code: number,
    /** libvirt's virErrorDomain; 0 when not libvirt's. */
    readonly domain: number,
    /** True when the agent stopped waiting after the call's timeout (libvirtd may still finish the call). */
    readonly timedOut: boolean,
    /** libvirt's own message (`Domain not found: …`), without the call in front; the message when not libvirt's. */
    readonly detail: string = message,
  ) {
    super(message);
  }
}

/** The call was not written: its helper had ended. Nothing reached libvirt. */
class NotSentError extends LibvirtCallError {}

interface Pending {
  /** The helper the request was written to: its exit fails only its own requests. */
  child: StartedCommand;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

interface Answer {
  id: number | null;
  ok: boolean;
  value?: unknown;
  code?: number;
  domain?: number;
  message?: string;
}

/**
 * libvirt connections held open by a helper process. {@link open} starts it ({@link call} starts a new one after
 * the helper died); {@link close} ends it. Calls run at once, up to the helper's 16 worker threads (each with its
 * own connection; more wait for a free one), and are answered in any order.
 */
export class LibvirtConnection {
  /** The libvirt connection URI. */
  readonly uri: string;
  private readonly python: string;
  private readonly script: string;
  private readonly openTimeoutMs: number;
  private readonly log: Logger;
  private child: StartedCommand | undefined;
  private opening: Promise<StartedCommand> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private libvirtVersion = 0;

  /** @param options see {@link LibvirtConnectionOptions}. @throws InputError for a malformed URI. */
  constructor(options: LibvirtConnectionOptions) {
    this.uri = options.uri ?? 'qemu:///system';
    assertLibvirtUri(this.uri);
    this.python = options.python ?? '/usr/bin/python3';
    this.script = options.script ?? LIBVIRT_SESSION_SCRIPT;
    this.openTimeoutMs = (options.openTimeoutSeconds ?? 30) * 1000;
    this.log = options.logger;
  }

  /** Process ID of the helper, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Starts the helper and waits until its connection is open.
   * @returns libvirt's version number (9000000 for 9.0.0).
   * @throws LibvirtCallError when the helper cannot start (no python3-libvirt: its message says what to
   *   install) or cannot connect to libvirtd.
   */
  async open(): Promise<number> {
    await this.ensureOpen();
    return this.libvirtVersion;
  }

  /**
   * Runs libvirt operation `op` (one of the helper's OPS) with `args`, waiting at most `timeoutSeconds`.
   * @throws LibvirtCallError with libvirt's code on its refusal; with `timedOut` after the timeout (the call
   *   itself is not cancelled: libvirt may still carry it out); when the helper died during the call.
   */
  async call(op: string, args: Record<string, string | boolean>, timeoutSeconds: number): Promise<unknown> {
    if (this.closed) throw new LibvirtCallError(`libvirt ${op}: the connection is closed (the agent stops)`, 0, 0, false);
    try {
      return await this.send(await this.ensureOpen(), op, args, timeoutSeconds);
    } catch (err) {
      // The helper died between ensureOpen() and the write: nothing reached libvirt, so the call is safe to send
      // once more, to the helper the next ensureOpen() starts.
      if (!(err instanceof NotSentError) || this.closed) throw err;
      return this.send(await this.ensureOpen(), op, args, timeoutSeconds);
    }
  }

  /**
   * Ends the helper: its standard input is closed, calls in flight are answered, then it exits (killed after
   * 10 s). A helper still being started is waited for and ended too. Later calls fail at once.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.opening?.catch(() => undefined);
    const child = this.child;
    if (!child) return;
    await this.end(child);
  }

  /** Closes the helper's standard input and waits until it exited (SIGKILL after 10 s). */
  private async end(child: StartedCommand): Promise<void> {
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await child.exited;
    clearTimeout(timer);
  }

  private send(child: StartedCommand, op: string, args: Record<string, string | boolean>, timeoutSeconds: number): Promise<unknown> {
    const id = this.nextId++;
    const what = `libvirt ${op}${typeof args['name'] === 'string' ? ` ${args['name']}` : ''}`;
    const stdin = child.stdin;
    if (this.child !== child || !stdin?.writable) {
      return Promise.reject(new NotSentError(`${what}: the helper ended before the call was sent`, 0, 0, false));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LibvirtCallError(`${what}: timed out after ${timeoutSeconds} s (libvirt may still carry it out)`, 0, 0, true));
      }, timeoutSeconds * 1000);
      this.pending.set(id, { child, resolve, reject, timer, what });
      // The timeout lets the helper refuse the call unrun if it is still queued when the agent gives up on it.
      stdin.write(`${JSON.stringify({ ...args, id, op, timeoutMs: Math.round(timeoutSeconds * 1000) })}\n`);
    });
  }

  private ensureOpen(): Promise<StartedCommand> {
    if (this.child) return Promise.resolve(this.child);
    this.opening ??= this.start().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async start(): Promise<StartedCommand> {
    const child = startCommand(this.python, [this.script, this.uri], { stdin: 'pipe' });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    child.stdin?.on('error', () => undefined); // a dead helper is seen through `exited`
    const ready = new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
      const timer = setTimeout(() => reject(new LibvirtCallError(`libvirt connection ${this.uri}: no answer within ${this.openTimeoutMs / 1000} s`, 0, 0, true)), this.openTimeoutMs);
      lines.on('line', (line) => {
        const answer = parseAnswer(line);
        if (answer?.id === 0) {
          clearTimeout(timer);
          if (answer.ok) {
            this.libvirtVersion = Number((answer.value as { libvirt?: unknown } | undefined)?.libvirt ?? 0);
            resolve();
          }
          else reject(new LibvirtCallError(`libvirt connection ${this.uri}: ${answer.message ?? 'failed'}`, answer.code ?? 0, answer.domain ?? 0, false));
        } else if (answer) this.settle(answer);
        else this.log.warn('libvirt connection: unreadable answer', { line: line.slice(0, 200) });
      });
      void child.exited.then((exit) => {
        clearTimeout(timer);
        const how = exit.signal ? `killed by ${exit.signal}` : exit.exitCode !== undefined ? `exit status ${exit.exitCode}` : exit.shortMessage;
        const why = `the helper ${this.script} ended (${how})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : ''}`;
        reject(new LibvirtCallError(`libvirt connection ${this.uri}: ${why}${/No module named .?libvirt/.test(stderr) ? ' (install python3-libvirt)' : ''}`, 0, 0, false));
        if (this.child === child) this.child = undefined;
        for (const [id, p] of this.pending) {
          if (p.child !== child) continue;
          clearTimeout(p.timer);
          this.pending.delete(id);
          p.reject(new LibvirtCallError(`${p.what}: ${why}`, 0, 0, false));
        }
        if (!this.closed) this.log.warn('libvirt connection ended; the next call opens a new one', { reason: why });
      });
    });
    try {
      await ready;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    if (this.closed) {
      await this.end(child);
      throw new LibvirtCallError(`libvirt connection ${this.uri}: closed while it was being opened (the agent stops)`, 0, 0, false);
    }
    this.child = child;
    this.log.info('libvirt connection open', { uri: this.uri, pid: child.pid });
    return child;
  }

  private settle(answer: Answer): void {
    const p = typeof answer.id === 'number' ? this.pending.get(answer.id) : undefined;
    if (!p) {
      if (answer.id === null) this.log.error('libvirt connection refused a request', { error: answer.message });
      return; // an answer after its call timed out
    }
    this.pending.delete(answer.id!);
    clearTimeout(p.timer);
    if (answer.ok) p.resolve(answer.value);
    else p.reject(new LibvirtCallError(`${p.what}: ${answer.message ?? 'failed'}`, answer.code ?? 0, answer.domain ?? 0, false, answer.message ?? 'failed'));
  }
}

/** One answer line, or undefined when it is not one. @throws nothing. */
function parseAnswer(line: string): Answer | undefined {
  try {
    const a = JSON.parse(line) as Answer;
    return a && typeof a === 'object' && typeof a.ok === 'boolean' ? a : undefined;
  } catch {
    return undefined;
  }
}
