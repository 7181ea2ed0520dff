#!/usr/bin/env node
/**
 * vtctl: the admin CLI. Certificate commands work on local files; every other command calls the manager's
 * admin RPC (`/xmlrpc/admin`) with HTTP Basic credentials. `--json` prints machine-readable output.
 *
 * Connection settings come from options or the environment: `KVMCRM_ADMIN_URL` (default
 * https://127.0.0.1:8445/xmlrpc/admin), `KVMCRM_ADMIN_USER`, `KVMCRM_ADMIN_PASSWORD`, `KVMCRM_CA_FILE`.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describeError, hashPassword, XmlRpcClient } from '@kvm-crm/shared';
import { addCallbackCommands } from './cli/callback-commands.js';
import { certsCommand } from './cli/certs-command.js';
import { formatRecords } from './cli/table.js';
import { addQuotaCommands } from './cli/quota-command.js';
import { registerHostCommands } from './cli/host-commands.js';
import { addKeptDisksCommands } from './cli/kept-disks-commands.js';
import { addBackupCommands } from './cli/backup-commands.js';
import { addVmCommands } from './cli/vm-commands.js';
import { addVmConsoleCommand } from './cli/vm-console-command.js';
import { addMigrationCommands } from './cli/migration-commands.js';
import { addInventoryCommands } from './cli/inventory-commands.js';
import { addGeniTrustCommands } from './cli/geni-trust-commands.js';
import { addGeniSliverCommands } from './cli/geni-sliver-commands.js';
import { addManifestCommands } from './cli/manifest-commands.js';

const program = new Command('vtctl').description('kvm-crm admin CLI').option('--json', 'print JSON');
const collect = (v: string, acc: string[]) => [...acc, v];

function print(value: unknown): void {
  if (program.opts().json) {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  if (Array.isArray(value)) {
    // Lists as aligned tables (like `virsh list`), one column per field in order of first appearance; --json for scripts.
    const rows = value.map((r) => (r !== null && typeof r === 'object' ? (r as Record<string, unknown>) : { value: r }));
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    process.stdout.write(formatRecords(rows, columns));
    return;
  }
  process.stdout.write((typeof value === 'object' ? JSON.stringify(value) : String(value)) + '\n');
}

function readSecret(file: string | undefined, envName: string, what: string): string {
  if (file) return readFileSync(file, 'utf8').trim();
  const v = process.env[envName];
  if (!v) throw new Error(`${what}: give a file option or set ${envName}`);
  return v;
}

/**
 * The `expiresAt` argument of an `expire` command: the `--at` time, or `""` (clear) with `--never`.
 * @throws Error unless exactly one of them is given.
 */
function expiryArgument(o: { at?: string; never?: boolean }): string {
  if (!o.at === !o.never) throw new Error('give exactly one of --at <time> or --never');
  return o.never ? '' : (o.at ?? '');
}

/** Largest admin answer read (listings of VMs, actions, callbacks): 64 MiB. */
const ADMIN_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

function adminClient(cmd: Command, timeoutSeconds?: number): XmlRpcClient {
  const o = cmd.optsWithGlobals<{ url?: string; user?: string; passwordFile?: string; ca?: string }>();
  const url = new URL(o.url ?? process.env.KVMCRM_ADMIN_URL ?? 'https://127.0.0.1:8445/xmlrpc/admin');
  url.username = encodeURIComponent(o.user ?? process.env.KVMCRM_ADMIN_USER ?? 'admin');
  url.password = encodeURIComponent(readSecret(o.passwordFile, 'KVMCRM_ADMIN_PASSWORD', 'admin password'));
  const caFile = o.ca ?? process.env.KVMCRM_CA_FILE ?? 'certs/ca.crt';
  return new XmlRpcClient({ url: url.toString(), tls: { ca: readFileSync(caFile, 'utf8') }, maxResponseBytes: ADMIN_MAX_RESPONSE_BYTES, ...(timeoutSeconds ? { timeoutSeconds } : {}) });
}

program
  .option('--url <url>', 'admin RPC URL')
  .option('--user <name>', 'admin user')
  .option('--password-file <file>', 'file holding the admin password')
  .option('--ca <file>', 'CA certificate that signed the manager');

program.addCommand(certsCommand(print));

program
  .command('hash-password')
  .description('read a password on stdin and print its scrypt hash for the manager config `users`')
  .action(() => {
    const pw = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    if (!pw) throw new Error('empty password on stdin');
    print(hashPassword(pw));
  });

const user = program.command('user').description('northbound principals (HTTP Basic users, certificate logins)');
user
  .command('add <name>')
  .description('add a principal; its password is read from --user-password-file or stdin (none with --certificate-only)')
  .requiredOption('--role <role>', 'clearinghouse, admin, viewer or metrics (repeatable)', collect, [])
  .option('--user-password-file <file>', "file holding the new user's password")
  .option('--certificate-only', 'no password: the principal logs in with a client certificate (CN = name)')
  .action(async function (this: Command, name: string, o: { role: string[]; userPasswordFile?: string; certificateOnly?: boolean }) {
    const password = o.certificateOnly ? undefined : (o.userPasswordFile ? readFileSync(o.userPasswordFile, 'utf8') : readFileSync(0, 'utf8')).replace(/\r?\n$/, '');
    print(await adminClient(this).call('user.add', [{ name, roles: o.role, ...(password !== undefined ? { password } : {}) }]));
  });
user.command('remove <name>').action(async function (this: Command, name: string) {
  print(await adminClient(this).call('user.remove', [{ name }]));
});
user.command('list').action(async function (this: Command) {
  print(await adminClient(this).call('user.list', []));
});
addQuotaCommands(user, adminClient, print);
addCallbackCommands(program, user, adminClient, () => program.opts().json === true);

const server = program.command('server').description('KVM hosts');
server
  .command('add <name>')
  .description('register a KVM host and its bridges (the first --bridge is the management bridge)')
  .requiredOption('--agent-url <url>', 'agent URL, https://host:9229/')
  .option('--agent-password-file <file>', 'file holding the OCF agent password (or $KVMCRM_AGENT_PASSWORD)')
  .requiredOption('--bridge <name>', 'host bridge (repeatable)', collect, [])
  .option('--uuid <uuid>', 'server UUID (default: random)')
  .option('--legacy', 'a legacy OCF agent on plain http')
  .action(async function (this: Command, name: string, o: { agentUrl: string; agentPasswordFile?: string; bridge: string[]; uuid?: string; legacy?: boolean }) {
    const agentPassword = readSecret(o.agentPasswordFile, 'KVMCRM_AGENT_PASSWORD', 'agent password');
    print(await adminClient(this).call('server.register', [{ name, agentUrl: o.agentUrl, agentPassword, bridges: o.bridge, legacy: o.legacy ?? false, ...(o.uuid ? { uuid: o.uuid } : {}) }]));
  });
server.command('list').action(async function (this: Command) {
  print(await adminClient(this).call('server.list', []));
});

const range = program.command('range').description('IPv4 and MAC pools');
range
  .command('add-ipv4 <name>')
  .requiredOption('--start <ip>')
  .requiredOption('--end <ip>')
  .requiredOption('--netmask <mask>')
  .option('--gateway <ip>')
  .option('--dns <ip>', 'DNS server (repeatable, at most 2)', collect, [])
  .option('--exclude <ip>', 'address never handed out (repeatable)', collect, [])
  .action(async function (this: Command, name: string, o: { start: string; end: string; netmask: string; gateway?: string; dns: string[]; exclude: string[] }) {
    print(await adminClient(this).call('ipv4.addRange', [{ name, start: o.start, end: o.end, netmask: o.netmask, gateway: o.gateway ?? '', dns1: o.dns[0] ?? '', dns2: o.dns[1] ?? '', excluded: o.exclude }]));
  });
range
  .command('add-mac <name>')
  .requiredOption('--start <mac>')
  .requiredOption('--end <mac>')
  .option('--exclude <mac>', 'address never handed out (repeatable)', collect, [])
  .action(async function (this: Command, name: string, o: { start: string; end: string; exclude: string[] }) {
    print(await adminClient(this).call('mac.addRange', [{ name, start: o.start, end: o.end, excluded: o.exclude }]));
  });
range
  .command('subscribe <server>')
  .description('let a server draw addresses from a range')
  .option('--ipv4 <range>')
  .option('--mac <range>')
  .option('--priority <n>', 'lower first', '0')
  .action(async function (this: Command, serverName: string, o: { ipv4?: string; mac?: string; priority: string }) {
    const client = adminClient(this);
    if (!o.ipv4 && !o.mac) throw new Error('give --ipv4 and/or --mac');
    if (o.ipv4) await client.call('range.subscribe', [{ server: serverName, kind: 'ipv4', range: o.ipv4, priority: Number(o.priority) }]);
    if (o.mac) await client.call('range.subscribe', [{ server: serverName, kind: 'mac', range: o.mac, priority: Number(o.priority) }]);
    print('subscribed');
  });
range.command('list').action(async function (this: Command) {
  print(await adminClient(this).call('range.list', []));
});

addVmCommands(program, adminClient, () => program.opts().json === true);
addVmConsoleCommand(program, () => program.opts().json === true);
addInventoryCommands(server, range, adminClient, () => program.opts().json === true);
const sliceCommand = program.command('slice').description('slices: expiry');
sliceCommand
  .command('list')
  .description('the slice expiries (who set them, when)')
  .action(async function (this: Command) {
    print(await adminClient(this).call('slice.list', []));
  });
sliceCommand
  .command('expire <sliceId>')
  .description('set when the manager deletes every VM of the slice (normal delete actions; clients are told) and refuses creates in it')
  .option('--at <time>', 'ISO 8601 time, e.g. 2026-12-31T23:00:00Z')
  .option('--never', 'clear the expiry')
  .option('--why <reason>', 'why (logged with who and when)')
  .action(async function (this: Command, sliceId: string, o: { at?: string; never?: boolean; why?: string }) {
    print(await adminClient(this).call('slice.setExpiry', [{ sliceId, expiresAt: expiryArgument(o), ...(o.why ? { why: o.why } : {}) }]));
  });
const action = program.command('action').description('actions: list, show with history, and the operator verbs retry, fail, succeed (audited)');
action
  .command('list')
  .option('--status <status>', 'QUEUED, ONGOING, SUCCESS or FAILED')
  .option('--vm <uuid>')
  .option('--type <type>', 'create, start, stop, hardStop, reboot, delete or modify')
  .action(async function (this: Command, o: { status?: string; vm?: string; type?: string }) {
    print(await adminClient(this).call('action.list', [{ ...(o.status ? { status: o.status } : {}), ...(o.vm ? { vm: o.vm } : {}), ...(o.type ? { type: o.type } : {}) }]));
  });
action
  .command('show <id>')
  .description('one action with its history (who, when, why)')
  .action(async function (this: Command, id: string) {
    print(await adminClient(this).call('action.show', [{ id }]));
  });
for (const [verb, help] of [
  ['retry', 'send a stuck (QUEUED/ONGOING) action to its agent again, with a new deadline'],
  ['fail', 'fail a stuck action: the VM effects of a failure are applied and the client is told'],
  ['succeed', 'mark a stuck action successful: the VM effects of a success are applied and the client is told'],
] as const) {
  action
    .command(`${verb} <id>`)
    .description(help)
    .requiredOption('--why <reason>', 'why (kept in the action history as the audit record)')
    .action(async function (this: Command, id: string, o: { why: string }) {
      print(await adminClient(this).call(`action.${verb}`, [{ id, why: o.why }]));
    });
}

registerHostCommands(program, { adminClient, print });
addKeptDisksCommands(program, { adminClient, print });
const geni = program.command('geni').description('GENI AM API v3 (/xmlrpc/geni/3/)');
addGeniTrustCommands(geni, adminClient, () => program.opts().json === true);
addGeniSliverCommands(geni, adminClient, () => program.opts().json === true);
addManifestCommands(program, { adminClient, json: () => program.opts().json === true });
addBackupCommands(program, { adminClient, json: () => program.opts().json === true });
addMigrationCommands(program, { adminClient, json: () => program.opts().json === true });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`vtctl: ${describeError(err)}\n`);
  process.exit(1);
});
