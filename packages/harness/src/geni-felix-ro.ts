/**
 * Drives test/python/felix_ro_client.py (a FELIX-RO-like GENI AM API v3 client on Python's standard library) one
 * step per process, and returns the JSON lines it printed (one per XML-RPC call or wait).
 */
import path from 'node:path';
import { GENI_FIXTURES_DIR } from './geni-credentials.js';
import { startPython } from './python.js';

/** One line of felix_ro_client.py's output (see the script's docstring). */
export interface FelixRoRecord {
  step: string;
  method?: string;
  ok: boolean;
  errors: string[];
  code: number | null;
  output: string | null;
  seconds?: number;
  [field: string]: unknown;
}

/** The common arguments of every step. */
export interface FelixRoTarget {
  amUrl: string;
  userCred?: string;
  sliceCred?: string;
  sliceUrn?: string;
  /** Where the RSpec schemas are (default `<geni fixtures>/schemas`). */
  schemasDir?: string;
  /** Each run's stderr goes to `<stderrDir>/felix-ro-<n>-<step>.stderr` (for failure reports). */
  stderrDir: string;
}

let runs = 0;

/**
 * Runs `felix_ro_client.py <common args> <stepArgs…>` and returns its records; the exit code is in `exitCode`
 * (0 all ok, 1 a step failed, 2 set-up). `stepArgs` starts with the step name (then its options: `--urns` takes every following word). @throws when it prints no record (crash, timeout) — with its stderr file path.
 */
export async function runFelixRo(target: FelixRoTarget, stepArgs: string[], timeoutMs = 600_000): Promise<{ records: FelixRoRecord[]; exitCode: number }> {
  const common = ['--am-url', target.amUrl, '--schemas-dir', target.schemasDir ?? path.join(GENI_FIXTURES_DIR, 'schemas')];
  if (target.userCred) common.push('--user-cred', target.userCred);
  if (target.sliceCred) common.push('--slice-cred', target.sliceCred);
  if (target.sliceUrn) common.push('--slice-urn', target.sliceUrn);
  const stderrFile = path.join(target.stderrDir, `felix-ro-${++runs}-${stepArgs[0] ?? 'none'}.stderr`);
  const p = startPython('felix_ro_client.py', [...common, ...stepArgs], { stderrFile, timeoutMs });
  const chunks: Buffer[] = [];
  p.process.stdout?.on('data', (b: Buffer) => chunks.push(b));
  const r = await p.process;
  const records = Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as FelixRoRecord);
  if (records.length === 0) {
    throw new Error(`felix_ro_client.py ${stepArgs.join(' ')} printed nothing (exit ${String(r.exitCode)}, signal ${String(r.signal)}, timed out ${String(r.timedOut)}); stderr in ${stderrFile}`);
  }
  return { records, exitCode: r.exitCode ?? -1 };
}
