/**
 * Readiness (`/readyz`): a list of named checks, each run with a timeout; ready when every one passes. The JSON
 * answer names each check and, for a failed one, why (decision record 028): a generic reason class (`timeout`,
 * `unreachable`, `not migrated`, …) to anyone, the full error text only to authenticated callers and the log.
 * {@link cachedReadiness} bounds the work: one run at a time, its report reused for ~2 s.
 */
import { describeError } from '../errors.js';

/** One readiness check: resolves when the dependency is usable. @throws (any error) saying what is wrong. */
export interface ReadinessCheck {
  /** Short name, e.g. `database`, `migrations`, `tls`, `libvirt`, `storage`. */
  name: string;
  /** Generic reason class shown to unauthenticated callers when the check fails (default `failed`), e.g. `unreachable`. */
  failure?: string;
  run(): Promise<void>;
}

/**
 * The outcome of one check; `reason` (generic class: `timeout` or the check's `failure`) and `error` (the full
 * text, which may name hosts and users) only when it failed. `seconds` is how long it took.
 */
export interface ReadinessCheckResult {
  name: string;
  ok: boolean;
  seconds: number;
  reason?: string;
  error?: string;
}

/** The `/readyz` body: `ready` true when every check passed; `failed` lists the names that did not. */
export interface ReadinessReport {
  ready: boolean;
  status: 'ready' | 'not ready';
  failed: string[];
  checks: ReadinessCheckResult[];
}

/**
 * Runs the checks concurrently, each bounded by `timeoutSeconds` (default 5; a check still running then counts as
 * failed with "timed out after N s"). Never throws.
 */
export async function runReadinessChecks(checks: readonly ReadinessCheck[], timeoutSeconds = 5): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(async (c): Promise<ReadinessCheckResult> => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ReadinessTimeout(`timed out after ${timeoutSeconds} s`)), timeoutSeconds * 1000);
    });
    try {
      await Promise.race([c.run(), timeout]);
      return { name: c.name, ok: true, seconds: round((performance.now() - started) / 1000) };
    } catch (err) {
      const reason = err instanceof ReadinessTimeout ? 'timeout' : c.failure ?? 'failed';
      return { name: c.name, ok: false, seconds: round((performance.now() - started) / 1000), reason, error: describeError(err) };
    } finally {
      clearTimeout(timer);
    }
  }));
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  return { ready: failed.length === 0, status: failed.length === 0 ? 'ready' : 'not ready', failed, checks: results };
}

const round = (s: number) => Math.round(s * 1000) / 1000;

class ReadinessTimeout extends Error {}

/**
 * {@link runReadinessChecks} behind a single flight and a short cache: concurrent callers share the run in
 * progress, and a finished report is reused for `ttlSeconds` (default 2), so `/readyz` requests and metric scrapes
 * at any rate run the checks at most about once per `ttlSeconds` (a check that ignores its timeout still runs once,
 * never piled up). Never throws.
 */
export function cachedReadiness(checks: readonly ReadinessCheck[], options: { ttlSeconds?: number; timeoutSeconds?: number } = {}): () => Promise<ReadinessReport> {
  const ttlMs = (options.ttlSeconds ?? 2) * 1000;
  let inFlight: Promise<ReadinessReport> | undefined;
  let last: { at: number; report: ReadinessReport } | undefined;
  return () => {
    if (last && performance.now() - last.at < ttlMs) return Promise.resolve(last.report);
    inFlight ??= runReadinessChecks(checks, options.timeoutSeconds).then((report) => {
      last = { at: performance.now(), report };
      inFlight = undefined;
      return report;
    });
    return inFlight;
  };
}

/** The report for callers who are not authenticated: each check's name, ok and generic reason; no error text, no timings. */
export function publicReadinessReport(report: ReadinessReport): { ready: boolean; status: ReadinessReport['status']; failed: string[]; checks: Array<{ name: string; ok: boolean; reason?: string }> } {
  return {
    ready: report.ready,
    status: report.status,
    failed: report.failed,
    checks: report.checks.map((c) => (c.ok ? { name: c.name, ok: true } : { name: c.name, ok: false, reason: c.reason ?? 'failed' })),
  };
}
