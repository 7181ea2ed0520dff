/**
 * Decides the libvirt domain type of this host, `kvm` or `qemu` (TCG), by what actually works
 * (ARCHITECTURE.md decision 5 and "Facts": a `/dev/kvm` that exists may still be unable to run guests).
 *
 * The probe boots a generated 512-byte x86 boot sector in `qemu-system-x86_64 -accel kvm` and watches the serial
 * output file. The sector goes from real mode to protected mode, takes an interrupt and returns from it, enters
 * long mode and only then writes its marker to the first serial port (0x3f8), because a KVM that can run real
 * mode code may still fail on what every real guest does next (see {@link PROBE_STAGES}). KVM works iff the
 * marker appears within the timeout. The same probe with `-accel tcg` checks the probe itself.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { InputError } from '@kvm-crm/shared';

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

/** The text the probe's boot sector writes to COM1 once it reached 64-bit long mode. */
export const PROBE_MARKER = 'KVMCRM-PROBE-OK\n';

/**
 * Stage letters the boot sector writes before the marker: `R` real mode, `P` 32-bit protected mode, `I` an
 * interrupt through the IDT returned with IRET, `L` 64-bit long mode after an IRETQ. `kvm_pvm` hosts stop after
 * `RP` with "KVM internal error … emulation failure": their instruction emulator cannot deliver or return from
 * an interrupt in protected mode, exactly where a real guest (syslinux, Linux) dies. A real-mode-only probe would
 * wrongly report KVM as working there (measured: it prints its marker after ~3.4 s).
 */
export const PROBE_STAGES = 'RPIL';

/**
 * Machine code of the probe boot sector, to be loaded at 0x7c00 and followed by a NUL-terminated message.
 * Assembled once with GNU as (`as --64 bs.S && ld -m elf_x86_64 -Ttext=0x7c00 --oformat=binary`) from:
 *
 * ```
 * # kvm-crm hypervisor probe boot sector (loaded by the BIOS at 0x7c00).
 * # Writes 'R' in real mode, 'P' in 32-bit protected mode, 'I' after an interrupt through the IDT that returns with
 * # IRET, 'L' in 64-bit long mode after an IRETQ, then the message that follows the code, then halts.
 * .code16
 * .globl _start
 * _start:
 *   cli
 *   xor %ax,%ax
 *   mov %ax,%ds
 *   mov %ax,%es
 *   mov %ax,%ss
 *   mov $0x7c00,%sp
 *   mov $0x3f8,%dx
 *   mov $'R',%al
 *   out %al,%dx
 *   lgdtl gdtr
 *   mov %cr0,%eax
 *   or $1,%eax
 *   mov %eax,%cr0
 *   ljmpl $0x08,$pm32
 * .code32
 * pm32:
 *   mov $0x10,%ax
 *   mov %ax,%ds
 *   mov %ax,%es
 *   mov %ax,%ss
 *   mov $0x7c00,%esp
 *   mov $0x3f8,%dx
 *   mov $'P',%al
 *   out %al,%dx
 *   # IDT at 0x5000, only vector 0x30 filled: 32-bit interrupt gate to `handler`
 *   movl $(0x00080000 + handler), 0x5180
 *   movl $0x8e00, 0x5184
 *   lidtl idtr
 *   int $0x30
 *   mov $0x3f8,%dx
 *   mov $'I',%al
 *   out %al,%dx
 *   # identity-map the first 2 MiB with one 2 MiB page: PML4 0x1000, PDPT 0x2000, PD 0x3000
 *   mov $0x1000,%edi
 *   xor %eax,%eax
 *   mov $3072,%ecx
 *   rep stosl
 *   movl $0x2003,0x1000
 *   movl $0x3003,0x2000
 *   movl $0x83,0x3000
 *   mov $0x1000,%eax
 *   mov %eax,%cr3
 *   mov %cr4,%eax
 *   or $0x20,%eax
 *   mov %eax,%cr4
 *   mov $0xC0000080,%ecx
 *   rdmsr
 *   or $0x100,%eax
 *   wrmsr
 *   mov %cr0,%eax
 *   or $0x80000000,%eax
 *   mov %eax,%cr0
 *   ljmp $0x18,$lm64
 * handler:
 *   iret
 * .code64
 * lm64:
 *   mov %rsp,%rax
 *   push $0x10
 *   push %rax
 *   pushfq
 *   push $0x18
 *   lea 3f(%rip),%rax
 *   push %rax
 *   iretq
 * 3:
 *   mov $0x3f8,%dx
 *   mov $'L',%al
 *   out %al,%dx
 *   lea msg(%rip),%rsi
 * 1:
 *   lodsb
 *   test %al,%al
 *   jz 2f
 *   out %al,%dx
 *   jmp 1b
 * 2:
 *   cli
 *   hlt
 *   jmp 2b
 * .balign 8
 * gdt:
 *   .quad 0
 *   .quad 0x00cf9a000000ffff
 *   .quad 0x00cf92000000ffff
 *   .quad 0x00af9a000000ffff
 * gdtr:
 *   .word gdtr-gdt-1
 *   .long gdt
 * idtr:
 *   .word 0x187
 *   .long 0x5000
 * msg:
 * ```
 */
const PROBE_CODE_HEX =
  'fa31c08ed88ec08ed0bc007cbaf803b052ee660f0116107d0f20c06683c8010f22c066ea2a7c0000080066b810008ed8' +
  '8ec08ed0bc007c000066baf803b050eec70580510000c17c0800c70584510000008e00000f011d167d0000cd3066baf8' +
  '03b049eebf0010000031c0b9000c0000f3abc7050010000003200000c7050020000003300000c7050030000083000000' +
  'b8001000000f22d80f20e083c8200f22e0b9800000c00f320d000100000f300f20c00d000000800f22c0eac27c000018' +
  '00cf4889e06a10509c6a18488d05030000005048cf66baf803b04cee488d3539000000ac84c07403eeebf8faf4ebfc90' +
  '0000000000000000ffff0000009acf00ffff00000092cf00ffff0000009aaf001f00f07c0000870100500000';

/**
 * Builds the 512-byte MBR boot sector of the probe: {@link PROBE_CODE_HEX}, then `marker` and a NUL, zero padding,
 * and the 0x55 0xAA signature. Booted, it writes {@link PROBE_STAGES} and then `marker` to I/O port 0x3f8 (COM1).
 *
 * @throws InputError when the marker is empty, has a NUL or non-ASCII character, or is longer than 160 bytes.
 */
export function buildProbeBootSector(marker: string = PROBE_MARKER): Buffer {
  if (marker.length === 0 || marker.length > 160 || !/^[\x01-\x7f]+$/.test(marker)) {
    throw new InputError('probe marker must be 1–160 ASCII characters without NUL');
  }
  const code = Buffer.from(PROBE_CODE_HEX, 'hex');
  const sector = Buffer.alloc(512);
  code.copy(sector, 0);
  Buffer.from(marker, 'ascii').copy(sector, code.length);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
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
    const child = execa(
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
      { reject: false, stdin: 'ignore', stdout: 'ignore', buffer: { stderr: true }, env: { LC_ALL: 'C' } },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 8192) stderr += chunk.toString('utf8');
    });
    let exited = false;
    const done = child.then(() => {
      exited = true;
    });
    try {
      while (elapsed() < timeoutMs) {
        const wasExited = exited;
        const out = await readFile(serial, 'latin1').catch(() => '');
        if (out.includes(expected)) return { ok: true, ms: elapsed(), detail: `marker seen after ${elapsed()} ms` };
        if (FATAL_STDERR.test(stderr)) {
          return { ok: false, ms: elapsed(), detail: `${reached(out)}; qemu: ${fatalLines(stderr)}` };
        }
        if (wasExited) {
          return { ok: false, ms: elapsed(), detail: `qemu exited before the marker (${reached(out)}): ${firstLine(stderr) || 'no message'}` };
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      const out = await readFile(serial, 'latin1').catch(() => '');
      return { ok: false, ms: elapsed(), detail: `no marker within ${timeoutMs} ms (${reached(out)})${stderr ? `: ${firstLine(stderr)}` : ''}` };
    } finally {
      if (!exited && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
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
