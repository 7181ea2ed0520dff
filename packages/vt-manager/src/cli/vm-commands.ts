/**
 * `vtctl vm …`: the VM lifecycle from the admin CLI (issue 10 "VM lifecycle from vtctl", decision 020): create,
 * start, stop, hard-stop, reboot, delete, show, list, console-log and expire, through the admin RPC. Creates and
 * verbs are the same durable actions as OCF; `--wait` polls the action (`action.show`) and shows its progress: one
 * updating line on a terminal, a line per state change otherwise; a FAILED action exits 1 with its reason.
 * Listings are aligned tables; `--json` prints what the manager answered.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';
import { formatRecords } from './table.js';

const collect = (v: string, acc: string[]) => [...acc, v];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A size in MiB from `512M`, `20G`, `1T` or a plain number of MiB.
 * @throws Error naming the option for anything else, or a size that is not a whole number of MiB.
 */
export function parseSizeMiB(text: string, option: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([MGT]i?B?)?$/i.exec(text.trim());
  if (!m) throw new Error(`${option}: ${JSON.stringify(text)} is not a size (e.g. 512M, 20G)`);
  const factor = { M: 1, G: 1024, T: 1024 * 1024 }[(m[2] ?? 'M').charAt(0).toUpperCase() as 'M' | 'G' | 'T'];
  const mib = Number(m[1]) * factor;
  if (!Number.isSafeInteger(mib) || mib < 1) throw new Error(`${option}: ${text} is not a whole number of MiB`);
  return mib;
}

/** The public key lines of an OpenSSH public key file (blank lines and `#` comments left out). */
function readKeys(file: string): string[] {
  const keys = readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (keys.length === 0) throw new Error(`--ssh-key ${file}: no key in the file`);
  return keys;
}

interface Ticket {
  actionId: string;
  type: string;
  vm: string;
  name: string;
  server: string;
}

interface ActionView {
  status: string;
  description: string;
}

/**
 * Polls action `ticket.actionId` until it is SUCCESS or FAILED, showing progress on stderr (stdout stays for the
 * result). Returns the terminal action.
 */
async function waitFor(client: XmlRpcClient, ticket: Ticket): Promise<ActionView> {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  const label = `${ticket.type} ${ticket.name}`;
  let last = '';
  for (;;) {
    const a = await client.call<ActionView>('action.show', [{ id: ticket.actionId }]);
    const seconds = Math.floor((Date.now() - started) / 1000);
    const done = a.status === 'SUCCESS' || a.status === 'FAILED';
    if (tty) process.stderr.write(`\r\x1b[K${label}: ${a.status} ${seconds}s${done ? '\n' : ''}`);
    else if (a.status !== last) process.stderr.write(`${label}: ${a.status} after ${seconds}s\n`);
    last = a.status;
    if (done) return a;
    await sleep(tty ? 250 : 500);
  }
}

/**
 * Adds the `vm` command group to `program`. `client(cmd)` makes the admin client; `json()` tells whether `--json`
 * was given.
 */
export function addVmCommands(program: Command, client: (cmd: Command) => XmlRpcClient, json: () => boolean): void {
  const out = (value: unknown, text: () => string): void => void process.stdout.write(json() ? JSON.stringify(value, null, 2) + '\n' : text());

  /** Prints the ticket, or waits for the action and prints the outcome. @throws Error with the reason when it FAILED. */
  async function finish(c: XmlRpcClient, ticket: Ticket, wait: boolean | undefined): Promise<void> {
    if (!wait) return out(ticket, () => `${ticket.type} of ${ticket.name} (${ticket.vm}) on ${ticket.server} queued: action ${ticket.actionId}\n`);
    const a = await waitFor(c, ticket);
    if (a.status === 'FAILED') throw new Error(`${ticket.type} ${ticket.name} FAILED: ${a.description}`);
    if (ticket.type === 'delete') return out({ ...ticket, status: a.status }, () => `${ticket.name} deleted\n`);
    const vm = await c.call<Record<string, unknown>>('vm.show', [{ vm: ticket.vm }]);
    out({ ...ticket, status: a.status, vm }, () => formatRecords([vm], ['name', 'uuid', 'state', 'server', 'ip']));
  }

  const vm = program.command('vm').description('VMs: create, lifecycle verbs, show, list, console log, expiry');
  vm.command('create <name>')
    .description("create a VM in your admin project (the same durable create action as OCF); it is created stopped: start it with 'vm start'")
    .requiredOption('--template <name>', 'template (hd-origin-path)')
    .option('--host <server>', 'the server to create it on (default: placed by the manager, placement.policy)')
    .option('--memory <size>', 'boot memory, e.g. 512M, 2G', '512M')
    .option('--max-memory <size>', 'memory the guest may grow to while it runs')
    .option('--vcpus <n>', 'virtual CPUs', '1')
    .option('--disk <size>', "system disk size (grown from the template's, thin; never smaller than the template)")
    .option('--data-disk <size>', 'an extra empty disk, vdb, vdc, … (repeatable)', collect, [])
    .option('--ssh-key <file>', 'OpenSSH public key file for the guest (repeatable)', collect, [])
    .option('--guest-user <name>', "guest user that gets the keys (repeatable; default: the image's user). Not --user: that is vtctl's admin login", collect, [])
    .option('--ip <address>', 'management address to reserve (in a range the host subscribes to)')
    .option('--bridge <name>', "host bridge to attach a NIC to (repeatable; default: every bridge of the host)", collect, [])
    .option('--wait', 'wait until the create has finished, showing its progress')
    .action(async function (this: Command, name: string, o: { template: string; host?: string; memory: string; maxMemory?: string; vcpus: string; disk?: string; dataDisk: string[]; sshKey: string[]; guestUser: string[]; ip?: string; bridge: string[]; wait?: boolean }) {
      if (!/^[0-9]+$/.test(o.vcpus)) throw new Error(`--vcpus: ${JSON.stringify(o.vcpus)} is not a whole number`);
      const request = {
        name, template: o.template, ...(o.host ? { host: o.host } : {}), memoryMiB: parseSizeMiB(o.memory, '--memory'), vcpus: Number(o.vcpus),
        ...(o.disk ? { diskMiB: parseSizeMiB(o.disk, '--disk') } : {}), ...(o.maxMemory ? { maxMemoryMiB: parseSizeMiB(o.maxMemory, '--max-memory') } : {}),
        dataDisksMiB: o.dataDisk.map((d) => parseSizeMiB(d, '--data-disk')), sshKeys: o.sshKey.flatMap(readKeys), users: o.guestUser,
        ...(o.ip ? { ip: o.ip } : {}), bridges: o.bridge,
      };
      const c = client(this);
      await finish(c, await c.call<Ticket>('vm.create', [request]), o.wait);
    });

  for (const [verb, type, help] of [
    ['start', 'start', 'start the VM'],
    ['stop', 'stop', 'shut the VM down (ACPI; forced after the grace time)'],
    ['hard-stop', 'hardStop', 'power the VM off at once'],
    ['reboot', 'reboot', 'reboot the VM'],
  ] as const) {
    vm.command(`${verb} <vm>`)
      .description(`${help} (name or uuid)`)
      .option('--wait', 'wait until the action has finished, showing its progress')
      .action(async function (this: Command, ref: string, o: { wait?: boolean }) {
        const c = client(this);
        await finish(c, await c.call<Ticket>('vm.action', [{ vm: ref, type }]), o.wait);
      });
  }
  vm.command('delete <vm>')
    .description('delete the VM (name or uuid): its domain, files and addresses')
    .option('--keep-disks', "keep its disk images on the host (moved to the storage root's kept-disks/)")
    .option('--wait', 'wait until the delete has finished, showing its progress')
    .action(async function (this: Command, ref: string, o: { keepDisks?: boolean; wait?: boolean }) {
      const c = client(this);
      await finish(c, await c.call<Ticket>('vm.action', [{ vm: ref, type: 'delete', ...(o.keepDisks ? { keepDisks: true } : {}) }]), o.wait);
    });

  vm.command('show <vm>')
    .description('one VM (name or uuid): its settings, NICs and last actions')
    .action(async function (this: Command, ref: string) {
      const v = await client(this).call<Record<string, unknown> & { interfaces: Array<Record<string, unknown>>; actions: Array<Record<string, unknown>> }>('vm.show', [{ vm: ref }]);
      out(v, () => {
        const fields = ['name', 'uuid', 'state', 'stateNote', 'server', 'projectId', 'projectName', 'sliceId', 'template', 'memoryMb', 'maxMemoryMiB', 'vcpus', 'diskMiB', 'dataDisksMiB', 'expiresAt', 'created'];
        const width = Math.max(...fields.map((f) => f.length));
        const head = fields.map((f) => `${f.padEnd(width)}  ${Array.isArray(v[f]) ? (v[f] as unknown[]).join(',') : String(v[f] ?? '')}`.trimEnd()).join('\n');
        return `${head}\n\n${formatRecords(v.interfaces, ['name', 'bridge', 'mac', 'ip'])}\n${formatRecords(v.actions, ['id', 'type', 'status', 'updated', 'description'])}`;
      });
    });

  vm.command('list')
    .description('VMs with their state, server, address and project')
    .option('--project <uuid>', 'only this project')
    .action(async function (this: Command, o: { project?: string }) {
      const rows = await client(this).call<Array<Record<string, unknown>>>('vm.list', [{ ...(o.project ? { project: o.project } : {}) }]);
      out(rows, () => formatRecords(rows, ['name', 'uuid', 'state', 'server', 'ip', { key: 'memoryMb', header: 'MEMORY(MIB)' }, 'vcpus', 'projectId']));
    });

  vm.command('console-log <vm>')
    .description("the VM's serial console log, read through its host's agent")
    .option('--follow', 'keep printing what the guest writes (Ctrl-C to stop)')
    .option('--offset <bytes>', 'start at this byte', '0')
    .action(async function (this: Command, ref: string, o: { follow?: boolean; offset: string }) {
      if (!/^[0-9]+$/.test(o.offset)) throw new Error('--offset must be a whole number of bytes');
      const c = client(this);
      let offset = Number(o.offset);
      for (;;) {
        const r = await c.call<{ data: string; nextOffset: number; size: number }>('vm.consoleLog', [{ vm: ref, offset }]);
        if (r.size < offset) offset = 0; // the log was started again (a new boot truncates it)
        else {
          const bytes = Buffer.from(r.data, 'base64');
          if (bytes.length) process.stdout.write(bytes);
          offset = r.nextOffset;
        }
        if (offset < r.size) continue;
        if (!o.follow) return;
        await sleep(1000);
      }
    });

  vm.command('expire <uuid>')
    .description('set when the manager deletes the VM (a normal delete action; the client is told)')
    .option('--at <time>', 'ISO 8601 time, e.g. 2026-12-31T23:00:00Z')
    .option('--never', 'clear the expiry')
    .action(async function (this: Command, uuid: string, o: { at?: string; never?: boolean }) {
      if (!o.at === !o.never) throw new Error('give exactly one of --at <time> or --never');
      out(await client(this).call('vm.setExpiry', [{ uuid, expiresAt: o.never ? '' : (o.at ?? '') }]), () => 'true\n');
    });
}
