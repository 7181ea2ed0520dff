/**
 * The Python peers under `test/python/` (standard library only: an XML-RPC implementation independent of ours,
 * docs/architecture.md "Testing"), run as child processes. Each one is tracked by PID and killed by PID on cleanup,
 * also when a test fails half-way.
 */
import { createInterface } from 'node:readline';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from './repo-root.js';

export const PYTHON = process.env.KVMCRM_PYTHON ?? 'python3';
export const PYTHON_DIR = path.join(REPO_ROOT, 'test/python');

/** Where the OCF fixtures live: `$OCF_FIXTURES_DIR`, else `<repo>/../shared/ocf-fixtures`. */
export const FIXTURES_DIR = process.env.OCF_FIXTURES_DIR ?? path.resolve(REPO_ROOT, '../shared/ocf-fixtures');

/** A running Python script. */
export interface PythonProcess {
  pid: number;
  process: ResultPromise;
  /** SIGTERM by PID, then SIGKILL after `graceMs` if it is still there; resolves once it has exited. */
  kill(graceMs?: number): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `test/python/<script>` with argv `args` (no shell). stdout is piped by default (read it with
 * {@link readFirstLine}); stderr goes to `stderrFile` when given, else to ours. `timeoutMs` kills it when it runs
 * longer. Await `process` for the exit code. Bytecode is not written into the repository.
 */
export function startPython(
  script: string,
  args: string[],
  options: { stderrFile?: string; timeoutMs?: number; stdout?: 'pipe' | 'ignore' } = {},
): PythonProcess {
  const child = execa(PYTHON, [path.join(PYTHON_DIR, script), ...args], {
    cwd: PYTHON_DIR,
    env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    reject: false,
    buffer: false,
    stdin: 'ignore',
    stdout: options.stdout ?? 'pipe',
    stderr: options.stderrFile ? { file: options.stderrFile } : 'inherit',
    ...(options.timeoutMs ? { timeout: options.timeoutMs, forceKillAfterDelay: 5000 } : {}),
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${PYTHON} ${script}`);
  const exited = child.then(() => undefined, () => undefined);
  return {
    pid,
    process: child,
    async kill(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (alive(pid)) process.kill(pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null && alive(pid)) process.kill(pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The first line the process prints on stdout, or a rejection after `timeoutMs` or when it exits first. */
export function readFirstLine(p: PythonProcess, timeoutMs = 15_000): Promise<string> {
  const stdout = p.process.stdout;
  if (!stdout) return Promise.reject(new Error('stdout is not piped'));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: stdout });
    const timer = setTimeout(() => {
      rl.close();
      reject(new Error(`no line on stdout within ${timeoutMs} ms`));
    }, timeoutMs);
    rl.once('line', (line) => {
      clearTimeout(timer);
      rl.close();
      stdout.resume(); // keep draining whatever else it prints
      resolve(line.trim());
    });
    void p.process.then((r) => {
      clearTimeout(timer);
      reject(new Error(`exited (code ${String(r.exitCode)}, signal ${String(r.signal)}) before printing a line`));
    });
  });
}
