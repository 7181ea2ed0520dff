/**
 * The observability endpoints of both daemons (decision record 028): `GET /healthz` (the process answers),
 * `GET /readyz` (every readiness check passes: 200, else 503; JSON naming each check, error texts only for
 * callers `authorize` allows) and `GET /metrics` (the
 * instance's Prometheus registry, text exposition format 0.0.4). Served on the daemon's HTTPS port, where
 * `/metrics` asks `authorize`, and optionally on a separate plain-HTTP listener (`metrics.listen`) meant for
 * loopback or a scrape network, where it does not.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { Registry } from 'prom-client';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { closeServer, listen } from '../xmlrpc/https-server.js';
import { publicReadinessReport, type ReadinessReport } from './readiness.js';

/** Why a `/metrics` request is refused: HTTP 401 (no or bad credentials; a Basic challenge is sent) or 403. */
export interface MetricsRefusal {
  status: 401 | 403 | 429;
  reason: string;
}

/** Options of {@link observabilityHandler}. */
export interface ObservabilityOptions {
  registry: Registry;
  /** Runs the readiness checks (see readiness.ts; pass {@link cachedReadiness}'s function to bound the work). */
  readiness: () => Promise<ReadinessReport>;
  /**
   * Who may read `/metrics`: resolves undefined to allow, or a refusal. Omitted: everyone may (the separate
   * listener). May throw; a throw answers 500. Also asked on `/readyz`: only allowed callers get the checks' full
   * error texts; everyone else (and every caller on the separate listener) gets names, ok and generic reasons.
   */
  authorize?: (req: IncomingMessage) => Promise<MetricsRefusal | undefined>;
  /** Called for each refused `/metrics` request (the auth failure counter). */
  onRefused?: (refusal: MetricsRefusal) => void;
  logger: Logger;
}

/** The paths served by {@link observabilityHandler}. */
export const OBSERVABILITY_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

const started = Date.now();

/**
 * A request handler for the three paths. Returns false (and touches nothing) for any other path or for a method other
 * than GET/HEAD, so the caller passes the request on (express: `next()`).
 */
export function observabilityHandler(options: ObservabilityOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!(OBSERVABILITY_PATHS as readonly string[]).includes(path) || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    void serve(path, req, res, options).catch((err: unknown) => {
      options.logger.warn('observability request failed', { path, error: describeError(err) });
      if (!res.headersSent) sendJson(res, 500, { status: 'error', error: 'internal error' });
      else res.end();
    });
    return true;
  };
}

async function serve(path: string, req: IncomingMessage, res: ServerResponse, options: ObservabilityOptions): Promise<void> {
  if (path === '/healthz') {
    sendJson(res, 200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000) });
    return;
  }
  if (path === '/readyz') {
    const report = await options.readiness();
    if (!report.ready) options.logger.warn('not ready', { failed: report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error ?? c.reason ?? 'failed'}`) });
    const full = options.authorize !== undefined && (await options.authorize(req).catch(() => ({ status: 403 as const, reason: 'error' }))) === undefined;
    sendJson(res, report.ready ? 200 : 503, full ? report : publicReadinessReport(report));
    return;
  }
  const refusal = options.authorize ? await options.authorize(req) : undefined;
  if (refusal) {
    options.onRefused?.(refusal);
    options.logger.warn('metrics request refused', { remote: req.socket.remoteAddress, status: refusal.status, reason: refusal.reason });
    if (refusal.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="kvm-crm metrics"');
    res.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${refusal.reason}\n`);
    return;
  }
  const body = await options.registry.metrics();
  res.writeHead(200, { 'content-type': options.registry.contentType, 'cache-control': 'no-store' }).end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
}

/** A running separate metrics listener. */
export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `/healthz`, `/readyz` and `/metrics` (no authentication) over plain HTTP on `host:port` (port 0: any free
 * port); every other path gets 404. Meant for 127.0.0.1 or a dedicated scrape network (see docs/security.md).
 * @throws when the address cannot be bound.
 */
export async function startMetricsListener(
  address: { host: string; port: number },
  options: Omit<ObservabilityOptions, 'authorize' | 'onRefused'>,
): Promise<MetricsListener> {
  const handle = observabilityHandler(options);
  const server: Server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /metrics, /healthz, /readyz\n');
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const port = await listen(server, address.port, address.host);
  options.logger.info('metrics listener (plain HTTP)', { host: address.host, port });
  return { port, close: () => closeServer(server) };
}

/**
 * Mounts the endpoints on a daemon's express `app` (its HTTPS port, `/metrics` asking `options.authorize`) and, when
 * `listen` is set (`metrics.listen`), starts the plain-HTTP listener with the same registry and readiness.
 * Returns that listener, or undefined.
 * @throws Error naming `metrics.listen host:port` when the listener's address cannot be bound.
 */
export async function mountObservability(
  app: Express,
  options: ObservabilityOptions,
  listen: { host: string; port: number } | undefined,
): Promise<MetricsListener | undefined> {
  const handle = observabilityHandler(options);
  app.use((req, res, next) => {
    if (!handle(req, res)) next();
  });
  if (!listen) return undefined;
  try {
    return await startMetricsListener(listen, { registry: options.registry, readiness: options.readiness, logger: options.logger.child({ endpoint: 'metrics-listener' }) });
  } catch (err) {
    throw new Error(`metrics.listen ${listen.host}:${listen.port}: ${describeError(err)}`, { cause: err });
  }
}
