/**
 * `vtctl host capacity|list|refresh` and `vtctl server enable|disable|drain|undrain` (decision record 019): the
 * capacity report per host (like vm-consumptions.sh), the facts agents reported, and the placement flags of a
 * server. Aligned tables by default, `--json` for scripts.
 */
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';
import { formatTable, type Cell } from './table.js';

/** What the host commands need from vtctl. */
export interface HostCommandDeps {
  /** The admin RPC client for the command's connection options. */
  adminClient: (cmd: Command) => XmlRpcClient;
  /** Prints a value as JSON (`--json`) or vtctl's default rendering. */
  print: (value: unknown) => void;
}

/** One host's capacity as `host.capacity` returns it. */
interface CapacityRow {
  host: string;
  state: string;
  vms: number;
  cpus: Triple;
  memoryMiB: Triple;
  diskGiB: Triple;
}
interface Triple {
  total: number | null;
  used: number;
  available: number | null;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const sumOrNull = (xs: Array<number | null>) => (xs.some((x) => x === null) ? null : round1(xs.reduce<number>((a, x) => a + (x ?? 0), 0)));

/** The capacity report as an aligned table, with a TOTAL line (unknown totals shown as `-`). */
export function capacityTable(rows: CapacityRow[]): string {
  const cells: Cell[][] = rows.map((r) => [r.host, r.state, r.vms, r.cpus.total, r.cpus.used, r.cpus.available, r.memoryMiB.total, r.memoryMiB.used, r.memoryMiB.available, r.diskGiB.total, r.diskGiB.used, r.diskGiB.available]);
  if (rows.length > 1) {
    const col = (f: (r: CapacityRow) => number | null) => sumOrNull(rows.map(f));
    cells.push([
      'TOTAL', '', col((r) => r.vms), col((r) => r.cpus.total), col((r) => r.cpus.used), col((r) => r.cpus.available),
      col((r) => r.memoryMiB.total), col((r) => r.memoryMiB.used), col((r) => r.memoryMiB.available),
      col((r) => r.diskGiB.total), col((r) => r.diskGiB.used), col((r) => r.diskGiB.available),
    ]);
  }
  const n = (header: string) => ({ header, right: true });
  return formatTable(
    ['HOST', 'STATE', n('VMS'), n('VCPUS'), n('USED'), n('AVAIL'), n('MEM MiB'), n('USED'), n('AVAIL'), n('DISK GiB'), n('USED'), n('AVAIL')],
    cells,
  );
}

/** Adds the `host` command group and the placement flags under `server` (created when vtctl has none yet). */
export function registerHostCommands(program: Command, deps: HostCommandDeps): void {
  const json = () => program.opts<{ json?: boolean }>().json === true;
  const out = (text: string) => void process.stdout.write(text);
  const host = program.command('host').description('KVM hosts: capacity for VMs and the facts their agents reported');
  host
    .command('capacity')
    .description('per host: vCPUs, memory and disk that may be promised to VMs (total), promised (used), left (available), VM count')
    .action(async function (this: Command) {
      const rows = await deps.adminClient(this).call<CapacityRow[]>('host.capacity', []);
      if (json()) deps.print(rows);
      else out(capacityTable(rows));
    });
  host
    .command('list')
    .description('the facts each agent reported (CPUs, memory, storage, hypervisor, versions, bridges)')
    .action(async function (this: Command) {
      const rows = await deps.adminClient(this).call<Array<Record<string, unknown>>>('host.list', []);
      if (json()) return deps.print(rows);
      const c = (v: unknown): Cell => (typeof v === 'number' || typeof v === 'string' ? v : v === null || v === undefined ? null : String(v));
      out(formatTable(
        ['HOST', 'ENABLED', 'UP', 'DRAINING', 'HYPERVISOR', { header: 'CPUS', right: true }, { header: 'MEM MiB', right: true }, { header: 'FREE', right: true }, { header: 'DISK GiB', right: true }, { header: 'FREE', right: true }, 'LIBVIRT', 'QEMU', 'BRIDGES', 'REFRESHED'],
        rows.map((r) => [c(r['host']), c(r['enabled']), c(r['available']), c(r['draining']), c(r['hypervisor']), c(r['cpus']), c(r['memoryTotalMiB']), c(r['memoryFreeMiB']), c(r['storageTotalGiB']), c(r['storageFreeGiB']), c(r['libvirtVersion']), c(r['qemuVersion']), Array.isArray(r['bridges']) ? (r['bridges'] as string[]).join(',') : null, c(r['refreshedAt'])]),
      ));
    });
  host
    .command('refresh <server>')
    .description("ask the server's agent for its host facts now")
    .action(async function (this: Command, server: string) {
      deps.print(await deps.adminClient(this).call('host.refresh', [{ server }]));
    });

  const serverCmd = program.commands.find((c) => c.name() === 'server') ?? program.command('server').description('KVM hosts');
  for (const [verb, method, key, value, help] of [
    ['enable', 'server.setEnabled', 'enabled', true, 'let the manager place new VMs on the server again'],
    ['disable', 'server.setEnabled', 'enabled', false, 'no new VM on the server (placed or named); its VMs stay'],
    ['drain', 'server.setDraining', 'draining', true, 'the server is being emptied: no new VM on it; its VMs stay'],
    ['undrain', 'server.setDraining', 'draining', false, 'end draining: the server takes new VMs again'],
  ] as const) {
    serverCmd
      .command(`${verb} <server>`)
      .description(help)
      .action(async function (this: Command, server: string) {
        deps.print(await deps.adminClient(this).call(method, [{ server, [key]: value }]));
      });
  }
}
