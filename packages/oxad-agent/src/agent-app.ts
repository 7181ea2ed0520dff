/**
 * Assembles the OXAD agent: probes the hypervisor, wires adapters and services, serves HTTPS. `main.ts` and the
 * tests start it through {@link startAgent}.
 */
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import express from 'express';
import { NotAllowedError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { isPeerRefusal, ReloadableTls, verifiedClientCertificate } from '@kvm-crm/shared/tls';
import { BRIDGE_NAME_PATTERN } from '@kvm-crm/shared/validation';
import { closeServer, createHttpsServer, createXmlRpcHandler, listen, type Principal } from '@kvm-crm/shared/xmlrpc';
import { agentApi } from './api/agent-api.js';
import { attachConsoleEndpoint } from './api/console-endpoint.js';
import { SerialConsoleSockets } from './adapters/serial-console-socket.js';
import { ConsoleSessions } from './services/console-sessions.js';
import { migrationApi, transferEndpoint } from './api/migration-api.js';
import { TransferClient } from './adapters/transfer-client.js';
import { TransferStore } from './adapters/transfer-store.js';
import { MigrationAgentService } from './services/migration-service.js';
import { LibvirtEventStream } from './adapters/libvirt-event-stream.js';
import { XmlRpcStatusReporter } from './adapters/manager-status-client.js';
import { LocalHostFacts } from './adapters/host-facts.js';
import { QemuImg } from './adapters/qemu-img.js';
import { readSeedIso, writeSeedIso } from './adapters/seed-iso.js';
import { GuestHostnameService } from './services/guest-hostname-service.js';
import { replaceSeedMedium } from './adapters/seed-medium.js';
import { Virsh } from './adapters/virsh.js';
import { LibvirtConnection } from './adapters/libvirt-connection.js';
import { LibvirtDomains } from './adapters/libvirt-domains.js';
import { VmStore } from './adapters/vm-store.js';
import type { AgentOptions } from './agent-options.js';
import { ActionJournal } from './services/action-journal.js';
import { AutostartRecovery, type RecoveryOutcome } from './services/autostart-recovery.js';
import { EventForwarder } from './services/event-forwarder.js';
import { GuestPoweroffWatcher } from './services/guest-poweroff-watcher.js';
import { probeHypervisor, type HypervisorChoice } from './services/hypervisor-probe.js';
import { HostInventory } from './services/host-inventory.js';
import { KeptDisksService } from './services/kept-disks-service.js';
import { SnapshotService } from './services/snapshot-service.js';
import { BackupService } from './services/backup-service.js';
import { MonitoringService } from './services/monitoring-service.js';
import type { StatusReporter } from './services/ports.js';
import { AgentProvisioningService } from './services/provisioning-service.js';
import { StartupReconciler, type ReconcileReport } from './services/startup-reconciler.js';
import { senderFromReporter, StatusOutbox } from './services/status-outbox.js';
import { VmIdentityResolver } from './services/vm-identity.js';
import { TemplateCatalogue } from './templates/template-catalogue.js';
import { agentReadinessChecks, createAgentMetrics, mountAgentObservability } from './agent-observability.js';
import type { PrometheusAgentMetrics } from './adapters/prometheus-agent-metrics.js';
import { IdleHeapCompactor } from './adapters/idle-heap-compactor.js';

/** A running agent. */
export interface RunningAgent {
  port: number;
  hypervisor: HypervisorChoice;
  provisioning: AgentProvisioningService;
  monitoring: MonitoringService;
  /** The libvirt event stream and its forwarder; undefined when `eventsUrl` is not configured. */
  events?: { stream: LibvirtEventStream; forwarder: EventForwarder };
  /** The TLS material in force (reloaded when its files change or on SIGHUP). */
  tls: ReloadableTls;
  /** The durable outbox of provisioning statuses and events (`<storageRoot>/outbox/`). */
  outbox: StatusOutbox;
  /** What the start-up reconciliation with libvirt found and did (our domains, half-done actions, debris). */
  reconciled: ReconcileReport;
  /**
   * The domains marked autostart that were shut off at start and what the agent did (decision record 021); runs
   * in the background once the agent listens and resolves when every one was handled. Never rejects.
   */
  autostartRecovery: Promise<RecoveryOutcome[]>;
  /** Clears the autostart mark of guests that power themselves off (runs on the event stream, with `eventsUrl`). */
  poweroffWatcher: GuestPoweroffWatcher;
  /** The interactive serial console sessions (`/console/<vm uuid>`, decision record 027). */
  consoles: ConsoleSessions;
  /** This agent's Prometheus metrics and registry (decision record 028). */
  metrics: PrometheusAgentMetrics;
  /** The port of the plain-HTTP metrics listener (`metrics.listen`), when configured. */
  metricsPort?: number;
  /**
   * Stops listening, stops the event stream (its `virsh` child is killed), waits for running actions and
   * monitoring answers to finish, and for the event being delivered (queued events are dropped).
   */
  stop(): Promise<void>;
}

/** True when `/sys/class/net/<name>/bridge` exists (a Linux bridge). */
export async function linuxBridgeExists(name: string): Promise<boolean> {
  if (!BRIDGE_NAME_PATTERN.test(name)) return false;
  try {
    await access(path.join('/sys/class/net', name, 'bridge'));
    return true;
  } catch {
    return false; // no such interface, or not a bridge: the caller falls back to the libvirt network
  }
}

/**
 * The agent's HTTP-level authentication: a verified client certificate (our CA, not revoked) of role `manager`.
 * @throws NotAllowedError (HTTP 403) naming what is wrong.
 */
export function managerCertificateAuth(tls: ReloadableTls): (req: IncomingMessage) => Promise<Principal> {
  return async (req) => {
    const peer = verifiedClientCertificate(req.socket as TLSSocket, { isRevoked: (s) => tls.isRevoked(s), role: 'manager' });
    if (isPeerRefusal(peer)) throw new NotAllowedError(`this agent accepts calls only from the manager's certificate: ${peer.refusal}`);
    return { name: peer.commonName, roles: ['manager'] };
  };
}

/**
 * Starts the agent. `overrides.reporter` replaces the XML-RPC status reporter (unit tests). When
 * `options.eventsUrl` is set, a `virsh event` stream forwards our domains' lifecycle events there (§6.8) once the
 * agent listens. Mutual TLS: unless `requireClientCertificate` is false, every call must come with the manager's
 * certificate ({@link managerCertificateAuth}); statuses go to the manager with the agent's certificate, and the
 * manager's certificate must have role `manager`. The TLS files are watched and reloaded (see ReloadableTls).
 * @throws InputError when the TLS files are unreadable or inconsistent; when the storage root cannot be created, or
 *   the port cannot be bound.
 */
export async function startAgent(options: AgentOptions, logger: Logger, overrides: { reporter?: StatusReporter } = {}): Promise<RunningAgent> {
  const tls = ReloadableTls.load(options.tls, logger.child({ part: 'tls' }));
  const own = tls.current.certificate;
  if (own.role !== 'agent') logger.warn('our certificate does not have role agent: the manager will refuse our statuses', { role: own.role, commonName: own.commonName });
  if (!options.requireClientCertificate) logger.warn('requireClientCertificate is false: calls are accepted without the manager\'s certificate (only the OCF password guards them)');
  await mkdir(path.join(options.storageRoot, 'templates'), { recursive: true, mode: 0o755 });
  const vms = new VmStore(options.storageRoot);
  await vms.ensureRoot();

  const hypervisor = await probeHypervisor({ mode: options.hypervisor });
  logger.info('hypervisor chosen', { domainType: hypervisor.domainType, reason: hypervisor.reason, probeMs: hypervisor.probeMs });

  const observed = createAgentMetrics();
  const metrics = observed.metrics;
  const t = options.commandTimeouts; // decision record 037
  const virshOptions = { uri: options.libvirtUri, timeoutSeconds: t.virshSeconds, startStopTimeoutSeconds: t.virshStartStopSeconds, onCommand: metrics.command };
  // Decision 041: the frequent libvirt calls go through connections held open by one helper process; the agent does
  // not start without them.
  const connection = options.libvirtConnection.persistent
    ? new LibvirtConnection({ uri: options.libvirtUri, python: options.libvirtConnection.python, logger: logger.child({ part: 'libvirt' }) })
    : undefined;
  await connection?.open();
  /** `step`'s result; when it fails, the connection's helper is ended before the failure goes on (no helper left behind). */
  const closingOnFailure = async <T>(step: Promise<T>): Promise<T> => {
    try {
      return await step;
    } catch (err) {
      await connection?.close();
      throw err;
    }
  };
  const virsh = connection ? new LibvirtDomains(connection, virshOptions) : new Virsh(virshOptions);
  const qemuImg = new QemuImg({ timeoutSeconds: t.qemuImgSeconds, convertTimeoutSeconds: t.qemuImgConvertSeconds, onCommand: metrics.command });
  const seedIso = { timeoutSeconds: t.seedIsoSeconds };
  // The seed's temporary input folder is made in the VM's own folder, not in /tmp: one an agent crash leaves
  // behind goes with the VM's folder (its delete, or the start-up reconciler's removal of an unfinished create's
  // folder; after a crash during a hostname change of an existing VM it stays there until the VM is deleted).
  const writeSeed = (files: Record<string, string>, iso: string) => writeSeedIso(files, iso, { ...seedIso, tmpDir: path.dirname(iso) });
  const templates = new TemplateCatalogue(path.join(options.storageRoot, 'templates'), qemuImg, logger.child({ part: 'templates' }));
  // Live TLS: each delivery attempt uses the certificate, CA and CRL in force; the peer must be the manager.
  const xmlRpcReporter = overrides.reporter ? undefined : new XmlRpcStatusReporter({ tls: tls.clientTls({ expectPeer: { role: 'manager' } }), logger: logger.child({ part: 'reporter' }) });
  const reporter: StatusReporter = overrides.reporter ?? xmlRpcReporter!;
  // Decision 6: provisioning statuses and events go through the durable outbox (retried until the manager accepts
  // them); monitoring answers go directly (they answer a query of the moment).
  const outbox = await closingOnFailure(StatusOutbox.open(path.join(options.storageRoot, 'outbox'), xmlRpcReporter ?? senderFromReporter(reporter), { logger: logger.child({ part: 'outbox' }) }));
  observed.attach({ listDomains: () => virsh.listAll(), outboxEntries: () => outbox.pending, storageRoot: options.storageRoot, domainPrefix: options.domainPrefix });
  const journal = new ActionJournal(path.join(options.storageRoot, 'journal'), logger.child({ part: 'journal' }));
  await closingOnFailure(journal.open());
  const identities = new VmIdentityResolver(virsh, { domainPrefix: options.domainPrefix, logger: logger.child({ part: 'identity' }) });
  const provisioning = new AgentProvisioningService(
    { domains: virsh, images: qemuImg, writeSeedIso: writeSeed, bridgeExists: linuxBridgeExists },
    templates,
    outbox.asReporter(),
    {
      storageRoot: options.storageRoot, vms, domainPrefix: options.domainPrefix, domainType: hypervisor.domainType, vcpus: options.vcpus,
      maxConcurrentActions: options.maxConcurrentActions, stopGraceSeconds: options.stopGraceSeconds, fallbackNetwork: options.fallbackNetwork,
      logger: logger.child({ part: 'provisioning' }), journal, metrics, identities,
    },
  );
  const reconciled = await closingOnFailure(new StartupReconciler(virsh, journal, (url, xml, label) => outbox.enqueue(url, xml, label), {
    storageRoot: options.storageRoot, vms, domainPrefix: options.domainPrefix, logger: logger.child({ part: 'reconciler' }),
  }).run());

  const monitoring = new MonitoringService(virsh, identities, reporter, { domainPrefix: options.domainPrefix, logger: logger.child({ part: 'monitoring' }) });

  const hostInventory = new HostInventory(new LocalHostFacts(virsh), { storageRoot: options.storageRoot, hypervisor: hypervisor.domainType });

  // Decision 025: offline migration. Transfers do not survive a restart: their folders go at start.
  const transfers = new TransferStore(options.storageRoot);
  const sweptTransfers = await closingOnFailure(transfers.sweep());
  if (sweptTransfers.length) logger.info('removed unfinished transfers', { tickets: sweptTransfers.map((t) => t.slice(0, 8)) });
  const transferClient = new TransferClient(tls.clientTls());
  const migration = new MigrationAgentService({
    domains: virsh, images: qemuImg, templates, vms, store: transfers,
    push: (r, onBytes) => transferClient.push(r, onBytes),
    exclusive: (vm, task) => provisioning.exclusive(vm, task),
    ownName: () => tls.current.certificate.commonName,
    domainPrefix: options.domainPrefix, domainType: hypervisor.domainType, logger: logger.child({ part: 'migration' }),
  });

  const app = express();
  app.disable('x-powered-by');
  // Decision record 028: /healthz, /readyz, /metrics (manager or metrics certificate), before the catch-all XML-RPC.
  const metricsListener = await mountAgentObservability(app, {
    metrics, checks: agentReadinessChecks(virsh, options.storageRoot), tls, options, logger,
  }).catch(async (err: unknown) => {
    tls.close();
    await outbox.close();
    await connection?.close();
    throw err;
  });
  app.put('/migration/transfer/:ticket/:file', transferEndpoint({ migration, isRevoked: (s) => tls.isRevoked(s), logger: logger.child({ part: 'transfer' }) }));
  // The OCF agent ignores the request path (docs/ocf-protocol.md §4.1): serve every path.
  app.use(
    createXmlRpcHandler({
      methods: {
        ...agentApi({ password: options.password, provisioning, monitoring, templates, domains: virsh, domainPrefix: options.domainPrefix, host: hostInventory, vmFiles: vms, domainXml: virsh, keptDisks: new KeptDisksService(vms, qemuImg, logger.child({ part: 'kept-disks' })),
        snapshots: new SnapshotService({ images: qemuImg, vms, domains: virsh, lock: provisioning, domainPrefix: options.domainPrefix, logger: logger.child({ part: 'snapshots' }) }),
        backups: new BackupService({
          images: qemuImg, vms, domains: virsh, bridgeExists: linuxBridgeExists, lock: provisioning, backupRoots: options.backupRoots, domainPrefix: options.domainPrefix,
          domainType: hypervisor.domainType, fallbackNetwork: options.fallbackNetwork, logger: logger.child({ part: 'backups' }),
        }),
        guestHostnames: new GuestHostnameService({ vms, readSeed: (iso) => readSeedIso(iso, seedIso), writeSeed, lock: provisioning, domState: (n) => virsh.domState(n), replaceSeedMedium: (n, iso) => replaceSeedMedium(virsh, n, iso), domainPrefix: options.domainPrefix, logger: logger.child({ part: 'guest-hostname' }) }) }),
        ...migrationApi({ migration, password: options.password }),
      },
      logger,
      introspection: false,
      observer: metrics.xmlrpc,
      ...(options.requireClientCertificate ? { authenticate: managerCertificateAuth(tls) } : {}),
    }),
  );
  const server = createHttpsServer(app, tls.serverTls(), options.http);
  tls.attach(server);
  // Decision record 027: interactive serial consoles, a WebSocket upgrade guarded like the XML-RPC methods.
  const consoles = new ConsoleSessions(new SerialConsoleSockets(vms, virsh, options.domainPrefix), { ...options.console, logger: logger.child({ part: 'console' }) });
  const stopConsoleUpgrades = attachConsoleEndpoint(server, {
    sessions: consoles, password: options.password, logger: logger.child({ part: 'console' }),
    ...(options.requireClientCertificate ? { authenticate: managerCertificateAuth(tls) } : {}),
  });
  const port = await listen(server, options.listen.port, options.listen.host).catch(async (err: unknown) => {
    tls.close();
    await metricsListener?.close();
    await outbox.close();
    await connection?.close();
    throw err;
  });
  tls.watch();
  logger.info('oxad-agent listening', {
    host: options.listen.host, port, storageRoot: options.storageRoot, libvirt: options.libvirtUri, events: Boolean(options.eventsUrl),
    certificate: { commonName: own.commonName, role: own.role, serial: own.serial, notAfter: own.notAfter.toISOString() }, mutualTls: options.requireClientCertificate,
  });

  let events: RunningAgent['events'];
  const poweroffWatcher = new GuestPoweroffWatcher(virsh, provisioning, { domainPrefix: options.domainPrefix, logger: logger.child({ part: 'poweroff-watcher' }) });
  if (options.eventsUrl) {
    const forwarder = new EventForwarder(identities, outbox.asReporter(), { eventsUrl: options.eventsUrl, domainPrefix: options.domainPrefix, logger: logger.child({ part: 'events' }) });
    const stream = new LibvirtEventStream({ uri: options.libvirtUri, logger: logger.child({ part: 'event-stream' }) }, (e) => {
      forwarder.handle(e);
      void poweroffWatcher.handle(e);
    });
    stream.start();
    events = { stream, forwarder };
  }
  // Decision 021: our shut-off domains still marked autostart are started again (host reboot, power loss).
  const autostartRecovery = new AutostartRecovery(virsh, (url, xml, label) => outbox.enqueue(url, xml, label), {
    domainPrefix: options.domainPrefix, logger: logger.child({ part: 'autostart-recovery' }), lock: provisioning, ...(options.eventsUrl ? { eventsUrl: options.eventsUrl } : {}),
  }).run(reconciled.domains);
  // Decision 036 (amended): the heap a burst of work leaves behind is given back once the agent is quiet again.
  const compactor = IdleHeapCompactor.start({ logger: logger.child({ part: 'heap' }) });
  return {
    port,
    hypervisor,
    provisioning,
    monitoring,
    ...(events ? { events } : {}),
    tls,
    outbox,
    reconciled,
    autostartRecovery,
    poweroffWatcher,
    consoles,
    metrics,
    ...(metricsListener ? { metricsPort: metricsListener.port } : {}),
    async stop() {
      compactor?.stop();
      await autostartRecovery;
      await events?.stream.stop();
      stopConsoleUpgrades();
      await consoles.closeAll();
      tls.close();
      await metricsListener?.close();
      await closeServer(server);
      await Promise.all([provisioning.idle(), monitoring.idle(), events?.forwarder.close(), poweroffWatcher.idle(), migration.idle()]);
      await outbox.close(); // undelivered statuses stay on disk for the next start
      await connection?.close();
    },
  };
}
