/**
 * Assembles the GENI AM API v3 endpoint for manager-app.ts (docs/geni-v3.md, decision record 022): the trusted
 * roots store and credential verifier (when `geni.trustedRootsDir` is set), the sliver and aggregate services, and
 * the XML-RPC handler for `/xmlrpc/geni/3` — with no HTTP authentication (an Authorization header is ignored, never
 * a 401) and no client-certificate requirement (§2).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { createXmlRpcHandler, type Logger, type XmlRpcMethod, type XmlRpcObserver } from '@kvm-crm/shared';
import type { RequestHandler } from 'express';
import { TrustedRootsStore } from './adapters/trusted-roots-store.js';
import { geniTrustAdminApi } from './api/admin-geni-trust-api.js';
import { GENI_API_HELP, geniApi } from './api/geni-api.js';
import type { TransactionRunner } from './db/transaction-runner.js';
import type { ManagerOptions } from './manager-options.js';
import { CapacityService } from './services/capacity-service.js';
import { bindToSlice, SfaCredentialVerifier } from './services/geni/credential-verifier.js';
import { GeniAggregateService } from './services/geni/geni-aggregate-service.js';
import { SHARED_GENI_CODEC, type GeniCredentials } from './services/geni/geni-ports.js';
import { GeniSliverService } from './services/geni/geni-sliver-service.js';
import { IpamService } from './services/ipam-service.js';
import { PlacementService } from './services/placement/placement-service.js';
import type { AgentGateway } from './services/ports.js';
import type { ProvisioningService } from './services/provisioning-service.js';

/** Largest GENI request body: credentials are 5–20 KiB each, at most 10 are read, plus an RSpec (§2). */
const GENI_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The running GENI endpoint's parts. */
export interface GeniEndpoint {
  handler: RequestHandler;
  slivers: GeniSliverService;
  /** The trusted roots (watched); undefined when `geni.trustedRootsDir` is not set. */
  roots: TrustedRootsStore | undefined;
}

/**
 * Builds the endpoint. Without `geni.trustedRootsDir`, GetVersion and ping work and every credentialed call
 * answers FORBIDDEN (3) "no trusted roots are configured" (decision 022). A missing folder is created (0755) so
 * `vtctl geni trust add` can fill it.
 * @throws when the folder cannot be created or read.
 */
export function startGeniEndpoint(deps: {
  options: ManagerOptions;
  publicUrl: URL;
  tx: TransactionRunner;
  provisioning: ProvisioningService;
  agents: AgentGateway;
  logger: Logger;
  /** Told of every call (metrics, decision record 028). */
  observer?: XmlRpcObserver;
}): GeniEndpoint {
  const { options, logger } = deps;
  const g = options.geni;
  const log = logger.child({ endpoint: 'geni' });
  const authorityHrn = g.authorityHrn!;
  let roots: TrustedRootsStore | undefined;
  let credentials: GeniCredentials | undefined;
  if (g.trustedRootsDir) {
    mkdirSync(g.trustedRootsDir, { recursive: true, mode: 0o755 });
    roots = TrustedRootsStore.load(g.trustedRootsDir, log.child({ part: 'trusted-roots' }));
    roots.watch();
    const verifier = new SfaCredentialVerifier({ roots, logger: log.child({ part: 'credentials' }), requireCallerMatch: g.requireCallerMatch });
    // §9.6: the caller's TLS certificate (any CA: omni's comes from its clearinghouse) for geni.requireCallerMatch.
    credentials = {
      verify: (method, creds, need) => verifier.verify(method, creds, g.requireCallerMatch ? { peerCertificate: peerCertificateOf(callerSocket.getStore()) } : {}, need),
      bindToSlice: (v, slice) => bindToSlice(v, slice),
    };
  } else {
    log.warn('geni.trustedRootsDir is not set: GetVersion answers, every credentialed GENI call is FORBIDDEN');
  }
  const settings = { authorityHrn, defaultTemplate: g.defaultTemplate, maxAllocationHours: g.maxAllocationHours, maxSliverDays: g.maxSliverDays, autoStartAfterProvision: g.autoStartAfterProvision, vm: g.vm };
  const placement = new PlacementService({ capacity: options.capacity, policy: options.placement.policy });
  const slivers = new GeniSliverService(deps.tx, deps.provisioning.intake, new IpamService(), placement, deps.agents, SHARED_GENI_CODEC, settings, log.child({ part: 'slivers' }));
  const aggregate = new GeniAggregateService({
    tx: deps.tx, slivers, credentials, codec: SHARED_GENI_CODEC, capacity: new CapacityService(options.capacity), agents: deps.agents, settings,
    publicUrl: g.publicUrl ?? new URL('/xmlrpc/geni/3/', deps.publicUrl).toString(), log,
  });
  const xmlrpc = createXmlRpcHandler({ methods: geniApi({ aggregate, amCode: options.amVersion, logger: log }), help: GENI_API_HELP, logger: log, maxBodyBytes: GENI_MAX_BODY_BYTES, ...(deps.observer ? { observer: deps.observer } : {}) });
  // The request's socket travels with the call (AsyncLocalStorage), so the verifier can read the caller's certificate.
  const handler: RequestHandler = (req, res, next) => callerSocket.run(req.socket as TLSSocket, () => xmlrpc(req, res, next));
  log.info('GENI AM API v3 endpoint enabled', { authorityHrn, trustedRootsDir: g.trustedRootsDir ?? null, autoStartAfterProvision: g.autoStartAfterProvision });
  return { handler, slivers, roots };
}

/** The socket of the GENI call being served (see the handler in {@link startGeniEndpoint}). */
const callerSocket = new AsyncLocalStorage<TLSSocket>();

/** The TLS client certificate the caller presented (whoever issued it: not verified here), or undefined. */
function peerCertificateOf(socket: TLSSocket | undefined): X509Certificate | undefined {
  const raw = typeof socket?.getPeerCertificate === 'function' ? socket.getPeerCertificate().raw : undefined;
  if (!raw) return undefined;
  try {
    return new X509Certificate(raw);
  } catch {
    return undefined;
  }
}

/** `geni.trust.*` admin methods when a trusted-roots folder is configured; none otherwise. */
export function adminGeniTrustApiIfConfigured(roots: TrustedRootsStore | undefined): Record<string, XmlRpcMethod> {
  return roots ? geniTrustAdminApi({ roots }) : {};
}
