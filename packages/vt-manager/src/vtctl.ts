#!/usr/bin/env node
/**
 * vtctl: the admin CLI. Certificate commands work on local files; every other command calls the manager's
 * admin RPC (`/xmlrpc/admin`) with HTTP Basic credentials. `--json` prints machine-readable output.
 *
 * Connection settings come from options or the environment: `KVMCRM_ADMIN_URL` (default
 * https://127.0.0.1:8445/xmlrpc/admin), `KVMCRM_ADMIN_USER`, `KVMCRM_ADMIN_PASSWORD`, `KVMCRM_CA_FILE`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import {
  createCertificateAuthority,
  describeError,
  hashPassword,
  issueCertificate,
  writePemPair,
  XmlRpcClient,
  type CertificateUsage,
} from '@kvm-crm/shared';

const program = new Command('vtctl').description('kvm-crm admin CLI').option('--json', 'print JSON');
const collect = (v: string, acc: string[]) => [...acc, v];

function print(value: unknown): void {
  if (program.opts().json) {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return void process.stdout.write('(none)\n');
    for (const row of value) process.stdout.write(Object.entries(row as object).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('  ') + '\n');
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

function adminClient(cmd: Command): XmlRpcClient {
  const o = cmd.optsWithGlobals<{ url?: string; user?: string; passwordFile?: string; ca?: string }>();
  const url = new URL(o.url ?? process.env.KVMCRM_ADMIN_URL ?? 'https://127.0.0.1:8445/xmlrpc/admin');
  url.username = encodeURIComponent(o.user ?? process.env.KVMCRM_ADMIN_USER ?? 'admin');
  url.password = encodeURIComponent(readSecret(o.passwordFile, 'KVMCRM_ADMIN_PASSWORD', 'admin password'));
  const caFile = o.ca ?? process.env.KVMCRM_CA_FILE ?? 'certs/ca.crt';
  return new XmlRpcClient({ url: url.toString(), tls: { ca: readFileSync(caFile, 'utf8') } });
}

program
  .option('--url <url>', 'admin RPC URL')
  .option('--user <name>', 'admin user')
  .option('--password-file <file>', 'file holding the admin password')
  .option('--ca <file>', 'CA certificate that signed the manager');

const certs = program.command('certs').description('manage the kvm-crm CA and component certificates (local files)');
certs
  .command('init')
  .description('create the CA (unless present) and certificates for the manager and the named agents')
  .option('--dir <dir>', 'certificate folder', 'certs')
  .option('--manager-dns <name>', 'manager DNS name (repeatable)', collect, [])
  .option('--manager-ip <ip>', 'manager IP (repeatable)', collect, [])
  .option('--agent <name[=ip]>', 'agent host name and optional IP (repeatable)', collect, [])
  .action((o: { dir: string; managerDns: string[]; managerIp: string[]; agent: string[] }) => {
    const caCrt = path.join(o.dir, 'ca.crt');
    const caKey = path.join(o.dir, 'ca.key');
    let ca;
    if (existsSync(caCrt) && existsSync(caKey)) ca = { certPem: readFileSync(caCrt, 'utf8'), keyPem: readFileSync(caKey, 'utf8') };
    else writePemPair(o.dir, 'ca', (ca = createCertificateAuthority()));
    const dns = o.managerDns.length ? o.managerDns : ['localhost'];
    const ips = o.managerIp.length ? o.managerIp : ['127.0.0.1'];
    const written = [caCrt, writePemPair(o.dir, 'manager', issueCertificate(ca, { commonName: dns[0]!, dnsNames: dns, ipAddresses: ips, usage: 'server+client' })).certFile];
    for (const spec of o.agent) {
      const [name, ip] = spec.split('=');
      const pair = issueCertificate(ca, { commonName: name!, dnsNames: [name!], ipAddresses: ip ? [ip] : [], usage: 'server+client' });
      written.push(writePemPair(o.dir, `agent-${name}`, pair).certFile);
    }
    print(program.opts().json ? { written } : written.join('\n'));
  });
certs
  .command('issue <name>')
  .description('issue one certificate signed by the CA in --dir, written as <name>.crt/.key')
  .option('--dir <dir>', 'certificate folder', 'certs')
  .option('--dns <name>', 'DNS SAN (repeatable)', collect, [])
  .option('--ip <ip>', 'IP SAN (repeatable)', collect, [])
  .option('--usage <usage>', 'server, client or server+client', 'server+client')
  .action((name: string, o: { dir: string; dns: string[]; ip: string[]; usage: CertificateUsage }) => {
    const ca = { certPem: readFileSync(path.join(o.dir, 'ca.crt'), 'utf8'), keyPem: readFileSync(path.join(o.dir, 'ca.key'), 'utf8') };
    const pair = issueCertificate(ca, { commonName: o.dns[0] ?? name, dnsNames: o.dns.length ? o.dns : [name], ipAddresses: o.ip, usage: o.usage });
    print(writePemPair(o.dir, name, pair).certFile);
  });

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
  .requiredOption('--role <role>', 'clearinghouse or admin (repeatable)', collect, [])
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

program
  .command('vm')
  .description('VMs')
  .command('list')
  .option('--project <uuid>')
  .action(async function (this: Command, o: { project?: string }) {
    print(await adminClient(this).call('vm.list', [{ ...(o.project ? { project: o.project } : {}) }]));
  });
program
  .command('action')
  .description('actions')
  .command('list')
  .option('--status <status>', 'QUEUED, ONGOING, SUCCESS or FAILED')
  .option('--vm <uuid>')
  .action(async function (this: Command, o: { status?: string; vm?: string }) {
    print(await adminClient(this).call('action.list', [{ ...(o.status ? { status: o.status } : {}), ...(o.vm ? { vm: o.vm } : {}) }]));
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`vtctl: ${describeError(err)}\n`);
  process.exit(1);
});
