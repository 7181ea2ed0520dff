/**
 * The agent's Prometheus metrics (decision record 028), in the instance's own registry: action counters and
 * durations (fed through services/metrics-ports.ts), `virsh`/`qemu-img` durations by sub-command (the adapters'
 * CommandObserver), XML-RPC calls and refusals, and gauges read at scrape time (`collect()`) from one
 * {@link AgentSnapshot}: the status outbox, our domains by state, the storage root's file system. Every name is
 * listed in docs/metrics.md.
 */
import { boundedLabel, registerReadinessGauge, sharedSnapshot, type ReadinessReport } from '@kvm-crm/shared/metrics';
import { PROVISIONING_ACTION_TYPES } from '@kvm-crm/shared/rspec';
import type { XmlRpcObserver } from '@kvm-crm/shared/xmlrpc';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AgentActionMetrics } from '../services/metrics-ports.js';
import type { CommandObserver } from './run-command.js';

/** What the agent's gauges show, read at one moment. */
export interface AgentSnapshot {
  /** Statuses and events waiting in the durable outbox. */
  outboxEntries: number;
  /** Our domains (name with the agent's prefix) by libvirt state. */
  domainsByState: Array<{ state: string; count: number }>;
  /** The storage root's file system: bytes available to us and its size. */
  storage: { freeBytes: number; sizeBytes: number };
}

/** The agent's metrics; implements the service port and observes the command adapters. */
export class PrometheusAgentMetrics implements AgentActionMetrics {
  private readonly actions: Counter<'type' | 'result'>;
  private readonly actionSeconds: Histogram<'type'>;
  private readonly commandSeconds: Histogram<'program' | 'command' | 'result'>;
  private readonly xmlrpcRequests: Counter<'method' | 'fault'>;
  private readonly authFailures: Counter<'endpoint' | 'status'>;

  /** Registers every metric in `registry`; `snapshot` is read at most once per scrape (a failed read leaves its gauges out). */
  constructor(readonly registry: Registry, snapshot: () => Promise<AgentSnapshot>) {
    const registers = [registry];
    this.actions = new Counter({ name: 'kvmcrm_agent_actions_total', help: 'Provisioning actions this agent ran, by type and result (SUCCESS or FAILED).', labelNames: ['type', 'result'], registers });
    this.actionSeconds = new Histogram({ name: 'kvmcrm_agent_action_duration_seconds', help: 'Seconds from ONGOING to the terminal status of an action on this agent, by type.', labelNames: ['type'], buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800], registers });
    this.commandSeconds = new Histogram({ name: 'kvmcrm_agent_command_duration_seconds', help: 'Seconds each virsh or qemu-img run, and each call on the held-open libvirt connection (program libvirt, decision 041), took, by program, sub-command and result (ok or error).', labelNames: ['program', 'command', 'result'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800], registers });
    this.xmlrpcRequests = new Counter({ name: 'kvmcrm_agent_xmlrpc_requests_total', help: 'XML-RPC calls answered by this agent, by method and fault class ("" for a result).', labelNames: ['method', 'fault'], registers });
    this.authFailures = new Counter({ name: 'kvmcrm_agent_auth_failures_total', help: 'Requests this agent refused before any work (HTTP 401/403), by endpoint.', labelNames: ['endpoint', 'status'], registers });

    const read = sharedSnapshot(snapshot);
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>, s: AgentSnapshot) => void) =>
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
    gauge('kvmcrm_agent_status_outbox_entries', 'Provisioning statuses and events waiting in the agent\'s durable outbox for the manager.', [], (g, s) => g.set(s.outboxEntries));
    gauge('kvmcrm_agent_domains', 'This agent\'s libvirt domains (the agent\'s name prefix) by state.', ['state'], (g, s) => {
      for (const d of s.domainsByState) g.set({ state: d.state }, d.count);
    });
    gauge('kvmcrm_agent_storage_free_bytes', 'Bytes available (to unprivileged users) on the file system of the storage root.', [], (g, s) => g.set(s.storage.freeBytes));
    gauge('kvmcrm_agent_storage_size_bytes', 'Size in bytes of the file system of the storage root.', [], (g, s) => g.set(s.storage.sizeBytes));
  }

  /**
   * Registers `kvmcrm_agent_readiness_check_ok{check}` (1 passed, 0 failed), running the readiness checks at each scrape
   * (the same checks as `/readyz`). Call once.
   */
  observeReadiness(readiness: () => Promise<ReadinessReport>): void {
    registerReadinessGauge(this.registry, 'kvmcrm_agent_readiness_check_ok', readiness);
  }

  /** See AgentActionMetrics.actionFinished: `kvmcrm_agent_actions_total` +1 and one duration sample. */
  actionFinished(type: string, result: 'SUCCESS' | 'FAILED', seconds: number): void {
    const t = boundedLabel(type, PROVISIONING_ACTION_TYPES);
    this.actions.inc({ type: t, result });
    this.actionSeconds.observe({ type: t }, seconds);
  }

  /** The observer given to Virsh and QemuImg. */
  readonly command: CommandObserver = (program, command, seconds, failed) => {
    this.commandSeconds.observe({ program, command, result: failed ? 'error' : 'ok' }, seconds);
  };

  /** A refused request on `endpoint` (`xmlrpc`, `metrics`) with HTTP `status`. */
  authFailed(endpoint: string, status: number): void {
    this.authFailures.inc({ endpoint, status: String(status) });
  }

  /** The observer of the agent's XML-RPC endpoint. */
  readonly xmlrpc: XmlRpcObserver = {
    call: (method, fault) => this.xmlrpcRequests.inc({ method, fault: fault ?? '' }),
    refused: (status) => this.authFailed('xmlrpc', status),
  };
}
