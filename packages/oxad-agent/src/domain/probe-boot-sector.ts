/**
 * The boot sector of the hypervisor probe (services/hypervisor-probe.ts): a generated 512-byte x86 MBR that goes
 * from real mode to protected mode, takes an interrupt and returns from it, enters long mode and only then writes
 * its marker to the first serial port (docs/architecture.md decision 5). Pure data; no I/O.
 */
import { InputError } from '@kvm-crm/shared/errors';

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
