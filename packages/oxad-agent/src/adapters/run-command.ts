/**
 * The one place where the agent starts external programs: always `execa(file, argv[])`, never a shell, no stdin
 * (except the libvirt connection's requests, {@link StartCommandOptions.stdin}),
 * and the C locale so that error messages can be matched. {@link runCommand} runs a program to completion with a
 * timeout; {@link startCommand} starts one whose output is read while it runs (the hypervisor probe's qemu, the
 * `virsh event` stream) and that its caller stops.
 */
import type { Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import { UpstreamError } from '@kvm-crm/shared/errors';

/** What {@link runCommand} returns when the program exits with status 0. */
export interface CommandOutput {
  /** Standard output, trailing newline removed. */
  stdout: string;
  /** Standard error, trailing newline removed (warnings of a successful run). */
  stderr: string;
  /** Wall time of the run in milliseconds. */
  durationMs: number;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Kill the program (SIGTERM, SIGKILL 2 s later) after this many seconds. Required: nothing runs unbounded. */
  timeoutSeconds: number;
  /** Remove one trailing newline from stdout/stderr (default true); false for output read back byte for byte. */
  stripFinalNewline?: boolean;
  /** Told how long the program ran (seconds) and whether it failed, once it ended (metrics, decision record 028). */
  observe?: (seconds: number, failed: boolean) => void;
}

/** Told of each finished program: `program` (`virsh`, `qemu-img`), its sub-command, seconds, failed or not. */
export type CommandObserver = (program: string, command: string, seconds: number, failed: boolean) => void;

/**
 * An external program failed: non-zero exit status, killed by a signal, timed out or could not be started.
 * The message holds the program name, the arguments and the (trimmed) standard error; `stderr` holds it whole.
 */
export class CommandFailedError extends UpstreamError {
  constructor(
    message: string,
    /** The program that was run (as given, e.g. `virsh`). */
    readonly file: string,
    /** Its arguments. */
    readonly args: readonly string[],
    /** Its exit status, undefined when it was killed or never started. */
    readonly exitCode: number | undefined,
    /** Its standard error output. */
    readonly stderr: string,
    /** True when it was killed because it ran longer than the timeout. */
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Builds the error for a failed run; subclasses of adapters pass their own constructor. */
export type CommandErrorFactory = (
  message: string,
  file: string,
  args: readonly string[],
  exitCode: number | undefined,
  stderr: string,
  timedOut: boolean,
  cause: unknown,
) => CommandFailedError;

const defaultFactory: CommandErrorFactory = (m, f, a, c, s, t, cause) => new CommandFailedError(m, f, a, c, s, t, { cause });

/** Squeezes standard error into one line of at most 1000 characters for an error message. */
export function oneLine(s: string, max = 1000): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * Runs `file` with `args` (an argv array, no shell) and resolves with its output when it exits with status 0.
 *
 * @throws CommandFailedError (or what `makeError` builds) when it exits non-zero, is killed, times out or
 *   cannot be started (e.g. ENOENT); the message contains the program's standard error.
 */
export async function runCommand(
  file: string,
  args: readonly string[],
  options: RunCommandOptions,
  makeError: CommandErrorFactory = defaultFactory,
): Promise<CommandOutput> {
  const started = performance.now();
  const result = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    timeout: Math.round(options.timeoutSeconds * 1000),
    forceKillAfterDelay: 2000,
    env: { LC_ALL: 'C', LANG: 'C' },
    stripFinalNewline: options.stripFinalNewline ?? true,
  });
  const durationMs = performance.now() - started;
  options.observe?.(durationMs / 1000, Boolean(result.failed));
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  if (!result.failed) return { stdout, stderr, durationMs };

  const shown = `${file} ${args.join(' ')}`;
  let why: string;
  if (result.timedOut) why = `timed out after ${options.timeoutSeconds} s`;
  else if (result.exitCode !== undefined) why = `exited with status ${result.exitCode}`;
  else if (result.signal) why = `killed by ${result.signal}`;
  else why = `could not be started (${oneLine(result.originalMessage ?? result.shortMessage ?? 'unknown error')})`;
  const detail = oneLine(stderr);
  const message = `${shown}: ${why}${detail ? `: ${detail}` : ''}`;
  return Promise.reject(
    makeError(message, file, args, result.exitCode, stderr, Boolean(result.timedOut), result.cause ?? undefined),
  );
}

/** Options of {@link startCommand}. */
export interface StartCommandOptions {
  /**
   * Kill the program (SIGTERM, SIGKILL 2 s later) after this many seconds. Omitted only for programs meant to run
   * until their caller stops them (the `virsh event --loop` stream); they must be stopped with {@link StartedCommand.kill}.
   */
  timeoutSeconds?: number;
  /** `ignore` discards standard output; default `pipe` ({@link StartedCommand.stdout}). */
  stdout?: 'pipe' | 'ignore';
  /** `pipe` gives the program a standard input to write to ({@link StartedCommand.stdin}); default `ignore`. */
  stdin?: 'pipe' | 'ignore';
  /** Environment on top of `LC_ALL=C LANG=C`; default nothing more. */
  env?: Record<string, string>;
}

/** How a program started by {@link startCommand} ended. */
export interface CommandExit {
  /** Exit status; undefined when it was killed or never started. */
  exitCode: number | undefined;
  /** The signal that killed it, if any. */
  signal: string | undefined;
  /** True when it was killed because it ran longer than the timeout. */
  timedOut: boolean;
  /** True unless it exited with status 0. */
  failed: boolean;
  /** Why it could not be started or what killed it, as execa words it (`''` for a clean exit). */
  shortMessage: string;
  /** The underlying error (ENOENT …) when it could not be started. */
  cause: unknown;
}

/** A program started by {@link startCommand}. Its output streams are unbuffered: read them, or they are dropped. */
export interface StartedCommand {
  /** Process ID; undefined when it could not be started. */
  readonly pid: number | undefined;
  /** Standard output (undefined with `stdout: 'ignore'`). */
  readonly stdout: Readable | undefined;
  /** Standard input (only with `stdin: 'pipe'`). */
  readonly stdin: Writable | undefined;
  /** Standard error. */
  readonly stderr: Readable | undefined;
  /** Resolves once the program has ended, however it ended. Never rejects. */
  readonly exited: Promise<CommandExit>;
  /**
   * Sends `signal` (default SIGTERM; a SIGTERM is followed by SIGKILL 2 s later if the program is still there).
   * Returns false when the program is already gone.
   */
  kill(signal?: NodeJS.Signals): boolean;
}

/**
 * Starts `file` with `args` (an argv array, no shell, `LC_ALL=C`; standard input only with `stdin: 'pipe'`) and
 * returns at once.
 * @throws nothing: a program that cannot be started ends at once, with `exited` saying why.
 */
export function startCommand(file: string, args: readonly string[], options: StartCommandOptions = {}): StartedCommand {
  const child = execa(file, args, {
    reject: false,
    stdin: options.stdin ?? 'ignore',
    stdout: options.stdout ?? 'pipe',
    buffer: false,
    forceKillAfterDelay: 2000,
    env: { LC_ALL: 'C', LANG: 'C', ...options.env },
    ...(options.timeoutSeconds !== undefined ? { timeout: Math.round(options.timeoutSeconds * 1000) } : {}),
  });
  const exited: Promise<CommandExit> = child.then((r) => ({
    exitCode: r.exitCode,
    signal: r.signal,
    timedOut: Boolean(r.timedOut),
    failed: r.failed,
    shortMessage: r.failed ? (r.shortMessage ?? '') : '',
    cause: r.cause,
  }));
  return {
    pid: child.pid,
    stdout: child.stdout ?? undefined,
    stdin: child.stdin ?? undefined,
    stderr: child.stderr ?? undefined,
    exited,
    kill: (signal: NodeJS.Signals = 'SIGTERM') => child.kill(signal),
  };
}
