/**
 * Assembles the VT manager: database, services, HTTPS endpoints, background sweeps. The daemon entry point
 * (`main.ts`) and the tests both start it through {@link startManager}.
 */
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import express from 'express';
import {
  closeServer,
  ReloadableTls,
  createHttpsServer,
  createXmlRpcHandler,
  listen,
  readBasicCredentials,
  verifiedClientCertificate,
  isPeerRefusal,
  SecretBox,
  type Logger,
  type Principal,
} from '@kvm-crm/shared';
import type { DataSource } from 'typeorm';
import { adminApi } from './api/admin-api.js';
import { attachAdminConsoleEndpoint } from './api/admin-console-endpoint.js';
import { WsAgentConsoles } from './adapters/ws-agent-console.js';
import { ConsoleRelayService } from './services/console-relay-service.js';
import { KeptDisksService } from './services/kept-disks-service.js';
import { VmBackupService } from './services/vm-backup-service.js';
import { mountDashboard } from './api/dashboard-router.js';
import { DashboardSessionService } from './services/dashboard-sessions.js';
import { auditAdminCalls } from './api/admin-audit.js';
import { agentApi } from './api/agent-api.js';
import { PLUGIN_API_HELP, pluginApi } from './api/plugin-api.js';
import { InformationService } from './services/information-service.js';
import { assertListingTriggers } from './db/listing-triggers.js';
import { MonitoringService } from './services/monitoring-service.js';
import { createAgentCallerAuth } from './adapters/agent-caller-auth.js';
import { XmlRpcAgentGateway } from './adapters/xmlrpc-agent-gateway.js';
import { VmLifecycleService } from './services/vm-lifecycle-service.js';
import { adminMigrationApi } from './api/admin-migration-api.js';
import { XmlRpcMigrationGateway } from './adapters/xmlrpc-migration-gateway.js';
import { MigrationRunner } from './services/migration/migration-runner.js';
import type { MigrationAgents } from './services/migration/migration-ports.js';
import { MigrationService } from './services/migration/migration-service.js';
import { PlacementService } from './services/placement/placement-service.js';
import { InventoryChangesService } from './services/inventory-changes-service.js';
import { xmlRpcDeliver } from './adapters/xmlrpc-client-notifier.js';
import { tlsCertificateProbe } from './adapters/callback-certificate-probe.js';
import { callbackAdminApi } from './api/callback-admin-api.js';
import { CallbackOutboxService } from './services/callback-outbox-service.js';
import { CallbackPolicyService } from './services/callback-policy-service.js';
import { DbClientNotifier } from './adapters/db-client-notifier.js';
import { openDatabase } from './db/data-source.js';
import { useSecretBox } from './db/secret-columns.js';
import { TransactionRunner } from './db/transaction-runner.js';
import type { ManagerOptions } from './manager-options.js';
import { InventoryService } from './services/inventory-service.js';
import { CapacityService } from './services/capacity-service.js';
import { ManifestService } from './services/manifest/manifest-service.js';
import { HostFactsService } from './services/host-facts-service.js';
import { IpamService } from './services/ipam-service.js';
import { BasicAuthenticator } from './services/basic-authenticator.js';
import { PrincipalService } from './services/principal-service.js';
import { QuotaService } from './services/quota-service.js';
import { ProvisioningService } from './services/provisioning-service.js';
import type { AgentGateway, ClientNotifier } from './services/ports.js';
import { adminGeniSliverApi } from './api/admin-geni-sliver-api.js';
import { adminGeniTrustApiIfConfigured, startGeniEndpoint } from './geni-endpoint.js';
import { createManagerMetrics, mountManagerObservability } from './manager-observability.js';
import type { PrometheusManagerMetrics } from './adapters/prometheus-manager-metrics.js';

/** A running manager. */
export interface RunningManager {
  port: number;
  dataSource: DataSource;
  provisioning: ProvisioningService;
  inventory: InventoryService;
  monitoring: MonitoringService;
  information: InformationService;
  notifier: ClientNotifier;
  /** The TLS material in force (reloaded when its files change or on SIGHUP). */
  tls: ReloadableTls;
  /** The interactive consoles relayed to the agents (`/console`, decision record 027). */
  consoles: ConsoleRelayService;
  /** This manager's Prometheus metrics and registry (decision record 028). */
  metrics: PrometheusManagerMetrics;
  /** The port of the plain-HTTP metrics listener (`metrics.listen`), when configured. */
  metricsPort?: number;
  /** Stops listening, the sweeps, and closes the database. */
  stop(): Promise<void>;
}

/** Seconds between deadline sweeps. */
const SWEEP_INTERVAL_MS = 5000;

/**
 * Starts the manager with validated options. `overrides` replace the agent gateway or the client notifier (unit
 * tests use in-memory fakes).
 * @throws when the TLS files cannot be read, the database cannot be opened, or the port cannot be bound.
 */
export async function startManager(
  options: ManagerOptions,
  logger: Logger,
  overrides: { agents?: AgentGateway; notifier?: ClientNotifier; migrationAgents?: MigrationAgents } = {},
  /** `publicPortFromListen`: take the port of `publicUrl` from the bound port (tests listening on port 0). */
  startup: { publicPortFromListen?: boolean } = {},
): Promise<RunningManager> {
  // TLS: reloaded from its files while running (rotation, CRL); see ReloadableTls.
  const tls = ReloadableTls.load(options.tls, logger.child({ part: 'tls' }));
  const own = tls.current.certificate;
  if (own.role !== 'manager') logger.warn('our certificate does not have role manager: agents will refuse our calls', { role: own.role, commonName: own.commonName });
  const extraCa = options.callbackCaFile ? [readFileSync(options.callbackCaFile, 'utf8')] : [];

  const app = express();
  app.disable('x-powered-by');
  const server = createHttpsServer(app, tls.serverTls(), options.http);
  tls.attach(server);
  const port = await listen(server, options.listen.port, options.listen.host);
  tls.watch();
  const publicUrl = new URL(options.publicUrl);
  if (startup.publicPortFromListen) publicUrl.port = String(port);

  if (options.secretsKeyFile) useSecretBox(SecretBox.fromKeyFile(options.secretsKeyFile));
  else logger.warn('no secretsKeyFile: secrets at rest use a random per-process key and will not be readable after a restart');
  const dataSource = await openDatabase(options.database)
    // decision 031: without the inventory-version triggers listResources would serve stale documents: refuse to start
    .then(async (ds) => assertListingTriggers(ds).then(() => ds, async (err: unknown) => { await ds.destroy(); throw err; }))
    .catch(async (err: unknown) => {
      tls.close();
      await closeServer(server);
      throw err;
    });
  const tx = new TransactionRunner(dataSource);
  const metrics = createManagerMetrics(dataSource, options);
  const ipam = new IpamService();
  const inventory = new InventoryService(tx);
  // Live TLS objects: each new client uses the certificate, CA and CRL in force. Agents: our certificate, our CA and
  // CRL. Clearinghouse callbacks: system roots + our CA + callbackCaFile, no client certificate, no CRL (public CAs
  // publish none that we load, and OpenSSL would then refuse them).
  const agents = overrides.agents ?? new XmlRpcAgentGateway(tls.clientTls(), logger.child({ part: 'agent-gateway' }));
  const callbackTls = tls.clientTls({ systemRoots: true, extraCa, useCrl: false, presentCertificate: false });
  const quotas = new QuotaService(tx, options.defaultClearinghouseQuota);
  const principals = new PrincipalService(tx, options.users, (em, name, roles) => quotas.applyDefault(em, name, roles));
  // Callback URL policy (decision 014): checked at send/send_sync intake (with a certificate check) and per delivery.
  const callbackPolicies = new CallbackPolicyService(tx, {
    principalExists: async (name) => !!(await principals.find(name)),
    probe: tlsCertificateProbe(callbackTls),
    logger: logger.child({ part: 'callback-policy' }),
  });
  // Client callbacks: a transactional outbox (the notification table), so statuses survive a manager crash.
  let outbox: DbClientNotifier | undefined;
  let notifier: ClientNotifier;
  if (overrides.notifier) notifier = overrides.notifier;
  else {
    const deliver = xmlRpcDeliver(callbackTls, (principal) => (principal ? callbackPolicies.policyOf(principal) : callbackPolicies.deliveryPolicy()));
    notifier = outbox = new DbClientNotifier(tx, deliver, { logger: logger.child({ part: 'notifier' }), metrics });
  }

  const cb = new URL('/xmlrpc/agent', publicUrl);
  cb.username = encodeURIComponent(options.agentCallback.user);
  cb.password = encodeURIComponent(options.agentCallback.password);
  const provisioning = new ProvisioningService(tx, ipam, agents, notifier, {
    agentCallbackUrl: cb.toString(),
    actionTimeoutSeconds: options.actionTimeoutSeconds,
    leaseSeconds: options.actionLeaseSeconds,
    maxActionsPerMessage: options.maxActionsPerMessage,
    maxPendingStatusesPerPrincipal: options.maxPendingStatusesPerPrincipal,
    maxQueuedHandOvers: options.maxQueuedHandOvers,
    capacity: options.capacity,
    placementPolicy: options.placement.policy,
    logger: logger.child({ part: 'provisioning' }),
    metrics,
  });

  const information = new InformationService(dataSource);
  const hostFacts = new HostFactsService(tx, agents, logger.child({ part: 'host-facts' }));
  const monitoring = new MonitoringService(tx, agents, notifier, { agentCallbackUrl: cb.toString(), logger: logger.child({ part: 'monitoring' }), failureThreshold: options.monitoringFailureThreshold, hostFacts });
  const dashboardSessions = new DashboardSessionService(options.dashboard, Date.now, (name) => principals.find(name));
  const authenticator = new BasicAuthenticator((name) => principals.find(name), undefined, undefined, options.login);
  /**
   * Northbound login: HTTP Basic when the request carries it (throttled per source address and user: HTTP 429, see
   * BasicAuthenticator); otherwise (optional certificate login) a verified,
   * unrevoked client certificate of the endpoint's role whose CN names a principal that has that role.
   */
  const basicAuth = (role: 'clearinghouse' | 'admin') => async (req: IncomingMessage): Promise<Principal | undefined> => {
    const c = readBasicCredentials(req);
    if (c) return authenticator.authenticate(c.user, c.pass, role, req.socket.remoteAddress ?? 'unknown');
    const peer = verifiedClientCertificate(req.socket as TLSSocket, { isRevoked: (s) => tls.isRevoked(s), role });
    if (isPeerRefusal(peer)) return undefined;
    const principal = await principals.find(peer.commonName);
    return principal?.roles.includes(role) ? { name: principal.name, roles: principal.roles } : undefined;
  };
  // Agents: callback credentials + the certificate of a registered server (or, legacy servers only, its address).
  const agentAuth = createAgentCallerAuth({ callback: options.agentCallback, tls, dataSource, logger: logger.child({ endpoint: 'agent' }) });

  const plugin = createXmlRpcHandler({ methods: pluginApi({ provisioning, information, monitoring, amVersion: options.amVersion, sendSyncTimeoutSeconds: options.sendSyncTimeoutSeconds, callbacks: callbackPolicies }), help: PLUGIN_API_HELP, logger: logger.child({ endpoint: 'plugin' }), authenticate: basicAuth('clearinghouse'), observer: metrics.xmlrpc('plugin') });
  const agent = createXmlRpcHandler({ methods: agentApi({ provisioning, monitoring }), logger: logger.child({ endpoint: 'agent' }), authenticate: agentAuth, observer: metrics.xmlrpc('agent') });
  // Every successful admin call is logged (info, secrets masked): the audit trail docs/security.md promises.
  const adminLog = logger.child({ endpoint: 'admin' });
  const callbackAdmin = callbackAdminApi({ policies: callbackPolicies, outbox: new CallbackOutboxService(tx, logger.child({ part: 'callback-outbox' })) });
  // GENI AM API v3 (docs/geni-v3.md, decision 022): /xmlrpc/geni/3 with no HTTP auth; credentials decide.
  const geni = options.geni.enabled ? startGeniEndpoint({ options, publicUrl, tx, provisioning, agents, logger, observer: metrics.xmlrpc('geni') }) : undefined;
  if (geni) app.all(['/xmlrpc/geni/3', '/xmlrpc/geni/3/'], geni.handler);
  const geniAdmin = { ...adminGeniSliverApi({ dataSource }), ...adminGeniTrustApiIfConfigured(geni?.roots) };
  const vmLifecycle = new VmLifecycleService(tx, provisioning.intake, agents);
  // Decision 025: offline migration, run by the manager under the migrate action's lease.
  const migrationRunner = new MigrationRunner(tx, overrides.migrationAgents ?? new XmlRpcMigrationGateway(tls.clientTls(), logger.child({ part: 'migration-gateway' })), {
    instanceId: provisioning.instanceId, leaseSeconds: options.actionLeaseSeconds, logger: logger.child({ part: 'migration' }), metrics,
  });
  const placement = new PlacementService({ capacity: options.capacity, policy: options.placement.policy });
  const migrations = new MigrationService(tx, vmLifecycle, agents, placement, migrationRunner, {
    instanceId: provisioning.instanceId, leaseSeconds: options.actionLeaseSeconds, logger: logger.child({ part: 'migration' }), metrics,
  });
  const adminMethods = auditAdminCalls({ ...geniAdmin, ...adminMigrationApi({ migrations }), ...adminApi({ inventory, dataSource, principals, provisioning, quotas, vms: vmLifecycle, inventoryChanges: new InventoryChangesService(tx), onPrincipalRemoved: (n) => { authenticator.forget(n); dashboardSessions.forget(n); }, hosts: { tx, inventory, capacity: new CapacityService(options.capacity), hostFacts }, keptDisks: new KeptDisksService(tx, inventory, agents), backups: new VmBackupService(tx, inventory, agents, placement, logger.child({ part: 'backups' })), manifests: new ManifestService(tx, vmLifecycle, new CapacityService(options.capacity), agents) }), ...callbackAdmin }, adminLog);
  const admin = createXmlRpcHandler({ methods: adminMethods, logger: adminLog, authenticate: basicAuth('admin'), observer: metrics.xmlrpc('admin') });
  // rpc4django accepts the paths with and without a trailing slash (docs/ocf-protocol.md §2.1).
  app.all(['/xmlrpc/plugin', '/xmlrpc/plugin/'], plugin);
  app.all(['/xmlrpc/agent', '/xmlrpc/agent/'], agent);
  app.all(['/xmlrpc/admin', '/xmlrpc/admin/'], admin);
  // Decision record 027: `vtctl vm console`, a WebSocket upgrade with the admin login, relayed to the VM's agent.
  const consoles = new ConsoleRelayService(tx, vmLifecycle, new WsAgentConsoles(tls.clientTls()), { ...options.console, logger: adminLog.child({ part: 'console' }) });
  const stopConsoleUpgrades = attachAdminConsoleEndpoint(server, { consoles, authenticate: basicAuth('admin'), logger: adminLog.child({ part: 'console' }) });
  // Decision record 029: the web dashboard at /ui/ (its API calls the audited admin method table above).
  mountDashboard(app, { sessions: dashboardSessions, login: (u, p, src) => authenticator.authenticate(u, p, ['admin', 'viewer'], src), admin: adminMethods, logger: adminLog.child({ part: 'dashboard' }), assetsDir: options.dashboard.assetsDir });
  // Decision record 028: /healthz, /readyz, /metrics (role metrics or admin), and the optional plain-HTTP listener.
  const metricsListener = await mountManagerObservability(app, { metrics, dataSource, tls, authenticator, principals, options, logger }).catch(async (err: unknown) => {
    stopConsoleUpgrades();
    geni?.roots?.close();
    tls.close();
    await closeServer(server);
    await information.close();
    await dataSource.destroy();
    throw err;
  });

  logger.info('vt-manager listening', {
    host: options.listen.host, port, publicUrl: publicUrl.toString(), database: options.database.type,
    certificate: { commonName: own.commonName, role: own.role, serial: own.serial, notAfter: own.notAfter.toISOString() },
  });

  // Recovery (also at start): accepted actions never admitted (intake rows whose lease expired; at start also this
  // instance's, decision 039); QUEUED actions whose manager died before the agent accepted them; then deadlines;
  // then expired VMs (a normal delete action each).
  const sweepOnce = (atStart: boolean) =>
    provisioning
      .pickUpIntake(atStart)
      .catch((err: unknown) => logger.error('intake pick-up failed', { error: String(err) }))
      .then(() => provisioning.recoverQueuedActions())
      .catch((err: unknown) => logger.error('action recovery failed', { error: String(err) }))
      .then(() => provisioning.failOverdueActions())
      .catch((err: unknown) => logger.error('deadline sweep failed', { error: String(err) }))
      .then(() => geni?.slivers.sweep())
      .catch((err: unknown) => logger.error('GENI sliver sweep failed', { error: String(err) }))
      .then(() => provisioning.deleteExpiredVms())
      .catch((err: unknown) => logger.error('expiry sweep failed', { error: String(err) }))
      .then(() => migrationRunner.recoverStale())
      .catch((err: unknown) => logger.error('migration recovery failed', { error: String(err) }));
  void sweepOnce(true);
  outbox?.start();
  const sweep = setInterval(() => void sweepOnce(false), SWEEP_INTERVAL_MS);
  sweep.unref();
  const monitor =
    options.monitoringIntervalSeconds > 0
      ? setInterval(() => {
          monitoring.monitorOnce().catch((err: unknown) => logger.error('monitoring round failed', { error: String(err) }));
        }, options.monitoringIntervalSeconds * 1000)
      : undefined;
  monitor?.unref();

  return {
    port,
    dataSource,
    provisioning,
    inventory,
    monitoring,
    information,
    notifier,
    tls,
    consoles,
    metrics,
    ...(metricsListener ? { metricsPort: metricsListener.port } : {}),
    async stop() {
      clearInterval(sweep);
      if (monitor) clearInterval(monitor);
      outbox?.stop();
      geni?.roots?.close();
      stopConsoleUpgrades();
      await consoles.closeAll();
      tls.close();
      await metricsListener?.close();
      await closeServer(server);
      // No new sends now: the accepted actions still waiting are given back, so the next start admits them at once.
      await provisioning.releaseIntake().catch((err: unknown) => logger.error('intake rows not released', { error: String(err) }));
      await notifier.drain();
      await migrationRunner.abandon(); // their leases lapse; the next manager start takes them over
      await information.close();
      await dataSource.destroy();
    },
  };
}
