/**
 * HTTPS listeners for the daemons, with our CA for (optional) client certificates, and the connection limits that
 * keep slow or idle clients from holding the daemon (docs/security.md "Input limits").
 *
 * Idle keep-alive connections are closed gracefully: TLS close_notify, then FIN (`socket.end()`), never a bare
 * socket destroy. Python's `xmlrpc.client`/`xmlrpclib` (Expedient, the FELIX tools) retry a call once when a kept
 * connection turns out closed, but only when the close was clean; an abrupt one surfaces as `SSLEOFError` /
 * "unexpected eof" and the call fails.
 */
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { RequestListener, Server as HttpServer } from 'node:http';
import { z } from 'zod';
import { protocolContextOptions, type ServerTls } from '../tls/index.js';

/**
 * Connection limits of a daemon's HTTPS listener (`http` in both daemons' options). Every default is given here.
 */
export const httpServerOptionsSchema = z.object({
  keepAliveTimeoutSeconds: z.number().positive().max(3600).default(75)
    .describe(
      'Seconds an idle keep-alive connection stays open for the client\'s next call; then it is closed gracefully. ' +
      'Default 75 (clients that poll every minute keep their connection).',
    ),
  headersTimeoutSeconds: z.number().positive().max(600).default(10)
    .describe('Seconds a client has to send the whole request head (line and headers). Default 10.'),
  requestTimeoutSeconds: z.number().positive().max(3600).default(60).describe('Seconds a client has to send the whole request, body included. Default 60.'),
  handshakeTimeoutSeconds: z.number().positive().max(600).default(10).describe('Seconds a client has to complete the TLS handshake. Default 10.'),
  maxConnections: z.number().int().positive().default(512).describe('Most open connections; more are closed as they arrive. Default 512.'),
});
export type HttpServerOptions = z.infer<typeof httpServerOptionsSchema>;

/** The defaults of {@link httpServerOptionsSchema}. */
export const DEFAULT_HTTP_SERVER_OPTIONS: Readonly<HttpServerOptions> = Object.freeze(httpServerOptionsSchema.parse({}));

/** How often Node checks the head and request timeouts (its default, 30 s, would let a slow client overstay). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;
/** After a graceful close, the socket is destroyed if the client has not closed its side within this time. */
const CLOSE_GRACE_MS = 5000;

/**
 * Creates an HTTPS server (not yet listening) for `app`, with the connection limits of `limits` (defaults in
 * {@link httpServerOptionsSchema}). To rotate its certificate or CRL later, call `server.setSecureContext(...)` with
 * the same `minVersion` (or attach it to a `ReloadableTls`, which does).
 */
export function createHttpsServer(app: RequestListener, tls: ServerTls, limits: Partial<HttpServerOptions> = {}): https.Server {
  const o = { ...DEFAULT_HTTP_SERVER_OPTIONS, ...limits };
  const server = https.createServer(
    {
      cert: tls.cert, key: tls.key, ca: tls.ca, ...(tls.crl ? { crl: tls.crl } : {}),
      requestCert: tls.requestCert ?? true, rejectUnauthorized: false,
      ...protocolContextOptions(tls.minVersion),
      handshakeTimeout: o.handshakeTimeoutSeconds * 1000,
      keepAliveTimeout: o.keepAliveTimeoutSeconds * 1000,
      headersTimeout: o.headersTimeoutSeconds * 1000,
      requestTimeout: o.requestTimeoutSeconds * 1000,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    app,
  );
  server.maxConnections = o.maxConnections;
  // Node destroys a socket whose keep-alive timeout fired unless a 'timeout' listener takes over: close it cleanly.
  server.on('timeout', (socket: Socket) => closeGracefully(socket));
  return server;
}

/** Ends `socket` with TLS close_notify and FIN; destroys it if the peer has not closed within a grace period. */
function closeGracefully(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

/** Starts listening; resolves with the bound port (useful with port 0). @throws the listen error (EADDRINUSE …). */
export function listen(server: https.Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting connections and closes idle ones; resolves when the server is closed. */
export function closeServer(server: https.Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
