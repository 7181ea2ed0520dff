/**
 * Decides the libvirt domain type of this host, `kvm` or `qemu` (TCG), by what actually works
 * (docs/architecture.md decision 5 and "Facts": a `/dev/kvm` that exists may still be unable to run guests).
 *
 * The probe boots a generated 512-byte x86 boot sector in `qemu-system-x86_64 -accel kvm` and watches the serial
 * output file. The sector goes from real mode to protected mode, takes an interrupt and returns from it, enters
 * long mode and only then writes its marker to the first serial port (0x3f8), because a KVM that can run real
 * mode code may still fail on what every real guest does next (see {@link PROBE_STAGES}). KVM works iff the
 * marker appears within the timeout. The same probe with `-accel tcg` checks the probe itself. The boot sector is
 * built by domain/probe-boot-sector.ts; qemu is started through adapters/run-command.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '@kvm-crm/shared/errors';
import { startCommand } from '../adapters/run-command.js';
import { buildProbeBootSector, PROBE_MARKER, PROBE_STAGES } from '../domain/probe-boot-sector.js';

/** The libvirt domain type chosen for this host. */
export type DomainType = 'kvm' | 'qemu';
/** Configuration of the choice: probe (`auto`), or force a type without probing. */
export type HypervisorMode = 'auto' | 'kvm' | 'qemu';

/** What {@link probeHypervisor} decided, and why. */
export interface HypervisorChoice {
  /** Domain type to put in `<domain type=…>`. */
  domainType: DomainType;
  /** One line for logs and for the manager: why this type was chosen. */
  reason: string;
  /** Time the probe took in milliseconds (0 when the type was forced by configuration). */
  probeMs: number;
}

/** Result of one {@link runBootProbe}. */
export interface BootProbeResult {
  /** True when the marker appeared on the serial port. */
  ok: boolean;
  /** Wall time in milliseconds, from starting qemu to the marker or the failure. */
  ms: number;
  /** One line: what happened (marker seen, qemu's error, timeout). */
  detail: string;
}

/** Options of {@link probeHypervisor} and {@link runBootProbe}. */
export interface ProbeOptions {
  /** `auto` (default) probes; `kvm` or `qemu` force the type without probing. */
  mode?: HypervisorMode;
  /** Emulator to run; default `qemu-system-x86_64` (looked up in PATH). */
  qemuBinary?: string;
  /** Give up after this many seconds; default 5. */
  timeoutSeconds?: number;
  /** Folder for the probe's temporary folder; default `os.tmpdir()`. */
  tmpDir?: string;
}

/** qemu stderr lines that mean "this accelerator cannot run guests here"; no need to wait for the timeout. */
const FATAL_STDERR = /KVM internal error|emulation failure|failed to initialize kvm|Could not access KVM|No accelerator found|invalid accelerator/i;

/**
 * Boots the probe sector once with the given accelerator and reports whether the marker appeared:
 * `qemu-system-x86_64 -accel <accel> -machine pc -m 16 -nodefaults -no-user-config -display none
 * -serial file:<tmp> -drive file=<img>,format=raw,if=ide -no-reboot`. qemu is killed (SIGKILL, by PID) as soon as
 * the marker appears, qemu reports a fatal error, or the timeout passes; the temporary folder is removed.
 * Never throws for a failed boot (that is `ok: false`); throws only if the temporary files cannot be written.
 */
export async function runBootProbe(accel: 'kvm' | 'tcg', options: ProbeOptions = {}): Promise<BootProbeResult> {
  const timeoutMs = Math.round((options.timeoutSeconds ?? 5) * 1000);
  const dir = await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'kvmcrm-probe-'));
  const image = path.join(dir, 'probe.img');
  const serial = path.join(dir, 'serial.log');
  if (/[,\s]/.test(dir)) throw new InputError(`probe folder ${dir} must not contain commas or spaces`);
  const expected = PROBE_STAGES + PROBE_MARKER;
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  try {
    await writeFile(image, buildProbeBootSector(PROBE_MARKER));
    await writeFile(serial, '');
    const child = startCommand(
      options.qemuBinary ?? 'qemu-system-x86_64',
      [
        '-accel', accel,
        '-machine', 'pc',
        '-m', '16',
        '-nodefaults',
        '-no-user-config',
        '-display', 'none',
        '-serial', `file:${serial}`,
        '-drive', `file=${image},format=raw,if=ide`,
        '-no-reboot',
      ],
      // The loop below kills qemu at the probe's own timeout; this one is only a backstop.
      { stdout: 'ignore', timeoutSeconds: timeoutMs / 1000 + 5 },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 8192) stderr += chunk.toString('utf8');
    });
    let exited = false;
    const done = child.exited.then(() => {
      exited = true;
    });
    try {
      while (elapsed() < timeoutMs) {
        const wasExited = exited;
        const out = await readFile(serial, 'latin1').catch(() => ''); // unreadable this round: nothing seen yet
        if (out.includes(expected)) return { ok: true, ms: elapsed(), detail: `marker seen after ${elapsed()} ms` };
        if (FATAL_STDERR.test(stderr)) {
          return { ok: false, ms: elapsed(), detail: `${reached(out)}; qemu: ${fatalLines(stderr)}` };
        }
        if (wasExited) {
          return { ok: false, ms: elapsed(), detail: `qemu exited before the marker (${reached(out)}): ${firstLine(stderr) || 'no message'}` };
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      const out = await readFile(serial, 'latin1').catch(() => ''); // unreadable: report that nothing was seen
      return { ok: false, ms: elapsed(), detail: `no marker within ${timeoutMs} ms (${reached(out)})${stderr ? `: ${firstLine(stderr)}` : ''}` };
    } finally {
      if (!exited) child.kill('SIGKILL'); // false when it is already gone
      await done;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Chooses the domain type. `mode: 'kvm' | 'qemu'` returns that type at once (`reason` says it was configured);
 * `mode: 'auto'` (default) runs {@link runBootProbe} with KVM and picks `kvm` iff the marker appears, else `qemu`
 * with qemu's error in `reason`. Never decides by the existence of `/dev/kvm` alone.
 *
 * @throws InputError for an unknown mode.
 */
export async function probeHypervisor(options: ProbeOptions = {}): Promise<HypervisorChoice> {
  const mode = options.mode ?? 'auto';
  if (mode === 'kvm' || mode === 'qemu') {
    return { domainType: mode, reason: `domain type ${mode} set by configuration (not probed)`, probeMs: 0 };
  }
  if (mode !== 'auto') throw new InputError(`invalid hypervisor mode: ${JSON.stringify(String(mode).slice(0, 20))}`);
  const kvm = await runBootProbe('kvm', options);
  if (kvm.ok) return { domainType: 'kvm', reason: `KVM boot probe succeeded (${kvm.detail})`, probeMs: kvm.ms };
  return { domainType: 'qemu', reason: `KVM boot probe failed, using TCG: ${kvm.detail}`, probeMs: kvm.ms };
}

/** Describes how far the boot sector got from its serial output. */
function reached(serialOut: string): string {
  const names: Record<string, string> = { R: 'real mode', P: 'protected mode', I: 'protected-mode interrupt', L: 'long mode' };
  let n = 0;
  while (n < PROBE_STAGES.length && serialOut[n] === PROBE_STAGES[n]) n += 1;
  if (n === 0) return 'the boot sector never ran';
  const done = [...PROBE_STAGES.slice(0, n)].map((c) => names[c]).join(', ');
  const next = n < PROBE_STAGES.length ? names[PROBE_STAGES[n]!] : 'the marker';
  return `reached ${done}; failed before ${next}`;
}

/** qemu's fatal error lines (without register dumps), on one line. */
function fatalLines(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => FATAL_STDERR.test(l))
    .join('; ')
    .slice(0, 300);
}

function firstLine(s: string): string {
  const line = s.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
