/**
 * Assembles the OXAD agent: probes the hypervisor, wires adapters and services, serves HTTPS. `main.ts` and the
 * tests start it through {@link startAgent}.
 */
import { readFileSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import express from 'express';
import { BRIDGE_NAME_PATTERN, closeServer, createHttpsServer, createXmlRpcHandler, listen, type Logger } from '@kvm-crm/shared';
import { agentApi } from './api/agent-api.js';
import { LibvirtEventStream } from './adapters/libvirt-event-stream.js';
import { XmlRpcStatusReporter, type StatusReporter } from './adapters/manager-status-client.js';
import { QemuImg } from './adapters/qemu-img.js';
import { writeSeedIso } from './adapters/seed-iso.js';
import { Virsh } from './adapters/virsh.js';
import type { AgentOptions } from './agent-options.js';
import { EventForwarder } from './services/event-forwarder.js';
import { probeHypervisor, type HypervisorChoice } from './services/hypervisor-probe.js';
import { MonitoringService } from './services/monitoring-service.js';
import { AgentProvisioningService } from './services/provisioning-service.js';
import { VmIdentityResolver } from './services/vm-identity.js';
import { TemplateCatalogue } from './templates/template-catalogue.js';

/** A running agent. */
export interface RunningAgent {
  port: number;
  hypervisor: HypervisorChoice;
  provisioning: AgentProvisioningService;
  monitoring: MonitoringService;
  /** The libvirt event stream and its forwarder; undefined when `eventsUrl` is not configured. */
  events?: { stream: LibvirtEventStream; forwarder: EventForwarder };
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
    return false;
  }
}

/**
 * Starts the agent. `overrides.reporter` replaces the XML-RPC status reporter (unit tests). When
 * `options.eventsUrl` is set, a `virsh event` stream forwards our domains' lifecycle events there (§6.8) once the
 * agent listens.
 * @throws when TLS files cannot be read, the storage root cannot be created, or the port cannot be bound.
 */
export async function startAgent(options: AgentOptions, logger: Logger, overrides: { reporter?: StatusReporter } = {}): Promise<RunningAgent> {
  const ca = readFileSync(options.tls.caFile, 'utf8');
  const cert = readFileSync(options.tls.certFile, 'utf8');
  const key = readFileSync(options.tls.keyFile, 'utf8');
  await mkdir(path.join(options.storageRoot, 'templates'), { recursive: true, mode: 0o755 });
  await mkdir(path.join(options.storageRoot, 'vms'), { recursive: true, mode: 0o755 });

  const hypervisor = await probeHypervisor({ mode: options.hypervisor });
  logger.info('hypervisor chosen', { domainType: hypervisor.domainType, reason: hypervisor.reason, probeMs: hypervisor.probeMs });

  const virsh = new Virsh({ uri: options.libvirtUri });
  const qemuImg = new QemuImg();
  const templates = new TemplateCatalogue(path.join(options.storageRoot, 'templates'), qemuImg);
  const reporter = overrides.reporter ?? new XmlRpcStatusReporter({ tls: { ca, cert, key }, logger: logger.child({ part: 'reporter' }) });
  const provisioning = new AgentProvisioningService(
    { domains: virsh, images: qemuImg, writeSeedIso: (files, iso) => writeSeedIso(files, iso), bridgeExists: linuxBridgeExists },
    templates,
    reporter,
    {
      storageRoot: options.storageRoot, domainPrefix: options.domainPrefix, domainType: hypervisor.domainType, vcpus: options.vcpus,
      maxConcurrentActions: options.maxConcurrentActions, stopGraceSeconds: options.stopGraceSeconds, fallbackNetwork: options.fallbackNetwork,
      logger: logger.child({ part: 'provisioning' }),
    },
  );

  const identities = new VmIdentityResolver(virsh, { domainPrefix: options.domainPrefix, logger: logger.child({ part: 'identity' }) });
  const monitoring = new MonitoringService(virsh, identities, reporter, { domainPrefix: options.domainPrefix, logger: logger.child({ part: 'monitoring' }) });

  const app = express();
  app.disable('x-powered-by');
  // The OCF agent ignores the request path (ocf-protocol.md §4.1): serve every path.
  app.use(createXmlRpcHandler({ methods: agentApi({ password: options.password, provisioning, monitoring, templates, domains: virsh, domainPrefix: options.domainPrefix }), logger, introspection: false }));
  const server = createHttpsServer(app, { cert, key, ca });
  const port = await listen(server, options.listen.port, options.listen.host);
  logger.info('oxad-agent listening', { host: options.listen.host, port, storageRoot: options.storageRoot, libvirt: options.libvirtUri, events: Boolean(options.eventsUrl) });

  let events: RunningAgent['events'];
  if (options.eventsUrl) {
    const forwarder = new EventForwarder(identities, reporter, { eventsUrl: options.eventsUrl, domainPrefix: options.domainPrefix, logger: logger.child({ part: 'events' }) });
    const stream = new LibvirtEventStream({ uri: options.libvirtUri, logger: logger.child({ part: 'event-stream' }) }, (e) => forwarder.handle(e));
    stream.start();
    events = { stream, forwarder };
  }
  return {
    port,
    hypervisor,
    provisioning,
    monitoring,
    ...(events ? { events } : {}),
    async stop() {
      await events?.stream.stop();
      await closeServer(server);
      await Promise.all([provisioning.idle(), monitoring.idle(), events?.forwarder.close()]);
    },
  };
}
