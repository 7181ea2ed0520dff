/**
 * Mounts the web dashboard on the manager's HTTPS app (decision record 029): the JSON controller at `/ui/api`
 * (dashboard-api.ts) and the built front end (packages/dashboard/dist, Vite) at `/ui/`. Every `/ui` answer carries
 * a strict Content-Security-Policy (scripts, styles, images and fetches from this origin only; no inline script or
 * style; no framing), `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`. Hashed files under
 * `/ui/assets/` are cached for a year (immutable); `index.html` is revalidated on every load.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import { dashboardApi, type DashboardApiDeps } from './dashboard-api.js';

/** The Content-Security-Policy of every `/ui` answer. */
export const DASHBOARD_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "font-src 'self'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

/** Where the built front end lies by default: packages/dashboard/dist beside this package (also under /opt/kvm-crm). */
export function defaultDashboardAssetsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../dashboard/dist');
}

/**
 * Adds `/ui/api/*` and `/ui/*` to `app`. When `assetsDir` has no `index.html` (front end not built), `/ui/` answers
 * 503 with a line saying so and the API still works.
 */
export function mountDashboard(app: Express, deps: DashboardApiDeps & { assetsDir?: string }): void {
  const assetsDir = deps.assetsDir ?? defaultDashboardAssetsDir();
  app.use('/ui', (_req, res, next) => {
    res.set({ 'Content-Security-Policy': DASHBOARD_CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' });
    next();
  });
  app.use('/ui/api', dashboardApi(deps));
  app.get('/ui', (req, res, next) => (req.originalUrl === '/ui' ? res.redirect(301, '/ui/') : next()));
  app.use('/ui/assets', express.static(join(assetsDir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }));
  app.use('/ui', express.static(assetsDir, { index: 'index.html', maxAge: 0, setHeaders: (res) => res.set('Cache-Control', 'no-cache') }));
  if (!existsSync(join(assetsDir, 'index.html'))) deps.logger.warn('dashboard front end not built: /ui/ answers 503', { assetsDir });
  app.get('/ui/', (_req, res) => {
    res.status(503).type('text/plain').send('the dashboard front end is not built (npm run build -w @kvm-crm/dashboard)\n');
  });
}
