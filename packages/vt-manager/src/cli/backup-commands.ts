/**
 * `vtctl vm snapshot create|list|revert|delete VM [NAME]`, `vtctl vm backup VM --to DIR|--target NAME [--keep N]`,
 * `vtctl vm restore BACKUP [--host HOST]`, `vtctl backup list [VM] [--target NAME]` and
 * `vtctl backup target add NAME PATH [--host H] | list | remove NAME` (decision record 026). Each is one synchronous
 * admin call: it prints the result, or exits 1 with the reason (`vtctl: …` on stderr). Long calls (backup,
 * restore) show one updating line with the elapsed seconds on a terminal, a start and an end line otherwise, on
 * stderr; stdout holds the result (an aligned table or text, `--json` for scripts).
 */
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';
import { formatRecords } from './table.js';

/** Seconds vtctl waits for a backup or restore answer (the manager waits up to an hour for the agent). */
export const BACKUP_CLI_TIMEOUT_SECONDS = 3700;

/** What the backup commands need from vtctl. */
export interface BackupCommandDeps {
  /** The admin RPC client for the command's connection options, with a reply timeout in seconds (default 30). */
  adminClient: (cmd: Command, timeoutSeconds?: number) => XmlRpcClient;
  /** True when `--json` was given. */
  json: () => boolean;
}

interface SnapshotRow {
  name: string;
  createdAt: string;
  disks: string[];
  complete: boolean;
}

interface BackupRow {
  host: string;
  path: string;
  vmUuid: string;
  vmName: string;
  backedUpAt: string;
  disks: string[];
  sizeBytes: number;
}

interface TargetRow {
  name: string;
  path: string;
  host: string;
  createdAt: string;
}

const MIB = 1024 * 1024;

/** Backup targets as an aligned table: NAME, PATH, HOST (`(every host)` when not pinned), CREATED. */
export function targetTable(rows: TargetRow[]): string {
  return formatRecords(
    rows.map((r) => ({ name: r.name, path: r.path, host: r.host || '(every host)', createdAt: r.createdAt })),
    ['name', 'path', 'host', { key: 'createdAt', header: 'CREATED' }],
  );
}

/** The snapshots of a VM as an aligned table: NAME, CREATED, DISKS, COMPLETE. */
export function snapshotTable(rows: SnapshotRow[]): string {
  return formatRecords(
    rows.map((r) => ({ name: r.name, createdAt: r.createdAt, disks: r.disks.join(','), complete: r.complete ? 'yes' : 'no' })),
    ['name', { key: 'createdAt', header: 'CREATED' }, 'disks', 'complete'],
  );
}

/** Backups as an aligned table: HOST, VM, NAME, TAKEN, SIZE MiB (rounded up), PATH. */
export function backupTable(rows: BackupRow[]): string {
  return formatRecords(
    rows.map((r) => ({ host: r.host, vm: r.vmUuid, name: r.vmName, at: r.backedUpAt, size: Math.ceil(r.sizeBytes / MIB), path: r.path })),
    ['host', 'vm', 'name', { key: 'at', header: 'TAKEN' }, { key: 'size', header: 'SIZE MiB' }, 'path'],
  );
}

/**
 * Runs `call` while showing `label` with the elapsed seconds on stderr: one updating line on a terminal, a start line
 * and an end line (`label: done after Ns` or `label: FAILED after Ns`) otherwise.
 */
export async function withProgress<T>(label: string, call: () => Promise<T>): Promise<T> {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  let timer: NodeJS.Timeout | undefined;
  if (tty) {
    process.stderr.write(`${label}: 0.0s`);
    timer = setInterval(() => process.stderr.write(`\r\x1b[K${label}: ${seconds()}s`), 250);
  } else process.stderr.write(`${label}: started\n`);
  try {
    const r = await call();
    if (tty) process.stderr.write(`\r\x1b[K${label}: done in ${seconds()}s\n`);
    else process.stderr.write(`${label}: done after ${seconds()}s\n`);
    return r;
  } catch (err) {
    if (tty) process.stderr.write(`\r\x1b[K${label}: FAILED after ${seconds()}s\n`);
    else process.stderr.write(`${label}: FAILED after ${seconds()}s\n`);
    throw err;
  } finally {
    if (timer) clearInterval(timer);
  }
}

/** Adds `vm snapshot …`, `vm backup`, `vm restore` (under vtctl's `vm`, made when missing) and `backup list`. */
export function addBackupCommands(program: Command, deps: BackupCommandDeps): void {
  const out = (value: unknown, text: () => string): void => void process.stdout.write(deps.json() ? JSON.stringify(value, null, 2) + '\n' : text());
  const vm = program.commands.find((c) => c.name() === 'vm') ?? program.command('vm').description('VMs');

  const snapshot = vm.command('snapshot').description('disk snapshots of a stopped VM (qcow2 internal, every disk; decision 026)');
  snapshot
    .command('create <vm> <name>')
    .description('snapshot every disk of the stopped VM under NAME (a letter, then letters, digits, . _ -)')
    .action(async function (this: Command, ref: string, name: string) {
      const r = await deps.adminClient(this).call<Record<string, unknown>>('vm.snapshot', [{ vm: ref, op: 'create', name }]);
      out(r, () => `snapshot ${name} of ${String(r.vmName)} (${String(r.vm)}) on ${String(r.host)} created: ${(r.disks as string[]).join(', ')}\n`);
    });
  snapshot
    .command('list <vm>')
    .description('the snapshots of a VM, oldest first (allowed while it runs)')
    .action(async function (this: Command, ref: string) {
      const r = await deps.adminClient(this).call<{ snapshots: SnapshotRow[] }>('vm.snapshot', [{ vm: ref, op: 'list' }]);
      out(r, () => snapshotTable(r.snapshots));
    });
  snapshot
    .command('revert <vm> <name>')
    .description('set every disk of the stopped VM back to snapshot NAME (later writes are lost; the snapshot stays)')
    .action(async function (this: Command, ref: string, name: string) {
      const r = await deps.adminClient(this).call<Record<string, unknown>>('vm.snapshot', [{ vm: ref, op: 'revert', name }]);
      out(r, () => `${String(r.vmName)} (${String(r.vm)}) reverted to snapshot ${name}\n`);
    });
  snapshot
    .command('delete <vm> <name>')
    .description('delete snapshot NAME from every disk of the stopped VM')
    .action(async function (this: Command, ref: string, name: string) {
      const r = await deps.adminClient(this).call<Record<string, unknown>>('vm.snapshot', [{ vm: ref, op: 'delete', name }]);
      out(r, () => `snapshot ${name} of ${String(r.vmName)} deleted from ${(r.disks as string[]).join(', ')}\n`);
    });

  vm.command('backup <vm>')
    .description('full backup of the stopped VM (disks flattened, definition, SHA256SUMS) into DIR or a named target on its host (give one of --to, --target)')
    .option('--to <dir>', 'absolute folder on the VM\'s host, under a backup root of its agent (local or NFS)')
    .option('--target <name>', 'a target of `vtctl backup target list` (its folder must lie under a backup root of the VM host\'s agent, which refuses it otherwise)')
    .option('--keep <n>', 'then keep only the newest N backups of this VM in DIR', (v) => {
      if (!/^[1-9]\d{0,3}$/.test(v)) throw new Error(`--keep needs a whole number from 1, got ${JSON.stringify(v)}`);
      return Number(v);
    })
    .action(async function (this: Command, ref: string, o: { to?: string; target?: string; keep?: number }) {
      if ((o.to === undefined) === (o.target === undefined)) this.error('vtctl: give exactly one of --to DIR and --target NAME', { exitCode: 2 });
      const where = o.to !== undefined ? { dir: o.to } : { target: o.target! };
      const r = await withProgress(`backup ${ref}`, () =>
        deps.adminClient(this, BACKUP_CLI_TIMEOUT_SECONDS).call<Record<string, unknown>>('vm.backup', [{ vm: ref, ...where, ...(o.keep !== undefined ? { keep: o.keep } : {}) }]),
      );
      out(r, () => {
        const removed = r.removed as string[];
        return `${String(r.vmName)} backed up on ${String(r.host)} to ${String(r.path)} (${Math.ceil(Number(r.sizeBytes) / MIB)} MiB in ${(Number(r.elapsedMs) / 1000).toFixed(1)}s)${removed.length ? `; removed ${removed.length} older: ${removed.join(', ')}` : ''}\n`;
      });
    });

  vm.command('restore <backup>')
    .description('define the VM of BACKUP (its path as `backup list` shows it) again, stopped, with its uuid, MACs and IPs')
    .option('--host <host>', 'host to restore on, whose agent must read the backup (a shared backup root for another host than the original); default: the original host if it can, else the first that can')
    .action(async function (this: Command, backup: string, o: { host?: string }) {
      const r = await withProgress(`restore ${backup}`, () => deps.adminClient(this, BACKUP_CLI_TIMEOUT_SECONDS).call<Record<string, unknown>>('vm.restore', [{ path: backup, ...(o.host ? { host: o.host } : {}) }]));
      const notes = (r.notes as string[] | undefined) ?? [];
      out(r, () => `${String(r.vmName)} (${String(r.vmUuid)}) restored on ${String(r.host)}, stopped: start it with \`vtctl vm start ${String(r.vmUuid)}\`${notes.length ? `\nnote: ${notes.join('; ')}` : ''}\n`);
    });

  const backup = program.commands.find((c) => c.name() === 'backup') ?? program.command('backup').description('VM backups (decision 026)');
  backup
    .command('list [vm]')
    .description('the backups the agents see (in their backup roots, or DIR), optionally of one VM (uuid)')
    .option('--host <host>', 'ask only this host')
    .option('--dir <dir>', 'look in this folder (under a backup root) instead of all roots')
    .option('--target <name>', 'look in this named target\'s folder (on its host only, if pinned) instead of all roots')
    .action(async function (this: Command, ref: string | undefined, o: { host?: string; dir?: string; target?: string }) {
      if (o.dir !== undefined && o.target !== undefined) this.error('vtctl: give --dir or --target, not both', { exitCode: 2 });
      const r = await deps.adminClient(this).call<{ backups: BackupRow[]; errors: Array<{ host: string; error: string }> }>('backup.list', [{ ...(ref ? { vm: ref } : {}), ...(o.host ? { host: o.host } : {}), ...(o.dir ? { dir: o.dir } : {}), ...(o.target ? { target: o.target } : {}) }]);
      for (const e of r.errors) process.stderr.write(`vtctl: host ${e.host}: ${e.error}\n`);
      out(r, () => backupTable(r.backups));
    });

  const target = backup.command('target').description('named backup targets: a folder on every host (shared, e.g. NFS) or on one host');
  target
    .command('add <name> <path>')
    .description('name folder PATH (absolute; normalised) as a backup target. The manager cannot check the agents\' backup roots: PATH must lie under a backup root of each agent that backs up to it, else that agent refuses the backup')
    .option('--host <host>', 'the folder is on this host only (default: the same path on every host, e.g. an NFS mount)')
    .action(async function (this: Command, name: string, p: string, o: { host?: string }) {
      const r = await deps.adminClient(this).call<TargetRow>('backup.target.add', [{ name, path: p, ...(o.host ? { host: o.host } : {}) }]);
      out(r, () => `backup target ${r.name} added: ${r.path} on ${r.host || 'every host'}\n`);
    });
  target
    .command('list')
    .description('the named backup targets')
    .action(async function (this: Command) {
      const r = await deps.adminClient(this).call<TargetRow[]>('backup.target.list', []);
      out(r, () => targetTable(r));
    });
  target
    .command('remove <name>')
    .description('forget a backup target: only the name goes, the backups in its folder stay on disk (list them with --dir, restore them by path)')
    .action(async function (this: Command, name: string) {
      const r = await deps.adminClient(this).call<TargetRow>('backup.target.remove', [{ name }]);
      out(r, () => `backup target ${r.name} removed (the backups in ${r.path} stay on disk)\n`);
    });
}
