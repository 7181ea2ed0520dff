/**
 * One Prometheus registry per daemon instance (decision record 028). prom-client's global default registry is never
 * used: the tests start several managers and agents in one process, and each must expose only its own metrics.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ReadinessReport } from './readiness.js';

export { Registry } from 'prom-client';

/**
 * A new registry holding prom-client's default process metrics (CPU seconds, resident memory bytes, open file
 * descriptors, heap sizes, GC durations, `nodejs_eventloop_lag_seconds` and its percentiles).
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Wraps a scrape-time reader so that the gauges filled from one snapshot (a few aggregate SELECTs, a `virsh list`)
 * share one read per scrape: a call within `maxAgeMs` (default 1000 ms) of the last one, or while it is still running,
 * gets the same promise. A failed read is not kept.
 */
export function sharedSnapshot<T>(read: () => Promise<T>, maxAgeMs = 1000, now: () => number = Date.now): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (last && now() - last.at < maxAgeMs) return last.value;
    const value = read();
    const entry = { at: now(), value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = undefined;
    });
    return value;
  };
}

/** The value of `label` when it is one of `known`, else `other`: label values must come from a bounded set. */
export function boundedLabel(value: string | undefined, known: readonly string[]): string {
  return value !== undefined && known.includes(value) ? value : 'other';
}

/**
 * Registers the gauge `name{check}` on `registry` (1 passed, 0 failed), running `readiness` (the same checks as
 * `/readyz`) at each scrape (decision record 028). Call once per registry; the manager names it
 * `kvmcrm_readiness_check_ok`, the agent `kvmcrm_agent_readiness_check_ok`.
 */
export function registerReadinessGauge(registry: Registry, name: string, readiness: () => Promise<ReadinessReport>): void {
  new Gauge({
    name, help: 'Each /readyz check at scrape time: 1 passed, 0 failed.', labelNames: ['check'], registers: [registry],
    async collect() {
      const report = await readiness();
      this.reset();
      for (const c of report.checks) this.set({ check: c.name }, c.ok ? 1 : 0);
    },
  });
}
