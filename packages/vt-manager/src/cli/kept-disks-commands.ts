/**
 * `vtctl host kept-disks HOST` and `vtctl host purge-kept-disks HOST ID` (decision record 021): the disks a host's
 * agent keeps of VMs deleted with `vm delete --keep-disks`, and removing one folder of them. An aligned table by
 * default, `--json` for scripts.
 */
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';
import { formatRecords } from './table.js';

/** What the kept-disks commands need from vtctl. */
export interface KeptDisksCommandDeps {
  /** The admin RPC client for the command's connection options. */
  adminClient: (cmd: Command) => XmlRpcClient;
  /** Prints a value as JSON (`--json`) or vtctl's default rendering. */
  print: (value: unknown) => void;
}

/** One kept-disks folder as `host.keptDisks` returns it. */
interface KeptDisksRow {
  id: string;
  vmUuid: string;
  vmName: string;
  keptAt: string;
  actualSizeMiB: number;
  files: Array<{ name: string; virtualSizeMiB?: number; actualSizeMiB?: number; error?: string }>;
}

/**
 * The kept-disks folders as an aligned table: ID, VM (uuid), NAME, KEPT AT, FILES (image names, `?` after one
 * whose size could not be read), VIRTUAL MiB (sum of the images' virtual sizes), ACTUAL MiB (space they take).
 */
export function keptDisksTable(rows: KeptDisksRow[]): string {
  return formatRecords(
    rows.map((r) => ({
      id: r.id, vm: r.vmUuid, name: r.vmName || '-', keptAt: r.keptAt,
      files: r.files.map((f) => (f.error ? `${f.name}?` : f.name)).join(','),
      virtual: r.files.reduce((s, f) => s + (f.virtualSizeMiB ?? 0), 0), actual: r.actualSizeMiB,
    })),
    ['id', 'vm', 'name', { key: 'keptAt', header: 'KEPT AT' }, 'files', { key: 'virtual', header: 'VIRTUAL MiB' }, { key: 'actual', header: 'ACTUAL MiB' }],
  );
}

/** Adds `kept-disks` and `purge-kept-disks` under vtctl's `host` command (created when vtctl has none yet). */
export function addKeptDisksCommands(program: Command, deps: KeptDisksCommandDeps): void {
  const json = () => program.opts<{ json?: boolean }>().json === true;
  const host = program.commands.find((c) => c.name() === 'host') ?? program.command('host').description('KVM hosts');
  host
    .command('kept-disks <host>')
    .description('the disks the host keeps of VMs deleted with --keep-disks (id, VM, when, images, sizes in MiB)')
    .action(async function (this: Command, server: string) {
      const rows = await deps.adminClient(this).call<KeptDisksRow[]>('host.keptDisks', [{ server }]);
      if (json()) deps.print(rows);
      else process.stdout.write(keptDisksTable(rows));
    });
  host
    .command('purge-kept-disks <host> <id>')
    .description('remove one folder of kept disks (its id as `host kept-disks` lists it) and its images, for good')
    .action(async function (this: Command, server: string, id: string) {
      const r = await deps.adminClient(this).call<{ host: string; id: string; files: string[] }>('host.purgeKeptDisks', [{ server, id }]);
      if (json()) deps.print(r);
      else process.stdout.write(`purged ${r.id} on ${r.host}: ${r.files.length ? r.files.join(', ') : 'no images'}\n`);
    });
}
