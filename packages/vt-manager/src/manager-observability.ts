/**
 * The manager's metrics and health endpoints (decision record 028): its own Prometheus registry, `/healthz`,
 * `/readyz` (database reachable, every migration applied, TLS material loaded) and `/metrics` on the HTTPS port for
 * principals with role `metrics` or `admin` (HTTP Basic, or a client certificate of role `metrics`/`admin` whose CN
 * names such a principal), and, with `metrics.listen`, the same three paths over plain HTTP on a separate address.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Express } from 'express';
import type { DataSource } from 'typeorm';
import {
  cachedReadiness,
  createMetricsRegistry,
  isPeerRefusal,
  mountObservability,
  RateLimitedError,
  readBasicCredentials,
  verifiedClientCertificate,
  type Logger,
  type MetricsListener,
  type MetricsRefusal,
  type ReadinessCheck,
  type ReloadableTls,
} from '@kvm-crm/shared';
import { PrometheusManagerMetrics } from './adapters/prometheus-manager-metrics.js';
import type { ManagerOptions } from './manager-options.js';
import type { BasicAuthenticator } from './services/basic-authenticator.js';
import { MetricsSnapshotService } from './services/metrics-snapshot-service.js';
import type { PrincipalService } from './services/principal-service.js';

/** Roles that may read `/metrics` on the HTTPS port. */
export const METRICS_READER_ROLES = ['metrics', 'admin'] as const;

/** A new registry and the manager's metrics in it, reading gauges from `dataSource` at scrape time. */
export function createManagerMetrics(dataSource: DataSource, options: Pick<ManagerOptions, 'capacity'>): PrometheusManagerMetrics {
  const snapshots = new MetricsSnapshotService(() => dataSource.manager, options.capacity);
  return new PrometheusManagerMetrics(createMetricsRegistry(), () => snapshots.read());
}

/**
 * The manager's readiness checks: `database` (`SELECT 1`; failure class `unreachable`), `migrations` (one read of
 * typeorm's migrations table, compared with the migrations this build knows; `not migrated`; never creates the
 * table, unlike `showMigrations()`), `tls` (certificate not expired; `expired`). Each statement takes a pooled
 * connection and gives it back, also on error.
 */
export function managerReadinessChecks(dataSource: DataSource, tls: ReloadableTls): ReadinessCheck[] {
  const table = dataSource.driver.escape(dataSource.options.migrationsTableName ?? 'migrations');
  return [
    { name: 'database', failure: 'unreachable', run: async () => void (await dataSource.query('SELECT 1')) },
    {
      name: 'migrations',
      failure: 'not migrated',
      run: async () => {
        const applied = new Set(((await dataSource.query(`SELECT name FROM ${table}`)) as Array<{ name: string }>).map((r) => r.name));
        const pending = dataSource.migrations.map((m) => m.name ?? m.constructor.name).filter((n) => !applied.has(n));
        if (pending.length) throw new Error(`${pending.length} database migration(s) pending (${pending.slice(0, 3).join(', ')}…): run the manager's migrations (it applies them at start)`);
      },
    },
    {
      name: 'tls',
      failure: 'expired',
      run: async () => {
        const c = tls.current.certificate;
        if (c.notAfter.getTime() <= Date.now()) throw new Error(`our certificate ${c.commonName} expired at ${c.notAfter.toISOString()}`);
      },
    },
  ];
}

/** What {@link mountManagerObservability} needs. */
export interface ManagerObservabilityParts {
  metrics: PrometheusManagerMetrics;
  dataSource: DataSource;
  tls: ReloadableTls;
  authenticator: BasicAuthenticator;
  principals: PrincipalService;
  options: Pick<ManagerOptions, 'metrics'>;
  logger: Logger;
}

/**
 * Serves `/healthz`, `/readyz`, `/metrics` on `app` and, when `options.metrics.listen` is set, on a plain-HTTP
 * listener. Resolves with the listener (undefined without one); close it when the manager stops.
 * @throws when the separate listener cannot bind its address.
 */
export async function mountManagerObservability(app: Express, parts: ManagerObservabilityParts): Promise<MetricsListener | undefined> {
  const { metrics, dataSource, tls, authenticator, principals, logger } = parts;
  const checks = managerReadinessChecks(dataSource, tls);
  const readiness = cachedReadiness(checks); // shared by /readyz (both ports) and the scrape-time gauges
  metrics.observeReadiness(readiness);
  const authorize = async (req: IncomingMessage): Promise<MetricsRefusal | undefined> => {
    const c = readBasicCredentials(req);
    if (c) {
      try {
        const p = await authenticator.authenticate(c.user, c.pass, METRICS_READER_ROLES, req.socket.remoteAddress ?? 'unknown');
        return p ? undefined : { status: 401, reason: 'authentication failed or no metrics/admin role' };
      } catch (err) {
        if (err instanceof RateLimitedError) return { status: 429, reason: err.message };
        throw err;
      }
    }
    const peer = verifiedClientCertificate(req.socket as TLSSocket, { isRevoked: (s) => tls.isRevoked(s) });
    if (isPeerRefusal(peer)) return peer.missing ? { status: 401, reason: 'credentials required (role metrics or admin)' } : { status: 403, reason: peer.refusal };
    if (!(METRICS_READER_ROLES as readonly string[]).includes(peer.role ?? '')) return { status: 403, reason: `client certificate role ${peer.role ?? '(none)'} may not read metrics` };
    const principal = await principals.find(peer.commonName);
    if (!principal?.roles.some((r) => (METRICS_READER_ROLES as readonly string[]).includes(r))) return { status: 403, reason: `principal ${peer.commonName} has no metrics or admin role` };
    return undefined;
  };
  return mountObservability(app, {
    registry: metrics.registry, readiness, authorize, onRefused: (r) => metrics.authFailed('metrics', r.status), logger: logger.child({ endpoint: 'metrics' }),
  }, parts.options.metrics.listen);
}
