/**
 * The metrics the manager's services report, as small interfaces (decision record 028). Services never import
 * prom-client: the Prometheus implementation is adapters/prometheus-manager-metrics.ts; {@link NO_METRICS} is the
 * default when none is given (unit tests, tools).
 */

/** Counters and durations of actions. */
export interface ActionMetrics {
  /**
   * An action reached its terminal status; called exactly once per action, by the code that made the one
   * conditional UPDATE to SUCCESS or FAILED. `type` is the action type (`create`, `start`, …, `migrate`);
   * `seconds` runs from the action's creation (intake) to its end.
   */
  actionFinished(type: string, result: 'SUCCESS' | 'FAILED', seconds: number): void;
}

/** Callback deliveries of the notification outbox. */
export interface DeliveryMetrics {
  /** One delivery attempt failed; `givenUp` when the row was dropped after its last attempt. */
  deliveryFailed(givenUp: boolean): void;
}

/** Metrics that count nothing. */
export const NO_METRICS: ActionMetrics & DeliveryMetrics = {
  actionFinished: () => undefined,
  deliveryFailed: () => undefined,
};

/** Seconds from `createdAt` to now (never negative). */
export function secondsSince(createdAt: Date, now = Date.now()): number {
  return Math.max(0, (now - createdAt.getTime()) / 1000);
}
