/**
 * vt-manager configuration: a JSON file validated at start (defaults are given where each option is declared).
 */
import { loadConfigFile, resolveFromConfig, tlsOptionsSchema, z, httpServerOptionsSchema, DEFAULT_HTTP_SERVER_OPTIONS, type ConfigReferenceSection, metricsOptionsSchema } from '@kvm-crm/shared';
import { PRINCIPAL_ROLES } from './db/entities/principal.js';
import { dashboardSessionOptionsSchema } from './services/dashboard-sessions.js';
import { DEFAULT_LOGIN_THROTTLE, loginThrottleOptionsSchema } from './services/login-throttle.js';

/** The config file's schema; each option's default is declared with it. */
export const managerOptionsSchema = z.object({
  listen: z.object({ host: z.string().default('0.0.0.0'), port: z.number().int().min(0).max(65535).default(8445) }).default({ host: '0.0.0.0', port: 8445 })
    .describe('Where the manager listens. Default 0.0.0.0:8445 (the original VT AM port, docs/ocf-protocol.md §2.1).'),
  http: httpServerOptionsSchema.default({ ...DEFAULT_HTTP_SERVER_OPTIONS })
    .describe(
      'Connection limits of the HTTPS listener (docs/security.md "Input limits"): `keepAliveTimeoutSeconds` ' +
      '(default 75: idle kept connections are then closed cleanly), `headersTimeoutSeconds` (10), ' +
      '`requestTimeoutSeconds` (60), `handshakeTimeoutSeconds` (10), `maxConnections` (512). Declared in ' +
      '@kvm-crm/shared\'s `httpServerOptionsSchema`.',
    ),
  publicUrl: z.url()
    .describe(
      'Base URL at which agents reach this manager, e.g. `https://vtam.example:8445` (its host must be in our ' +
      'certificate).',
    ),
  tls: tlsOptionsSchema
    .describe(
      'The manager\'s certificate (role `manager`) and key, the CA that signs agents\' certificates, and the CA\'s ' +
      'CRL (`crlFile`, checked in both directions). The files are watched (`reloadIntervalSeconds`, default 5) and ' +
      'reloaded on SIGHUP: a rotated certificate or a new CRL applies without a restart.',
    ),
  database: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('sqlite'), path: z.string().min(1) }),
      z.object({ type: z.literal('mysql'), host: z.string(), port: z.number().int().optional(), username: z.string(), password: z.string(), database: z.string() }),
    ])
    .default({ type: 'sqlite', path: 'manager.sqlite' })
    .describe('Database. Default: SQLite file `manager.sqlite` next to the config file.'),
  users: z.array(z.object({ name: z.string().regex(/^[^:\s]{1,100}$/), passwordScrypt: z.string().startsWith('scrypt$'), roles: z.array(z.enum(PRINCIPAL_ROLES)).min(1) })).default([])
    .describe(
      'Northbound principals (HTTP Basic). Roles: `clearinghouse` (/xmlrpc/plugin), `admin` (/xmlrpc/admin), ' +
      '`viewer` (dashboard, read only), `metrics` (/metrics); see PRINCIPAL_ROLES.',
    ),
  login: loginThrottleOptionsSchema.default({ ...DEFAULT_LOGIN_THROTTLE })
    .describe(
      'Password logins (docs/security.md "Input limits", decision 016): `maxConcurrentChecks` (default 2 scrypt ' +
      'checks at once), `maxQueuedChecks` (64), `userFailures` (5 per source and user) and `sourceFailures` (20 per ' +
      'source) within `windowSeconds` (60) before a lock of `firstLockSeconds` (1) doubling up to `maxLockSeconds` ' +
      '(300), answered HTTP 429 with `Retry-After`; `maxTrackedKeys` (10000). Declared in ' +
      'services/login-throttle.ts.',
    ),
  agentCallback: z.object({ user: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), password: z.string().regex(/^[A-Za-z0-9._~-]{16,128}$/) })
    .describe('Credentials agents use on /xmlrpc/agent; they travel in the callback URL given to agents (§4.3).'),
  actionTimeoutSeconds: z.number().int().positive().default(600)
    .describe('Seconds an action may stay QUEUED/ONGOING before it is failed for silence. Default 600.'),
  actionLeaseSeconds: z.number().int().positive().default(60)
    .describe(
      'Seconds a manager has to hand a stored action to the agent before another manager (or itself after a ' +
      'restart) takes it over and sends it (several managers on one database). Default 60.',
    ),
  secretsKeyFile: z.string().optional()
    .describe(
      'Key file (32 random bytes, base64, mode 0600; created when missing) that encrypts secrets at rest: callback ' +
      'URLs with credentials and agent passwords. Default `secrets.key` next to the config file. Without one ' +
      '(options built in code), a random key per process is used and encrypted rows do not survive a restart.',
    ),
  maxActionsPerMessage: z.number().int().min(1).max(10_000).default(64)
    .describe(
      'Most `<action>`s one `send`/`send_sync` message may hold (docs/security.md "Input limits"); a message with ' +
      'more is refused whole with a fault, nothing stored. Default 64.',
    ),
  maxPendingStatusesPerPrincipal: z.number().int().min(1).default(1000)
    .describe(
      'Most status documents for one principal\'s actions that its callback has not yet accepted (the outbox ' +
      'backlog); past it, that principal\'s new `send`s are refused with a fault saying its callback backlog is ' +
      'full. Default 1000.',
    ),
  maxQueuedHandOvers: z.number().int().min(1).max(1_000_000).default(2000)
    .describe(
      'Most accepted actions waiting for their admission (send, decision 039) or hand-over to the agent (the ' +
      'intake-first lane, decision 034), per manager process; past ' +
      'it, new `send`/`send_sync` messages are refused whole with a fault "manager busy", nothing stored, so a ' +
      'flood cannot grow the queue without bound; keep it small enough for the queue to drain within `actionLeaseSeconds`. Default 2000.',
    ),
  defaultClearinghouseQuota: z
    .object({ vms: z.number().int().min(0), vcpus: z.number().int().min(0), memoryMib: z.number().int().min(0), addresses: z.number().int().min(0) })
    .default({ vms: 50, vcpus: 200, memoryMib: 262_144, addresses: 50 })
    .describe(
      'The quota a clearinghouse principal gets when an admin adds it (`vtctl user add --role clearinghouse`; ' +
      'change it with `vtctl user set-quota`): VMs, vCPUs, guest memory in MiB and IPv4 addresses, counted over the ' +
      'VMs of the projects it owns. Admin principals and the config file\'s `users` have no quota. Default 50 VMs, ' +
      '200 vCPUs, 262144 MiB (256 GiB), 50 addresses.',
    ),
  monitoringIntervalSeconds: z.number().int().min(0).default(45)
    .describe(
      'Monitoring (docs/ocf-protocol.md §4.3): seconds between ping + listActiveVMs rounds per server. Default 45; ' +
      '0 disables.',
    ),
  monitoringFailureThreshold: z.number().int().min(1).default(3)
    .describe(
      'Consecutive failed pings before a server is marked unavailable (it is marked available at the next answer). ' +
      'Default 3.',
    ),
  capacity: z
    .object({
      cpuOvercommit: z.number().positive().default(4.0),
      memoryOvercommit: z.number().positive().default(1.0),
      diskOvercommit: z.number().positive().default(1.0),
    })
    .prefault({})
    .describe(
      'Capacity accounting (decision record 019): how much of a host\'s CPUs, memory and storage may be promised to ' +
      'VMs, as ratios of what the agent reports. `cpuOvercommit` default 4.0 (vCPUs per logical CPU), ' +
      '`memoryOvercommit` 1.0, `diskOvercommit` 1.0 (of the virtual sizes asked).',
    ),
  placement: z.object({ policy: z.enum(['spread', 'pack', 'round-robin']).default('spread') }).prefault({})
    .describe(
      'Placement of a create that names no server (decision record 019): `policy` `spread` (most free memory for ' +
      'VMs first; default), `pack` (the fullest host that fits) or `round-robin` (the next host by name after the ' +
      'last one chosen).',
    ),
  geni: z
    .object({
      enabled: z.boolean().default(false),
      authorityHrn: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/).max(200).optional(),
      publicUrl: z.url().optional(),
      trustedRootsDir: z.string().min(1).optional(),
      defaultTemplate: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).default('default'),
      maxAllocationHours: z.number().positive().max(24 * 14).default(2),
      maxSliverDays: z.number().positive().max(3650).default(30),
      autoStartAfterProvision: z.boolean().default(true),
      requireCallerMatch: z.boolean().default(false),
      vm: z
        .object({
          memoryMiB: z.number().int().min(64).default(512),
          vcpus: z.number().int().min(1).max(64).default(1),
          diskGiB: z.number().int().min(1).nullable().default(null),
          maxMemoryMiB: z.number().int().min(64).default(16_384),
          maxVcpus: z.number().int().min(1).max(64).default(8),
          maxDiskGiB: z.number().int().min(1).default(200),
        })
        .prefault({}),
    })
    .prefault({})
    .refine((g) => !g.enabled || g.authorityHrn !== undefined, { message: 'geni.authorityHrn is required when geni.enabled is true' })
    .describe(
      'The GENI AM API v3 endpoint `/xmlrpc/geni/3/` (docs/geni-v3.md, decision record 022). Off unless `enabled`. ' +
      '- `authorityHrn` (required when enabled): our authority, e.g. `ocf.i2cat`; the component manager is ' +
      '`<authorityHrn>.vtam` (§4.1), so node URNs read `urn:publicid:IDN+ocf:i2cat:vtam+node+<server>`. - ' +
      '`publicUrl`: the URL GetVersion advertises; default `<publicUrl>/xmlrpc/geni/3/`. - `trustedRootsDir`: ' +
      'folder of PEM trust anchors (`.gid`, `.pem`, `.crt`) for credentials (§9.4). Without it GetVersion still ' +
      'answers, and every credentialed call is FORBIDDEN (3) "no trusted roots are configured". - ' +
      '`defaultTemplate`: the template for `disk_image` absent or `default` (§7.2); default `default`. An unknown ' +
      'image is refused with BADARGS naming the templates the host has (issue #11 overrides §7.2\'s fallback). - ' +
      '`maxAllocationHours` (default 2): longest life of an allocation before Provision (§5.4). - `maxSliverDays` ' +
      '(default 30): longest life of a provisioned sliver from now (Provision, Renew; §5.4). - ' +
      '`autoStartAfterProvision` (default true, decision 022): start the VM once its create succeeded. - ' +
      '`requireCallerMatch` (default false, §9.6): reserved; bearer credentials as the original. - `vm`: the size ' +
      'of a VM whose request has no `emulab:xen` values: `memoryMiB` (default 512), `vcpus` (1), `diskGiB` (null: ' +
      'the template\'s own size); and the clamps applied to `emulab:xen` `ram`/`cores`/`disk`: `maxMemoryMiB` ' +
      '(16384), `maxVcpus` (8), `maxDiskGiB` (200). A value above a clamp is lowered to it.',
    ),
  sendSyncTimeoutSeconds: z.number().int().positive().default(600)
    .describe('Seconds `send_sync` waits before answering "TIMEOUT". Default 600 (as the original).'),
  callbackCaFile: z.string().optional().describe('Extra CA file (PEM) trusted for clearinghouse callback URLs, on top of the system roots and our CA.'),
  amVersion: z.string().default('0.8.3').describe('Version reported by `get_am_info` (docs/ocf-protocol.md §2.2.6).'),
  logFormat: z.enum(['json', 'pretty']).default('json').describe('Log format. Default `json`.'),
  console: z
    .object({
      maxSessions: z.number().int().min(1).max(4096).default(64),
      idleTimeoutSeconds: z.number().int().min(1).max(86400).default(1800),
      bytesPerSecond: z.number().int().min(1024).max(64 * 1024 * 1024).default(65536),
    })
    .prefault({})
    .describe(
      'Interactive serial consoles relayed to the agents (`/console`, decision record 027): most sessions at once ' +
      'on this manager (default 64), seconds without a byte either way before a session ends (default 1800), most ' +
      'bytes a second each way (default 65536; more pauses the sender, nothing is dropped).',
    ),
  dashboard: dashboardSessionOptionsSchema
    .extend({ assetsDir: z.string().optional() })
    .prefault({})
    .describe(
      'The web dashboard at `/ui/` (decision record 029): `assetsDir` the built front end (default ' +
      'packages/dashboard/dist beside the manager\'s package); sessions end after `idleSeconds` without a request ' +
      '(default 1800) or `maxSeconds` after login (default 28800); at most `maxSessions` (default 1000). Declared in ' +
      'services/dashboard-sessions.ts.',
    ),
  metrics: metricsOptionsSchema.describe('Prometheus `/metrics` and an optional separate plain-HTTP listener (decision record 028; see metricsOptionsSchema in @kvm-crm/shared).'),
});
/** Validated options, defaults applied. */
export type ManagerOptions = z.infer<typeof managerOptionsSchema>;

/**
 * The schema's defaults of the options that services also take from code (unit tests, tools), so the services
 * need not repeat them.
 */
export const OPTION_DEFAULTS = {
  actionTimeoutSeconds: managerOptionsSchema.shape.actionTimeoutSeconds.parse(undefined),
  actionLeaseSeconds: managerOptionsSchema.shape.actionLeaseSeconds.parse(undefined),
  monitoringFailureThreshold: managerOptionsSchema.shape.monitoringFailureThreshold.parse(undefined),
  maxActionsPerMessage: managerOptionsSchema.shape.maxActionsPerMessage.parse(undefined),
  maxPendingStatusesPerPrincipal: managerOptionsSchema.shape.maxPendingStatusesPerPrincipal.parse(undefined),
  maxQueuedHandOvers: managerOptionsSchema.shape.maxQueuedHandOvers.parse(undefined),
  defaultClearinghouseQuota: managerOptionsSchema.shape.defaultClearinghouseQuota.parse(undefined),
  capacity: managerOptionsSchema.shape.capacity.parse(undefined),
  placement: managerOptionsSchema.shape.placement.parse(undefined),
  geni: managerOptionsSchema.shape.geni.parse(undefined),
} as const;

/**
 * Loads and validates the config file with the `KVMCRM_…` option variables of `env` laid over it (decision record
 * 030, docs/configuration.md); relative paths, from the file or the environment, are resolved against the file's
 * folder. @throws InputError naming the file and each bad key, or an unknown/unparseable variable.
 */
export function loadManagerOptions(file: string, env: NodeJS.ProcessEnv = process.env): ManagerOptions {
  const o = loadConfigFile(file, managerOptionsSchema, { env, program: 'vt-manager' });
  const r = (p: string) => resolveFromConfig(file, p);
  o.tls = { ...o.tls, caFile: r(o.tls.caFile), certFile: r(o.tls.certFile), keyFile: r(o.tls.keyFile), ...(o.tls.crlFile ? { crlFile: r(o.tls.crlFile) } : {}) };
  if (o.database.type === 'sqlite' && o.database.path !== ':memory:') o.database.path = r(o.database.path);
  if (o.callbackCaFile) o.callbackCaFile = r(o.callbackCaFile);
  if (o.dashboard.assetsDir) o.dashboard.assetsDir = r(o.dashboard.assetsDir);
  if (o.geni.trustedRootsDir) o.geni.trustedRootsDir = r(o.geni.trustedRootsDir);
  o.secretsKeyFile = r(o.secretsKeyFile ?? 'secrets.key');
  return o;
}

/** This daemon's section of the generated docs/configuration.md (scripts/src/config-docs.ts; checked by a unit test). */
export const managerConfigReference: ConfigReferenceSection = {
  id: 'vt-manager',
  title: 'vt-manager (manager.json)',
  configFile: '/etc/kvm-crm/manager.json',
  schema: managerOptionsSchema,
};
