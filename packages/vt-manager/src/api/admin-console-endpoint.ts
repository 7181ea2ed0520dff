/**
 * The manager's console endpoint for `vtctl vm console` (decision record 027): a WebSocket upgrade on
 * `/console?vm=<name|uuid>[&force=1]` of the manager's HTTPS listener. The caller must log in as an admin exactly as
 * on `/xmlrpc/admin` (HTTP Basic, throttled, or an admin's client certificate); then the console is opened on the
 * VM's agent, and only then is the upgrade completed. Every refusal is an HTTP status with the reason as text.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import {
  CONSOLE_MAX_FRAME_BYTES,
  MANAGER_CONSOLE_PATH,
  refuseUpgrade,
  upgradeStatusOf,
  wsConsoleEndpoint,
  type Logger,
  type Principal,
} from '@kvm-crm/shared';
import type { ConsoleRelayService } from '../services/console-relay-service.js';

/** What {@link attachAdminConsoleEndpoint} needs. */
export interface AdminConsoleDeps {
  consoles: Pick<ConsoleRelayService, 'open'>;
  /** The admin login of `/xmlrpc/admin`: a principal of role admin, undefined when the credentials are wrong. */
  authenticate: (req: IncomingMessage) => Promise<Principal | undefined>;
  logger: Logger;
}

/** Longest `vm` reference accepted (a name or a uuid). */
const MAX_REF_LENGTH = 128;

/**
 * Serves console upgrades on `server` at {@link MANAGER_CONSOLE_PATH}; upgrades on other paths get 404. Returns a
 * function that stops taking upgrades.
 */
export function attachAdminConsoleEndpoint(server: Server, deps: AdminConsoleDeps): () => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: CONSOLE_MAX_FRAME_BYTES, perMessageDeflate: false });
  // The VM the console belongs to, in the 101 answer: `X-KvmCrm-Vm: <uuid> <name> <server>` (vtctl prints it).
  const vmOf = new WeakMap<IncomingMessage, string>();
  wss.on('headers', (headers, req) => {
    const vm = vmOf.get(req);
    if (vm) headers.push(`X-KvmCrm-Vm: ${vm}`);
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void handle(req, socket, head).catch((err: unknown) => {
      const { status, message } = upgradeStatusOf(err);
      if (status >= 500 && status !== 502) deps.logger.error('console upgrade failed', { error: String(err) });
      refuseUpgrade(socket, status, message, err);
    });
  };
  const handle = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://manager.invalid');
    if (url.pathname !== MANAGER_CONSOLE_PATH) return refuseUpgrade(socket, 404, `no WebSocket endpoint at ${url.pathname.slice(0, 80)}`);
    const principal = await deps.authenticate(req);
    if (!principal) return refuseUpgrade(socket, 401, 'an admin login is required for consoles (wrong user, password or certificate, or not an admin)');
    const ref = url.searchParams.get('vm') ?? '';
    if (!ref || ref.length > MAX_REF_LENGTH || /[\u0000-\u001f\u007f]/.test(ref)) return refuseUpgrade(socket, 400, 'give the VM as ?vm=<name or uuid>');
    const force = url.searchParams.get('force') === '1';
    const opened = await deps.consoles.open(ref, force, principal.name);
    if (socket.destroyed) return opened.release();
    vmOf.set(req, `${opened.vm.uuid} ${opened.vm.name} ${opened.vm.server}`);
    let attached = false;
    socket.once('close', () => {
      if (!attached) opened.release();
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      attached = true;
      void opened.attach(wsConsoleEndpoint(ws));
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    wss.close();
  };
}
