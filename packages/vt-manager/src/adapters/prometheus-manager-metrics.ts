/**
 * The manager's Prometheus metrics (decision record 028), in the instance's own registry: counters and histograms
 * the services feed through the ports of services/metrics-ports.ts, the XML-RPC observers of the endpoints, and
 * gauges computed at scrape time (`collect()`) from one {@link ManagerSnapshot} per scrape. Every metric name is
 * listed in docs/metrics.md (generated from this registry by scripts/gen-metrics-doc.mjs).
 */
import { boundedLabel, PROVISIONING_ACTION_TYPES, registerReadinessGauge, sharedSnapshot, type ReadinessReport, type XmlRpcObserver } from '@kvm-crm/shared';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ActionMetrics, DeliveryMetrics } from '../services/metrics-ports.js';
import type { ManagerSnapshot } from '../services/metrics-snapshot-service.js';

/** Action types as label values; anything else counts as `other`. */
const ACTION_TYPES: readonly string[] = [...PROVISIONING_ACTION_TYPES, 'migrate'];

/** Buckets of action durations in seconds: a start takes a second, a create with a full copy minutes. */
export const ACTION_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** The manager's metrics; implements the service ports. */
export class PrometheusManagerMetrics implements ActionMetrics, DeliveryMetrics {
  private readonly actions: Counter<'type' | 'result'>;
  private readonly actionSeconds: Histogram<'type'>;
  private readonly deliveryFailures: Counter<'outcome'>;
  private readonly xmlrpcRequests: Counter<'endpoint' | 'method' | 'fault'>;
  private readonly xmlrpcSeconds: Histogram<'endpoint'>;
  private readonly authFailures: Counter<'endpoint' | 'status'>;

  /**
   * Registers every metric in `registry`. `snapshot` reads the database state (MetricsSnapshotService.read); it is
   * called at most once per scrape (see sharedSnapshot). A failed read leaves the gauges it fills out of that scrape
   * (never stale numbers); the readiness gauge says what failed. `snapshotMaxAgeMs` (default 1000) is how long one read
   * serves further gauges and scrapes (0: every gauge reads again; tests).
   */
  constructor(readonly registry: Registry, snapshot: () => Promise<ManagerSnapshot>, snapshotMaxAgeMs = 1000) {
    const registers = [registry];
    this.actions = new Counter({ name: 'kvmcrm_actions_total', help: 'Actions that reached a terminal status, by type and result (SUCCESS or FAILED).', labelNames: ['type', 'result'], registers });
    this.actionSeconds = new Histogram({ name: 'kvmcrm_action_duration_seconds', help: 'Seconds from the intake of an action to its terminal status, by type.', labelNames: ['type'], buckets: ACTION_DURATION_BUCKETS, registers });
    this.deliveryFailures = new Counter({ name: 'kvmcrm_callback_delivery_failures_total', help: 'Failed callback delivery attempts of the notification outbox; outcome retry (tried again later) or given_up (row dropped).', labelNames: ['outcome'], registers });
    this.xmlrpcRequests = new Counter({ name: 'kvmcrm_xmlrpc_requests_total', help: 'XML-RPC calls answered, by endpoint, method and fault class ("" for a result).', labelNames: ['endpoint', 'method', 'fault'], registers });
    this.xmlrpcSeconds = new Histogram({ name: 'kvmcrm_xmlrpc_request_duration_seconds', help: 'Seconds from an XML-RPC request to its answer, by endpoint.', labelNames: ['endpoint'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.authFailures = new Counter({ name: 'kvmcrm_auth_failures_total', help: 'Requests refused before any work: HTTP 401 (authentication), 403 (not allowed) or 429 (login throttled), by endpoint.', labelNames: ['endpoint', 'status'], registers });

    const read = sharedSnapshot(snapshot, snapshotMaxAgeMs);
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>, s: ManagerSnapshot) => void) =>
      new Gauge<L>({
        name, help, labelNames, registers,
        async collect() {
          // A failed read (database or libvirt down) leaves these gauges out of this scrape (NaN for a gauge without
          // labels, which prom-client always prints); counters, histograms and the readiness gauge are still served.
          const s = await read().catch(() => undefined);
          this.reset();
          if (s) fill(this, s);
          else if (labelNames.length === 0) this.set(NaN);
        },
      });
    gauge('kvmcrm_actions_in_flight', 'Actions not finished yet (QUEUED or ONGOING), by type and status; all managers of the database.', ['type', 'status'], (g, s) => {
      for (const a of s.actionsInFlight) g.set({ type: a.type, status: a.status }, a.count);
    });
    gauge('kvmcrm_notification_outbox_rows', 'Rows waiting in the callback notification outbox.', [], (g, s) => g.set(s.outbox.rows));
    gauge('kvmcrm_notification_outbox_oldest_age_seconds', 'Age in seconds of the oldest row in the notification outbox (0 when empty).', [], (g, s) => g.set(s.outbox.oldestAgeSeconds));
    gauge('kvmcrm_agent_up', 'Whether the manager\'s last contact with the server\'s agent worked (1) or not (0).', ['server'], (g, s) => {
      for (const h of s.hosts) g.set({ server: h.host }, h.up);
    });
    gauge('kvmcrm_host_schedulable', 'Whether new VMs may be placed on the host (enabled and not draining: 1).', ['server'], (g, s) => {
      for (const h of s.hosts) g.set({ server: h.host }, h.schedulable);
    });
    const capacity = (what: 'vcpus' | 'memoryBytes' | 'diskBytes', name: string, unit: string) => {
      gauge(`kvmcrm_host_${name}`, `${unit} that may be promised to VMs on the host (reported size × overcommit); absent until the agent reported the size.`, ['server'], (g, s) => {
        for (const h of s.hosts) if (h[what].total !== null) g.set({ server: h.host }, h[what].total);
      });
      gauge(`kvmcrm_host_${name.replace(/_bytes$/, '')}_allocated${name.endsWith('_bytes') ? '_bytes' : ''}`, `${unit} promised to the host's VMs.`, ['server'], (g, s) => {
        for (const h of s.hosts) g.set({ server: h.host }, h[what].allocated);
      });
    };
    capacity('vcpus', 'vcpus', 'Virtual CPUs');
    capacity('memoryBytes', 'memory_bytes', 'Memory in bytes');
    capacity('diskBytes', 'disk_bytes', 'Disk in bytes');
    gauge('kvmcrm_host_vms', 'VMs on the host.', ['server'], (g, s) => {
      for (const h of s.hosts) g.set({ server: h.host }, h.vms);
    });
    gauge('kvmcrm_vms', 'VMs by state.', ['state'], (g, s) => {
      for (const v of s.vmsByState) g.set({ state: v.state }, v.count);
    });
    gauge('kvmcrm_pool_addresses', 'Addresses in each IPv4 or MAC range.', ['kind', 'range'], (g, s) => {
      for (const p of s.pools) g.set({ kind: p.kind, range: p.name }, p.size);
    });
    gauge('kvmcrm_pool_free_addresses', 'Addresses of each IPv4 or MAC range neither allocated nor excluded.', ['kind', 'range'], (g, s) => {
      for (const p of s.pools) g.set({ kind: p.kind, range: p.name }, Math.max(0, p.size - p.taken));
    });
  }

  /**
   * Registers `kvmcrm_readiness_check_ok{check}` (1 passed, 0 failed), running the readiness checks at each scrape
   * (the same checks as `/readyz`). Call once.
   */
  observeReadiness(readiness: () => Promise<ReadinessReport>): void {
    registerReadinessGauge(this.registry, 'kvmcrm_readiness_check_ok', readiness);
  }

  /** See ActionMetrics.actionFinished: `kvmcrm_actions_total` +1 and one `kvmcrm_action_duration_seconds` sample. */
  actionFinished(type: string, result: 'SUCCESS' | 'FAILED', seconds: number): void {
    const t = boundedLabel(type, ACTION_TYPES);
    this.actions.inc({ type: t, result });
    this.actionSeconds.observe({ type: t }, seconds);
  }

  /** See DeliveryMetrics.deliveryFailed: `kvmcrm_callback_delivery_failures_total{outcome}` +1. */
  deliveryFailed(givenUp: boolean): void {
    this.deliveryFailures.inc({ outcome: givenUp ? 'given_up' : 'retry' });
  }

  /** A refused request on `endpoint` (`plugin`, `admin`, `agent`, `metrics`, …) with HTTP `status`. */
  authFailed(endpoint: string, status: number): void {
    this.authFailures.inc({ endpoint, status: String(status) });
  }

  /** The observer of one XML-RPC endpoint (`plugin`, `agent`, `admin`, `geni`). */
  xmlrpc(endpoint: string): XmlRpcObserver {
    return {
      call: (method, fault, seconds) => {
        this.xmlrpcRequests.inc({ endpoint, method, fault: fault ?? '' });
        this.xmlrpcSeconds.observe({ endpoint }, seconds);
      },
      refused: (status) => this.authFailed(endpoint, status),
    };
  }
}
