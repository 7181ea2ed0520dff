/**
 * Helpers for the tests that run against the real libvirt (`qemu:///system`): make sure libvirtd answers
 * (running `scripts/setup-host.sh` once if it does not), give each run its own name prefix and storage folder, and
 * remove exactly what the run created. Used only by `*.test.ts` files.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { execa } from 'execa';
import { Virsh } from '../adapters/virsh.js';

/** libvirt connection the tests use. */
export const TEST_LIBVIRT_URI = 'qemu:///system';

/** Absolute path of `scripts/setup-host.sh` in the repository (from `dist/testing/` or `src/testing/`). */
export const SETUP_HOST_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../scripts/setup-host.sh');

let availability: Promise<string | undefined> | undefined;

/**
 * Resolves with undefined when `virsh -c qemu:///system version` works, if need be after running
 * `scripts/setup-host.sh` once (as root); else with the reason to skip the libvirt tests. Runs at most once per
 * process.
 */
export function libvirtUnavailableReason(): Promise<string | undefined> {
  availability ??= (async () => {
    const probe = () => execa('virsh', ['-c', TEST_LIBVIRT_URI, 'version'], { reject: false, stdin: 'ignore', timeout: 30_000 });
    if (!(await probe()).failed) return undefined;
    if (process.getuid?.() !== 0) return 'libvirt does not answer and setup-host.sh needs root';
    const setup = await execa('bash', [SETUP_HOST_SCRIPT], { reject: false, stdin: 'ignore', timeout: 600_000, all: true });
    const again = await probe();
    if (!again.failed) return undefined;
    return `virsh -c ${TEST_LIBVIRT_URI} version fails after setup-host.sh: ${String(again.stderr).trim()} (setup said: ${String(setup.all ?? '').trim().slice(-300)})`;
  })();
  return availability;
}

/** One test run's private names and folders. */
export interface TestRun {
  /** Random hex ID of this run. */
  runId: string;
  /** Prefix of every libvirt domain the run creates: `kvmcrm-t<runId>-`. */
  domainPrefix: string;
  /** Storage root `/var/lib/kvm-crm-test-<runId>` (mode 0711). */
  root: string;
  /** `<root>/templates` (mode 0711). */
  templatesDir: string;
  /** `<root>/vms` (mode 0711). */
  vmsDir: string;
  /** Creates `<vmsDir>/<uuid>` (mode 0711) and returns its path. */
  vmDir(uuid: string): Promise<string>;
  /**
   * Destroys and undefines every domain whose name starts with {@link domainPrefix} (and no other), then removes
   * {@link root}. Never throws; returns the problems it met.
   */
  cleanup(): Promise<string[]>;
}

/**
 * Creates the storage layout of a test run under `/var/lib` (a folder qemu, running as `libvirt-qemu`, can reach:
 * every folder on the way needs search permission for others, hence 0711; `/tmp` may be private elsewhere).
 */
export async function createTestRun(virsh = new Virsh({ uri: TEST_LIBVIRT_URI })): Promise<TestRun> {
  const runId = randomBytes(4).toString('hex');
  const root = `/var/lib/kvm-crm-test-${runId}`;
  const templatesDir = path.join(root, 'templates');
  const vmsDir = path.join(root, 'vms');
  for (const dir of [root, templatesDir, vmsDir]) {
    await mkdir(dir);
    await chmod(dir, 0o711);
  }
  const domainPrefix = `kvmcrm-t${runId}-`;
  return {
    runId,
    domainPrefix,
    root,
    templatesDir,
    vmsDir,
    async vmDir(uuid: string): Promise<string> {
      const dir = path.join(vmsDir, uuid);
      await mkdir(dir);
      await chmod(dir, 0o711);
      return dir;
    },
    async cleanup(): Promise<string[]> {
      const problems: string[] = [];
      try {
        for (const d of await virsh.listAll()) {
          if (!d.name.startsWith(domainPrefix)) continue;
          try {
            if (d.state !== 'shut off') await virsh.destroy(d.name).catch(() => undefined);
            await virsh.undefine(d.name);
          } catch (err) {
            problems.push(`${d.name}: ${(err as Error).message}`);
          }
        }
      } catch (err) {
        problems.push(`listing domains: ${(err as Error).message}`);
      }
      await rm(root, { recursive: true, force: true }).catch((err: Error) => problems.push(`${root}: ${err.message}`));
      return problems;
    },
  };
}
