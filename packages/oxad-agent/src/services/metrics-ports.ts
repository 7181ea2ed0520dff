/**
 * The metrics the agent's services report (decision record 028). Services never import prom-client: the Prometheus
 * implementation is adapters/prometheus-agent-metrics.ts; {@link NO_AGENT_METRICS} counts nothing (unit tests).
 */

/** Counters and durations of provisioning actions run by this agent. */
export interface AgentActionMetrics {
  /** An action ended; called once per executed action with its type, result and seconds from ONGOING to the end. */
  actionFinished(type: string, result: 'SUCCESS' | 'FAILED', seconds: number): void;
}

/** Metrics that count nothing. */
export const NO_AGENT_METRICS: AgentActionMetrics = { actionFinished: () => undefined };
