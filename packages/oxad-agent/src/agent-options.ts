/**
 * oxad-agent configuration: a JSON file validated at start (defaults are given where each option is declared).
 */
import { loadConfigFile, resolveFromConfig, z } from '@kvm-crm/shared/config';
import type { ConfigReferenceSection } from '@kvm-crm/shared/config-reference';
import { metricsOptionsSchema } from '@kvm-crm/shared/metrics';
import { tlsOptionsSchema } from '@kvm-crm/shared/tls';
import { parsePeerUrl, httpServerOptionsSchema, DEFAULT_HTTP_SERVER_OPTIONS } from '@kvm-crm/shared/xmlrpc';

/** True when `s` is an http(s) URL that {@link parsePeerUrl} accepts (credentials allowed). */
function isPeerUrl(s: string): boolean {
  try {
    parsePeerUrl(s);
    return true;
  } catch {
    return false; // the refusal becomes zod's validation message for the option
  }
}

export const agentOptionsSchema = z.object({
  listen: z.object({ host: z.string().default('0.0.0.0'), port: z.number().int().min(0).max(65535).default(9229) }).default({ host: '0.0.0.0', port: 9229 })
    .describe('Where the agent listens. Default 0.0.0.0:9229 (the OCF agent port, docs/ocf-protocol.md §4.1).'),
  http: httpServerOptionsSchema.default({ ...DEFAULT_HTTP_SERVER_OPTIONS })
    .describe(
      'Connection limits of the HTTPS listener (docs/security.md "Input limits"): `keepAliveTimeoutSeconds` ' +
      '(default 75: idle kept connections are then closed cleanly), `headersTimeoutSeconds` (10), ' +
      '`requestTimeoutSeconds` (60), `handshakeTimeoutSeconds` (10), `maxConnections` (512). Declared in ' +
      '@kvm-crm/shared\'s `httpServerOptionsSchema`.',
    ),
  tls: tlsOptionsSchema
    .describe(
      'The agent\'s certificate (role `agent`, CN = the server name registered in the manager) and key, the CA that ' +
      'signs the manager\'s certificate, and the CA\'s CRL (`crlFile`). The files are watched ' +
      '(`reloadIntervalSeconds`, default 5) and reloaded on SIGHUP: a rotated certificate or a new CRL applies ' +
      'without a restart.',
    ),
  requireClientCertificate: z.boolean().default(true)
    .describe(
      'Accept calls only from a client presenting a certificate of role `manager` signed by our CA, not revoked ' +
      '(mutual TLS); others get HTTP 403 with the reason. Default true. `false` lets anyone who can reach the port ' +
      'call (the OCF password still guards the authenticated methods) and logs a warning at start.',
    ),
  password: z.string().min(8).max(128).describe('OCF shared agent password, checked on every authenticated call (docs/ocf-protocol.md §4.2).'),
  storageRoot: z.string().default('/var/lib/kvm-crm')
    .describe(
      'Storage root: `templates/<name>/` (catalogue) and `vms/<vm uuid>/` (disks, seeds, serial logs). Default ' +
      '/var/lib/kvm-crm.',
    ),
  libvirtUri: z.string().default('qemu:///system').describe('libvirt connection URI. Default `qemu:///system`.'),
  libvirtConnection: z
    .object({
      persistent: z.boolean().default(true)
        .describe('Hold libvirt connections open in a python3-libvirt helper (true) or run `virsh` for every call (false). Default true.'),
      python: z.string().regex(/^\/[A-Za-z0-9._/-]{1,255}$/, 'must be an absolute path').default('/usr/bin/python3')
        .describe('The Python that has the `libvirt` module and runs the helper. Default `/usr/bin/python3`.'),
    })
    .prefault({})
    .describe(
      'How the agent talks to libvirt (decision record 041). `persistent` true (default): connections held open ' +
      'by one helper process (`libexec/libvirt-session.py`, run by `python`, default `/usr/bin/python3`, which needs ' +
      'Debian\'s python3-libvirt; 16 worker threads, each with its own connection) carries domain state, define, start, stop, undefine, autostart and listing calls; ' +
      'the agent does not start when it cannot open it. `false`: every call runs `virsh` (~45 ms more per call).',
    ),
  domainPrefix: z.string().regex(/^[A-Za-z][A-Za-z0-9._-]{0,23}$/).default('kvmcrm-')
    .describe('Prefix of every libvirt domain name this agent creates (`<prefix><vm uuid>`). Default `kvmcrm-`.'),
  hypervisor: z.enum(['auto', 'kvm', 'qemu']).default('auto')
    .describe('`auto` probes whether KVM really runs a guest; `kvm` or `qemu` force the domain type. Default `auto`.'),
  vcpus: z.number().int().min(1).max(64).default(1).describe('vCPUs per guest (OCF has no field for it). Default 1.'),
  maxConcurrentActions: z.number().int().min(1).max(64).default(4)
    .describe('Actions run at once on this host (each VM\'s actions always run one at a time). Default 4.'),
  commandTimeouts: z
    .object({
      virshSeconds: z.number().int().min(5).max(3600).default(30).describe('virsh queries and quick changes. Default 30.'),
      virshStartStopSeconds: z.number().int().min(5).max(3600).default(300).describe('`virsh start`, `virsh destroy`, `virsh autostart`. Default 300.'),
      qemuImgSeconds: z.number().int().min(5).max(3600).default(120).describe('qemu-img create, info, resize, snapshot. Default 120.'),
      qemuImgConvertSeconds: z.number().int().min(60).max(86400).default(3600).describe('qemu-img convert (full copies). Default 3600.'),
      seedIsoSeconds: z.number().int().min(5).max(3600).default(60).describe('genisoimage and isoinfo (seed ISOs). Default 60.'),
    })
    .prefault({})
    .describe(
      'Seconds each external program may run before the agent kills it and the action fails (decision record 037): ' +
      '`virshSeconds` for virsh queries and quick changes (domstate, define, undefine, memory; default ' +
      '30), `virshStartStopSeconds` for `virsh start`, `virsh destroy` and `virsh autostart`, which wait for a QEMU ' +
      'process to start or end, or behind one (default 300: a guest under TCG on a busy host can take more than 30 s; a start that timed out while ' +
      'the domain does run is a SUCCESS saying so), `qemuImgSeconds` for qemu-img create/info/resize/snapshot ' +
      '(default 120), `qemuImgConvertSeconds` for full copies of a disk (clone `full`, flatten, backup; default ' +
      '3600), `seedIsoSeconds` for genisoimage/isoinfo (default 60).',
    ),
  stopGraceSeconds: z.number().int().min(0).max(3600).default(60)
    .describe('Seconds `stop` waits for an ACPI shutdown before it destroys the domain. Default 60.'),
  fallbackNetwork: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).default('default')
    .describe('libvirt network used for a NIC whose bridge does not exist on this host. Default `default`.'),
  eventsUrl: z.string().max(2048).refine(isPeerUrl, 'must be an http(s) URL, e.g. https://user:pass@manager:8445/xmlrpc/agent').optional()
    .describe(
      'Where libvirt lifecycle events of our domains are sent (docs/ocf-protocol.md §5.2, §6.8): the manager\'s ' +
      '`/xmlrpc/agent` URL with credentials, e.g. `https://user:pass@manager:8445/xmlrpc/agent`. Default: absent, ' +
      'and then no events are sent (no `virsh event` child runs); the manager still learns VM states from its ' +
      'periodic `listActiveVMs`.',
    ),
  backupRoots: z.array(z.string().min(2).max(1024).regex(/^\//, 'must be an absolute path')).max(16).default([])
    .describe(
      'Absolute folders under which `vtctl vm backup --to DIR` may write backups and from which restores read ' +
      '(decision record 026), e.g. `["/var/backups/kvm-crm", "/mnt/nfs-backups"]`; symlinks are resolved before the ' +
      'check. Default: none, and backups are refused. A restore on another host needs a root shared by both (NFS).',
    ),
  logFormat: z.enum(['json', 'pretty']).default('json').describe('Log format. Default `json`.'),
  console: z
    .object({
      maxSessions: z.number().int().min(1).max(1024).default(16),
      idleTimeoutSeconds: z.number().int().min(1).max(86400).default(1800),
      bytesPerSecond: z.number().int().min(1024).max(64 * 1024 * 1024).default(65536),
    })
    .prefault({})
    .describe(
      'Interactive serial consoles (`/console/<vm uuid>`, decision record 027): most sessions at once on this host ' +
      '(default 16; one per VM always), seconds without a byte either way before a session ends (default 1800), and ' +
      'most bytes a second each way (default 65536; more pauses the sender, nothing is dropped).',
    ),
  metrics: metricsOptionsSchema.describe('Prometheus `/metrics` and an optional separate plain-HTTP listener (decision record 028; see metricsOptionsSchema in @kvm-crm/shared).'),
});
export type AgentOptions = z.infer<typeof agentOptionsSchema>;

/**
 * Loads and validates the config file with the `KVMCRM_…` option variables of `env` laid over it (decision record
 * 030, docs/configuration.md); relative paths, from the file or the environment, are resolved against the file's
 * folder. @throws InputError naming the file and each bad key, or an unknown/unparseable variable.
 */
export function loadAgentOptions(file: string, env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const o = loadConfigFile(file, agentOptionsSchema, { env, program: 'oxad-agent' });
  const r = (p: string) => resolveFromConfig(file, p);
  o.tls = { ...o.tls, caFile: r(o.tls.caFile), certFile: r(o.tls.certFile), keyFile: r(o.tls.keyFile), ...(o.tls.crlFile ? { crlFile: r(o.tls.crlFile) } : {}) };
  o.storageRoot = r(o.storageRoot);
  o.backupRoots = o.backupRoots.map((b) => r(b));
  return o;
}

/** This daemon's section of the generated docs/configuration.md (scripts/src/config-docs.ts; checked by a unit test). */
export const agentConfigReference: ConfigReferenceSection = {
  id: 'oxad-agent',
  title: 'oxad-agent (agent.json)',
  configFile: '/etc/kvm-crm/agent.json',
  schema: agentOptionsSchema,
};
