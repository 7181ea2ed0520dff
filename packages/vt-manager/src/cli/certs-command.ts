/**
 * `vtctl certs …`: the kvm-crm CA and component certificates, as local files in `--dir` (default `certs`), through
 * {@link CertificateStore}. Every certificate carries its component role in the subject OU; agents' CN is the
 * server name registered in the manager. Daemons watch their TLS files: `rotate`, `revoke` and `crl` take effect
 * on running daemons within their `tls.reloadIntervalSeconds` (or at once with SIGHUP).
 */
import { Command, Option } from 'commander';
import {
  CERTIFICATE_ROLES,
  CertificateStore,
  InputError,
  REVOCATION_REASONS,
  type CertificateRole,
  type CertificateUsage,
  type RevocationReason,
  type StoredCertificate,
} from '@kvm-crm/shared';

const collect = (v: string, acc: string[]) => [...acc, v];
const days = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`not a number of days: ${JSON.stringify(v)}`);
  return n;
};

/** A certificate as `certs list` shows it. */
function row(c: StoredCertificate): Record<string, unknown> {
  return {
    name: c.name, role: c.role ?? '', commonName: c.commonName, sans: [...c.dnsNames.map((d) => `DNS:${d}`), ...c.ipAddresses.map((i) => `IP:${i}`)],
    serial: c.serial, notAfter: c.notAfter, revoked: c.revoked ? `${c.revoked.at} (${c.revoked.reason})` : false, current: c.current,
  };
}

/**
 * Builds the `certs` command. `print` writes a value (JSON with the global `--json`, else text).
 * Errors are the store's (InputError, NotFoundError, ConflictError) and reach vtctl's error printer.
 */
export function certsCommand(print: (value: unknown) => void): Command {
  const certs = new Command('certs').description('manage the kvm-crm CA, component certificates and the CRL (local files)');
  const dirOption = () => new Option('--dir <dir>', 'certificate folder').default('certs');

  certs
    .command('init')
    .description('create the CA and CRL (unless present), the manager certificate (role manager) and agent certificates (role agent, CN = server name)')
    .addOption(dirOption())
    .option('--manager-dns <name>', 'manager DNS name (repeatable; the first is the CN). Default localhost', collect, [])
    .option('--manager-ip <ip>', 'manager IP (repeatable). Default 127.0.0.1', collect, [])
    .option('--agent <name[=ip[,ip]]>', 'registered server name of an agent host, and its IPs (repeatable); written as agent-<name>', collect, [])
    .option('--crl-days <n>', 'days each CRL is valid (default 365)', days)
    .action((o: { dir: string; managerDns: string[]; managerIp: string[]; agent: string[]; crlDays?: number }) => {
      const store = new CertificateStore(o.dir);
      const { created } = store.initCa(o.crlDays ? { crlValidityDays: o.crlDays } : {});
      const [commonName = 'localhost', ...moreDns] = o.managerDns;
      const dns = [commonName, ...moreDns];
      const ips = o.managerIp.length ? o.managerIp : ['127.0.0.1'];
      const issued = [store.issue('manager', { role: 'manager', commonName, dnsNames: dns, ipAddresses: ips, replace: true })];
      for (const spec of o.agent) {
        const [name, ipList] = spec.split('=', 2) as [string, string | undefined];
        issued.push(store.issue(`agent-${name}`, { role: 'agent', commonName: name, dnsNames: [name], ipAddresses: ipList ? ipList.split(',').filter(Boolean) : [], replace: true }));
      }
      print({ ca: store.caFile, caCreated: created, crl: store.crlFile, issued: issued.map(row) });
    });

  certs
    .command('issue <name>')
    .description('issue one certificate signed by the CA in --dir, written as <name>.crt and <name>.key (0600)')
    .addOption(dirOption())
    .addOption(new Option('--role <role>', 'component role (subject OU)').choices([...CERTIFICATE_ROLES]).makeOptionMandatory())
    .option('--cn <name>', 'subject CN (default <name>; for an agent: its registered server name)')
    .option('--dns <name>', 'DNS SAN (repeatable; default the CN)', collect, [])
    .option('--ip <ip>', 'IP SAN (repeatable)', collect, [])
    .addOption(new Option('--usage <usage>', 'extended key usage (default by role)').choices(['server', 'client', 'server+client']))
    .option('--days <n>', 'validity in days (default 825)', days)
    .option('--replace', 'replace an existing certificate of that name (the old one stays valid unless revoked)')
    .action((name: string, o: { dir: string; role: CertificateRole; cn?: string; dns: string[]; ip: string[]; usage?: CertificateUsage; days?: number; replace?: boolean }) => {
      const store = new CertificateStore(o.dir);
      const issued = store.issue(name, {
        role: o.role, ...(o.cn ? { commonName: o.cn } : {}), dnsNames: o.dns, ipAddresses: o.ip,
        ...(o.usage ? { usage: o.usage } : {}), ...(o.days ? { validityDays: o.days } : {}), replace: Boolean(o.replace),
      });
      print(row(issued));
    });

  certs
    .command('list')
    .description('certificates issued from the CA in --dir: name, role, CN, SANs, serial, not-after, revoked')
    .addOption(dirOption())
    .option('--all', 'also the rotated (no longer current) certificates')
    .action((o: { dir: string; all?: boolean }) => {
      print(new CertificateStore(o.dir).list({ all: Boolean(o.all) }).map(row));
    });

  certs
    .command('revoke <name-or-serial>')
    .description('revoke a certificate (the current one of that name, or that serial) and re-sign crl.pem; daemons refuse it once they reload the CRL')
    .addOption(dirOption())
    .addOption(new Option('--reason <reason>', 'CRL reason').choices(Object.keys(REVOCATION_REASONS)).default('unspecified'))
    .action((nameOrSerial: string, o: { dir: string; reason: RevocationReason }) => {
      print(row(new CertificateStore(o.dir).revoke(nameOrSerial, o.reason)));
    });

  certs
    .command('rotate <name>')
    .description('new key and certificate for <name> (same role, CN, SANs), written atomically; running daemons switch to it without downtime')
    .addOption(dirOption())
    .option('--days <n>', 'validity in days (default 825)', days)
    .option('--revoke-old', 'also revoke the previous certificate (reason superseded)')
    .action((name: string, o: { dir: string; days?: number; revokeOld?: boolean }) => {
      const r = new CertificateStore(o.dir).rotate(name, { ...(o.days ? { validityDays: o.days } : {}), revokeOld: Boolean(o.revokeOld) });
      print({ previous: row(r.previous), current: row(r.current) });
    });

  certs
    .command('crl')
    .description('re-sign crl.pem now (do it before its nextUpdate: an expired CRL makes the daemons refuse every peer)')
    .addOption(dirOption())
    .option('--days <n>', 'days the CRL is valid (kept for later CRLs)', days)
    .action((o: { dir: string; days?: number }) => {
      print(new CertificateStore(o.dir).refreshCrl(o.days));
    });

  return certs;
}
