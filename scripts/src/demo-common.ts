/**
 * What the single-host demo (demo.ts) and the multi-host demo (demo-hosts.ts) share: where things go, the step
 * printer, `vtctl` as a process, the state a --keep run leaves, and the teardown of `--down`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { parseCrl } from '@kvm-crm/shared';
import { removeClusterNetwork, removeDomains, REPO_ROOT, type ClusterNetwork } from '@kvm-crm/harness';
import { stopPid } from './process-control.js';

export const STATE_DIR = path.join(REPO_ROOT, 'var/demo');
export const STORAGE_ROOT = '/var/lib/kvm-crm-demo';
export const CERTS = path.join(REPO_ROOT, 'certs');
export const BRIDGE = 'kvmcrm-demo0';
/** Prefix of every demo domain; with several hosts each host's prefix (`kvmcrm-demo-h<i>-`) starts with it. */
export const DOMAIN_PREFIX = 'kvmcrm-demo-';
export const MANAGER_PORT = Number(process.env.KVMCRM_DEMO_MANAGER_PORT ?? 8445);
export const AGENT_PORT = Number(process.env.KVMCRM_DEMO_AGENT_PORT ?? 9229);
export const VTCTL = path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js');
export const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';

const t0 = Date.now();
let stepStart = Date.now();
/** Prints a numbered step with the time since the demo started. */
export function step(text: string): void {
  stepStart = Date.now();
  process.stdout.write(`\n[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${text}\n`);
}
/** Ends the current step with its duration. */
export function done(detail = ''): void {
  process.stdout.write(`           done in ${((Date.now() - stepStart) / 1000).toFixed(2)} s${detail ? ` — ${detail}` : ''}\n`);
}
/** Seconds since the demo started. */
export function elapsedSeconds(): string {
  return ((Date.now() - t0) / 1000).toFixed(1);
}

/** What a run made, saved as it goes so that `--down` (or the final teardown) can remove it. */
export interface DemoState {
  managerPid?: number;
  agentPid?: number;
  createdBridge?: boolean;
  /** `--hosts`: the agents in their namespaces, by PID. */
  agentPids?: number[];
  /** `--hosts`: the management network, namespaces, veths and guest bridges made. */
  network?: ClusterNetwork;
}
export const stateFile = path.join(STATE_DIR, 'state.json');
export async function saveState(s: DemoState): Promise<void> {
  await writeFile(stateFile, JSON.stringify(s), { mode: 0o600 });
}
/** The state a --keep run left, or `{}`. */
export function readState(): DemoState {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as DemoState) : {};
}

/** Runs `vtctl` with `args` (printed first) and the admin connection in `env`; resolves with its stdout. */
export async function vtctl(args: string[], env: Record<string, string>): Promise<string> {
  process.stdout.write(`           $ vtctl ${args.join(' ')}\n`);
  const r = await execa(process.execPath, [VTCTL, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
  return r.stdout;
}

/**
 * Stops what a run (or a --keep run) left: daemons by PID, our domains, the bridge or the namespaces and links we
 * made, state and storage.
 */
export async function teardown(s: DemoState): Promise<void> {
  if (s.managerPid) await stopPid(s.managerPid);
  if (s.agentPid) await stopPid(s.agentPid);
  for (const pid of s.agentPids ?? []) await stopPid(pid);
  await removeDomains(DOMAIN_PREFIX);
  if (s.createdBridge) await execa('ip', ['link', 'del', BRIDGE], { reject: false });
  if (s.network) await removeClusterNetwork(s.network);
  await rm(STORAGE_ROOT, { recursive: true, force: true });
  await rm(STATE_DIR, { recursive: true, force: true });
}

/** True when the CRL in `file` has a nextUpdate within `days` days (or cannot be read). */
export async function crlExpiresWithin(file: string, days: number): Promise<boolean> {
  try {
    const next = parseCrl(await readFile(file, 'utf8')).nextUpdate;
    return !next || next.getTime() - Date.now() < days * 86400_000;
  } catch {
    return true;
  }
}
