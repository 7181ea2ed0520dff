/** The `metrics` options of both daemons (decision record 028). */
import { z } from 'zod';

/**
 * `metrics.listen` (optional, default none): also serve `/metrics`, `/healthz` and `/readyz` over plain HTTP,
 * without authentication, on this `host` (default `127.0.0.1`) and `port` (0–65535, 0 = any free port). Meant for
 * loopback or a dedicated scrape network: anyone who can reach it reads the metrics (docs/security.md). Without it,
 * `/metrics` is served only on the daemon's TLS port, to authorised callers.
 */
export const metricsOptionsSchema = z
  .object({
    listen: z.object({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535) }).strict().optional(),
  })
  .strict()
  .prefault({});

/** Validated `metrics` options. */
export type MetricsOptions = z.infer<typeof metricsOptionsSchema>;
