/**
 * `vtctl vm migrate VM --to HOST [--stop] [--flatten] [--wait]` and `vtctl server drain HOST --migrate [--stop]
 * [--flatten]` (decision record 025). A migration is one durable `migrate` action; `--wait` polls `vm.migration`
 * and shows the step and the bytes copied (one updating line with elapsed time on a TTY, a line per change
 * otherwise, on stderr). A drain marks the host draining (no new VM), then migrates its VMs one after another to
 * hosts the placement policy picks, and reports per VM. `--json` prints the outcome as JSON.
 */
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';
import { formatRecords } from './table.js';

/** What the migration commands need from vtctl. */
export interface MigrationCommandDeps {
  adminClient: (cmd: Command) => XmlRpcClient;
  json: () => boolean;
}

/** `vm.migrate`'s answer. */
interface MigrateTicket {
  actionId: string;
  vm: string;
  name: string;
  server: string;
  target: string;
}

/** `vm.migration`'s answer (byte counts as decimal strings). */
interface ProgressView {
  actionId: string;
  vm: string;
  source: string;
  target: string;
  step: string;
  copiedBytes: string;
  totalBytes: string;
  status: string;
  description: string;
}

/** One VM's line of a drain report. */
export interface DrainRow {
  vm: string;
  name: string;
  target: string;
  status: string;
  seconds: number;
  reason: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: string | number) => (Number(b) / (1024 * 1024)).toFixed(1);

/** The progress line: `migrate vm1 → t02: copy 12.0/1024.0 MiB 7s`. */
export function progressLine(name: string, p: Pick<ProgressView, 'target' | 'step' | 'copiedBytes' | 'totalBytes' | 'status'>, seconds: number): string {
  const bytes = Number(p.totalBytes) > 0 ? ` ${mib(p.copiedBytes)}/${mib(p.totalBytes)} MiB` : '';
  const what = p.status === 'SUCCESS' || p.status === 'FAILED' ? p.status : p.step;
  return `migrate ${name} → ${p.target}: ${what}${bytes} ${seconds}s`;
}

/** Polls the migration until its action ended; shows progress on stderr. Returns the last view. */
async function waitForMigration(c: XmlRpcClient, t: MigrateTicket): Promise<ProgressView> {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let last = '';
  for (;;) {
    const p = await c.call<ProgressView>('vm.migration', [{ action: t.actionId }]);
    const done = p.status === 'SUCCESS' || p.status === 'FAILED';
    const secs = Math.floor((Date.now() - started) / 1000);
    const line = progressLine(t.name, p, secs);
    if (tty) process.stderr.write(`\r\x1b[K${line}${done ? '\n' : ''}`);
    else {
      const key = `${p.step} ${p.status} ${p.copiedBytes}`;
      if (key !== last) process.stderr.write(`${line}\n`);
      last = key;
    }
    if (done) return p;
    await sleep(tty ? 250 : 500);
  }
}

/** Adds `vm migrate` and the `--migrate` mode of `server drain` (which must be registered already). */
export function addMigrationCommands(program: Command, deps: MigrationCommandDeps): void {
  const out = (value: unknown, text: string) => void process.stdout.write(deps.json() ? JSON.stringify(value, null, 2) + '\n' : text);
  const vm = program.commands.find((c) => c.name() === 'vm') ?? program.command('vm').description('virtual machines');
  vm.command('migrate <vm>')
    .description('move a stopped VM to another host (offline: disks copied agent to agent, same UUID, MACs and IP)')
    .option('--to <host>', 'the target host (default: the placement policy picks one; the VM\'s host must be draining)')
    .option('--stop', 'stop the VM first if it runs (else a running VM is refused)')
    .option('--flatten', 'copy a standalone disk image (qemu-img convert), for a target without the VM\'s template')
    .option('--wait', 'wait until the migration has finished, showing the bytes copied')
    .action(async function (this: Command, ref: string, o: { to?: string; stop?: boolean; flatten?: boolean; wait?: boolean }) {
      const c = deps.adminClient(this);
      const t = await c.call<MigrateTicket>('vm.migrate', [{ vm: ref, ...(o.to ? { to: o.to } : {}), stop: !!o.stop, flatten: !!o.flatten }]);
      if (!o.wait) return out(t, `migrate of ${t.name} (${t.vm}) from ${t.server} to ${t.target} queued: action ${t.actionId}\n`);
      const p = await waitForMigration(c, t);
      if (p.status === 'FAILED') {
        if (deps.json()) out(p, '');
        throw new Error(`migrate of ${t.name} FAILED: ${p.description}`);
      }
      out(p, `${t.name} (${t.vm}) is on ${p.target}: ${p.description}\n`);
    });

  const server = program.commands.find((c) => c.name() === 'server');
  const drain = server?.commands.find((c) => c.name() === 'drain');
  if (!drain) throw new Error('vtctl: register the server commands before the migration commands');
  drain
    .option('--migrate', 'also move every VM away (one migration each, one after another, targets by placement)')
    .option('--stop', 'with --migrate: stop running VMs first (else they are reported and left)')
    .option('--flatten', 'with --migrate: copy standalone images (targets without the templates)')
    .action(async function (this: Command, host: string, o: { migrate?: boolean; stop?: boolean; flatten?: boolean }) {
      const c = deps.adminClient(this);
      const flagged = await c.call('server.setDraining', [{ server: host, draining: true }]);
      // Without --migrate: what `server drain` always printed (vtctl's print of a non-list value).
      if (!o.migrate) return out(flagged, `${typeof flagged === 'object' ? JSON.stringify(flagged) : String(flagged)}\n`);
      const vms = (await c.call<Array<{ uuid: string; name: string; server: string }>>('vm.list', [{}])).filter((v) => v.server === host);
      const rows: DrainRow[] = [];
      for (const v of vms) {
        const started = Date.now();
        try {
          const t = await c.call<MigrateTicket>('vm.migrate', [{ vm: v.uuid, stop: !!o.stop, flatten: !!o.flatten }]);
          const p = await waitForMigration(c, t);
          rows.push({ vm: v.uuid, name: v.name, target: p.target, status: p.status, seconds: Math.round((Date.now() - started) / 100) / 10, reason: p.description });
        } catch (err) {
          rows.push({ vm: v.uuid, name: v.name, target: '', status: 'REFUSED', seconds: Math.round((Date.now() - started) / 100) / 10, reason: err instanceof Error ? err.message : String(err) });
        }
      }
      const moved = rows.filter((r) => r.status === 'SUCCESS').length;
      out({ host, draining: true, vms: rows }, `${formatRecords(rows.map((r) => ({ ...r })), ['name', 'vm', 'target', 'status', { key: 'seconds', header: 'SECONDS' }, 'reason'])}${host}: ${moved} of ${rows.length} VMs moved\n`);
      if (moved < rows.length) process.exitCode = 1;
    });
}
