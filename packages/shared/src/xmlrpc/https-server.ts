/**
 * HTTPS listeners for the daemons, with our CA for (optional) client certificates.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { ServerTls } from '../tls/index.js';

/**
 * Creates an HTTPS server (not yet listening) for `app`. To rotate its certificate or CRL later, call
 * `server.setSecureContext(...)` (or attach it to a `ReloadableTls`).
 */
export function createHttpsServer(app: RequestListener, tls: ServerTls): https.Server {
  return https.createServer(
    { cert: tls.cert, key: tls.key, ca: tls.ca, ...(tls.crl ? { crl: tls.crl } : {}), requestCert: tls.requestCert ?? true, rejectUnauthorized: false },
    app,
  );
}

/** Starts listening; resolves with the bound port (useful with port 0). @throws the listen error (EADDRINUSE …). */
export function listen(server: https.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting connections and closes idle ones; resolves when the server is closed. */
export function closeServer(server: https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
