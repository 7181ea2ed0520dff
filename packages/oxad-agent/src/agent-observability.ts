/**
 * The agent's metrics and health endpoints (decision record 028): its own Prometheus registry, `/healthz`,
 * `/readyz` (libvirt answers `virsh version` within the timeout, the storage root is writable) and `/metrics` on
 * the HTTPS port for a verified, unrevoked client certificate of role `manager` or `metrics`; with `metrics.listen`,
 * the same three paths over plain HTTP on a separate address.
 */
import { randomBytes } from 'node:crypto';
import { statfs, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Express } from 'express';
import type { Logger } from '@kvm-crm/shared/logger';
import {
  createMetricsRegistry,
  mountObservability,
  cachedReadiness,
  type MetricsListener,
  type ReadinessCheck,
} from '@kvm-crm/shared/metrics';
import { isPeerRefusal, verifiedClientCertificate, type ReloadableTls } from '@kvm-crm/shared/tls';
import { PrometheusAgentMetrics, type AgentSnapshot } from './adapters/prometheus-agent-metrics.js';
import type { DomainSummary } from './adapters/virsh.js';
import type { AgentOptions } from './agent-options.js';

/** Certificate roles that may read the agent's `/metrics`. */
export const AGENT_METRICS_READER_ROLES = ['manager', 'metrics'] as const;

/** What the agent's gauges read. */
export interface AgentMetricsSources {
  listDomains(): Promise<DomainSummary[]>;
  outboxEntries(): number;
  storageRoot: string;
  domainPrefix: string;
}

/** The storage root's file system: bytes available to unprivileged users and its size. */
export async function storageSpace(dir: string): Promise<{ freeBytes: number; sizeBytes: number }> {
  const s = await statfs(dir);
  return { freeBytes: s.bavail * s.bsize, sizeBytes: s.blocks * s.bsize };
}

/** A new registry and the agent's metrics in it. Call `attach` once the sources exist (the adapters need `command`). */
export function createAgentMetrics(): { metrics: PrometheusAgentMetrics; attach(sources: AgentMetricsSources): void } {
  let sources: AgentMetricsSources | undefined;
  const metrics = new PrometheusAgentMetrics(createMetricsRegistry(), async (): Promise<AgentSnapshot> => {
    if (!sources) throw new Error('the agent is starting');
    const src = sources;
    const [domains, storage] = await Promise.all([src.listDomains(), storageSpace(src.storageRoot)]);
    const byState = new Map<string, number>();
    for (const d of domains) if (d.name.startsWith(src.domainPrefix)) byState.set(d.state, (byState.get(d.state) ?? 0) + 1);
    return { outboxEntries: src.outboxEntries(), domainsByState: [...byState].map(([state, count]) => ({ state, count })), storage };
  });
  return { metrics, attach: (s) => void (sources = s) };
}

/**
 * The agent's readiness checks: `libvirt` (`version()` answers; failure class `unreachable`) and `storage` (a file
 * can be written and removed; `not writable`). Run through cachedReadiness: at most once per ~2 s.
 */
export function agentReadinessChecks(libvirt: { version(): Promise<string> }, storageRoot: string): ReadinessCheck[] {
  return [
    { name: 'libvirt', failure: 'unreachable', run: async () => void (await libvirt.version()) },
    {
      name: 'storage',
      failure: 'not writable',
      run: async () => {
        const probe = path.join(storageRoot, `.readyz-${process.pid}-${randomBytes(4).toString('hex')}`);
        await writeFile(probe, 'ok\n', { mode: 0o600, flag: 'wx' });
        await unlink(probe);
      },
    },
  ];
}

/**
 * Serves `/healthz`, `/readyz`, `/metrics` on `app` (mount it before the catch-all XML-RPC handler) and, with
 * `options.metrics.listen`, on a plain-HTTP listener, which the caller closes at stop.
 * @throws when the separate listener cannot bind its address.
 */
export async function mountAgentObservability(
  app: Express,
  parts: { metrics: PrometheusAgentMetrics; checks: ReadinessCheck[]; tls: ReloadableTls; options: Pick<AgentOptions, 'metrics'>; logger: Logger },
): Promise<MetricsListener | undefined> {
  const { metrics, tls, logger } = parts;
  const readiness = cachedReadiness(parts.checks); // at most one run per ~2 s, shared by /readyz and the gauges
  metrics.observeReadiness(readiness);
  return mountObservability(app, {
    registry: metrics.registry,
    readiness,
    authorize: async (req) => {
      const peer = verifiedClientCertificate(req.socket as TLSSocket, { isRevoked: (s) => tls.isRevoked(s) });
      if (isPeerRefusal(peer)) return { status: peer.missing ? 401 : 403, reason: peer.refusal };
      if (!(AGENT_METRICS_READER_ROLES as readonly string[]).includes(peer.role ?? '')) {
        return { status: 403, reason: `client certificate ${JSON.stringify(peer.commonName)} has role ${peer.role ?? '(none)'}; role manager or metrics is required` };
      }
      return undefined;
    },
    onRefused: (r) => metrics.authFailed('metrics', r.status),
    logger: logger.child({ endpoint: 'metrics' }),
  }, parts.options.metrics.listen);
}
