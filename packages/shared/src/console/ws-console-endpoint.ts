/**
 * WebSocket plumbing of the console relay (decision record 027), on the `ws` package: a WebSocket as a
 * {@link ConsoleEndpoint}, the refusal of an upgrade request with an HTTP status and a reason (before any WebSocket
 * exists), and the reading of such a refusal on the client side.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { KvmCrmError, RateLimitedError } from '../errors.js';
import { clipCloseReason, type ConsoleEndpoint } from './console-relay.js';

/** Largest console frame accepted from a peer: 64 KiB (a paste is split by the sender's reads anyway). */
export const CONSOLE_MAX_FRAME_BYTES = 64 * 1024;

/** A connected WebSocket as a {@link ConsoleEndpoint}: binary frames are console bytes, text frames are ignored. */
export function wsConsoleEndpoint(ws: WebSocket): ConsoleEndpoint {
  return {
    send: (data) => {
      if (ws.readyState === ws.OPEN) ws.send(data, { binary: true });
    },
    close: (code, reason) => {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, clipCloseReason(reason));
      // A peer that does not answer the close frame is cut off after 5 s.
      setTimeout(() => ws.terminate(), 5000).unref();
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    buffered: () => ws.bufferedAmount,
    onData: (listener) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary) return;
        listener(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
      });
    },
    onClose: (listener) => {
      ws.once('close', (code, reason) => listener(code, reason.toString('utf8') || (code === 1006 ? 'connection lost' : '')));
      ws.on('error', () => undefined); // 'close' follows every error
    },
  };
}

/**
 * Answers an upgrade request that will not become a console: HTTP `status` with `message` as a text body, then
 * closes the connection. A {@link RateLimitedError} also gets `Retry-After`, a 401 `WWW-Authenticate: Basic`.
 */
export function refuseUpgrade(socket: Duplex, status: number, message: string, err?: unknown): void {
  const body = Buffer.from(`${message}\n`, 'utf8');
  const extra = [
    ...(err instanceof RateLimitedError ? [`Retry-After: ${err.retryAfterSeconds}`] : []),
    ...(status === 401 ? ['WWW-Authenticate: Basic realm="kvm-crm"'] : []),
  ];
  const head = [`HTTP/1.1 ${status} ${statusText(status)}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${body.length}`, 'Connection: close', ...extra, '', ''].join('\r\n');
  if (!socket.writable) return void socket.destroy();
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  setTimeout(() => socket.destroy(), 5000).unref();
}

/** The HTTP status of a thrown error: a {@link KvmCrmError}'s own, 500 for anything else. */
export function upgradeStatusOf(err: unknown): { status: number; message: string } {
  if (err instanceof KvmCrmError) return { status: err.httpStatus, message: err.message };
  return { status: 500, message: 'internal error' };
}

/** Reads the text body (at most 4 KiB) of a refused upgrade (`ws`'s `unexpected-response`). */
export function readRefusal(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (text.length < 4096) text += chunk;
    });
    res.on('end', () => resolve(text.trim().slice(0, 4096)));
    res.on('error', () => resolve(text.trim()));
  });
}

function statusText(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests', 502: 'Bad Gateway', 503: 'Service Unavailable' }[status] ??
    'Error'
  );
}
