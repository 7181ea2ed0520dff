/**
 * Reading the guest's serial console log for the ready line the test template prints:
 * `kvm-crm-guest ready hostname=<h> ip=<a>/<len> mac=<m>`.
 */
import { readFile } from 'node:fs/promises';

export interface ReadyLine {
  line: string;
  hostname: string;
  ip: string;
  mac: string;
}

const READY = /kvm-crm-guest ready hostname=(\S+) ip=(\S+) mac=(\S+)/;

/** Parses the first ready line of `text`, if any. */
export function findReadyLine(text: string): ReadyLine | undefined {
  const m = READY.exec(text);
  return m ? { line: m[0], hostname: m[1]!, ip: m[2]!, mac: m[3]! } : undefined;
}

/**
 * Polls `logPath` every `pollMs` (default 250) until the ready line appears. With `failOnPanic` (default false) a
 * guest kernel panic in the log fails the wait at once (a TCG guest on an overloaded host can panic at boot).
 * @throws after `timeoutMs` with the log's tail, or on a panic when `failOnPanic`.
 */
export async function waitForReadyLine(
  logPath: string,
  timeoutMs = 180_000,
  options: { pollMs?: number; failOnPanic?: boolean } = {},
): Promise<ReadyLine> {
  const { pollMs = 250, failOnPanic = false } = options;
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await readFile(logPath, 'utf8').catch(() => '');
    const ready = findReadyLine(text);
    if (ready) return ready;
    const panic = failOnPanic ? text.indexOf('Kernel panic') : -1;
    if (panic >= 0) throw new Error(`the guest panicked at boot (${logPath}): ${JSON.stringify(text.slice(panic, panic + 200))}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`no ready line in ${logPath} within ${timeoutMs} ms; log tail: ${JSON.stringify(text.slice(-800))}`);
}

/** Polls `logPath` until it holds at least `count` ready lines (a reboot prints another). @throws after `timeoutMs`. */
export async function waitForReadyLines(logPath: string, count: number, timeoutMs = 180_000): Promise<ReadyLine[]> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await readFile(logPath, 'utf8').catch(() => '');
    const all = [...text.matchAll(new RegExp(READY.source, 'g'))].map((m) => ({ line: m[0], hostname: m[1]!, ip: m[2]!, mac: m[3]! }));
    if (all.length >= count) return all;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`fewer than ${count} ready lines in ${logPath} within ${timeoutMs} ms; log tail: ${JSON.stringify(text.slice(-800))}`);
}
