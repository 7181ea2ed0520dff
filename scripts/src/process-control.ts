/**
 * Starting and stopping the daemons as child processes for the demo and the benchmark: by PID, never by name.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Starts `node <nodeFlags…> <script> --config <config>` detached, with stdout/stderr appended to `logFile`. Returns
 * the PID. `nodeFlags` (default none): V8/Node flags, e.g. the agent's AGENT_NODE_FLAGS.
 * With `netns`, inside that network namespace: `nsenter --net=/run/netns/<netns> -- node …` (nsenter execs node, so
 * the PID is the daemon's; only the network namespace changes, /sys stays the machine's).
 */
export function startDaemon(script: string, config: string, logFile: string, cwd: string, options: { netns?: string; nodeFlags?: readonly string[] } = {}): number {
  const fd = openSync(logFile, 'a', 0o600);
  const daemon = [...(options.nodeFlags ?? []), script, '--config', config];
  const child = options.netns
    ? spawn('nsenter', [`--net=/run/netns/${options.netns}`, '--', process.execPath, ...daemon], { cwd, detached: true, stdio: ['ignore', fd, fd] })
    : spawn(process.execPath, daemon, { cwd, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${script}`);
  return child.pid;
}

/** True while a process with that PID exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceSeconds`; resolves when the process is gone. */
export async function stopPid(pid: number, graceSeconds = 20): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceSeconds * 1000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
}

/** Retries `probe` every 200 ms until it resolves; rejects with the last error after `timeoutSeconds`. */
export async function waitUntil(what: string, probe: () => Promise<unknown>, timeoutSeconds = 60): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await probe();
      return;
    } catch (err) {
      last = err;
      await sleep(200);
    }
  }
  throw new Error(`${what} not ready within ${timeoutSeconds} s: ${String((last as Error)?.message ?? last)}`);
}
