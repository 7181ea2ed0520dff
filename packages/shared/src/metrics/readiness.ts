/**
 * Readiness (`/readyz`): a list of named checks, each run with a timeout; ready when every one passes. The JSON
 * answer names each check and, for a failed one, why (decision record 028).
 */
import { describeError } from '../errors.js';

/** One readiness check: resolves when the dependency is usable. @throws (any error) saying what is wrong. */
export interface ReadinessCheck {
  /** Short name, e.g. `database`, `migrations`, `tls`, `libvirt`, `storage`. */
  name: string;
  run(): Promise<void>;
}

/** The outcome of one check; `error` only when it failed. `seconds` is how long it took. */
export interface ReadinessCheckResult {
  name: string;
  ok: boolean;
  seconds: number;
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
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutSeconds} s`)), timeoutSeconds * 1000);
    });
    try {
      await Promise.race([c.run(), timeout]);
      return { name: c.name, ok: true, seconds: round((performance.now() - started) / 1000) };
    } catch (err) {
      return { name: c.name, ok: false, seconds: round((performance.now() - started) / 1000), error: describeError(err) };
    } finally {
      clearTimeout(timer);
    }
  }));
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  return { ready: failed.length === 0, status: failed.length === 0 ? 'ready' : 'not ready', failed, checks: results };
}

const round = (s: number) => Math.round(s * 1000) / 1000;
