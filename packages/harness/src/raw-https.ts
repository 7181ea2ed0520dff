/**
 * Raw HTTPS POSTs for hostile-input tests: bodies and headers the XML-RPC client cannot produce (DTDs, huge or
 * deeply nested bodies, missing or wrong credentials, other client certificates). Real TLS, our CA.
 */
import https from 'node:https';
import { parseMethodResponse } from '@kvm-crm/shared';

export interface RawPostOptions {
  /** Full URL; `user:password@` in it becomes a Basic Authorization header (unless `authorization` is given). */
  url: string;
  /** The request body (string or bytes), or a generator of chunks for very large bodies. */
  body: string | Buffer | (() => Iterable<Buffer>);
  /** CA to verify the server with (PEM). */
  ca: string;
  /** Client certificate and key (PEM), for mutual TLS. */
  cert?: string;
  key?: string;
  /** Explicit Authorization header value; `null` sends none even if the URL has credentials. */
  authorization?: string | null;
  contentType?: string;
  /** Content-Length to announce; default the body's length (generators: required). */
  contentLength?: number;
  timeoutMs?: number;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** An error on the request side after the response arrived (e.g. EPIPE while still sending a big body). */
  lateError?: string;
}

/**
 * POSTs and resolves with the HTTP answer. Rejects only when no response arrived (TLS refused, connection reset
 * before any answer, timeout); the rejection carries the error code (`ECONNRESET`, `EPROTO`, …).
 */
export function rawPost(options: RawPostOptions): Promise<RawResponse> {
  const url = new URL(options.url);
  const headers: Record<string, string | number> = { 'Content-Type': options.contentType ?? 'text/xml' };
  if (options.authorization !== undefined) {
    if (options.authorization !== null) headers.Authorization = options.authorization;
  } else if (url.username || url.password) {
    headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  }
  const body = options.body;
  const length = options.contentLength ?? (typeof body === 'function' ? undefined : Buffer.byteLength(body));
  if (length === undefined) throw new Error('rawPost: contentLength is required with a generator body');
  headers['Content-Length'] = length;
  return new Promise((resolve, reject) => {
    let response: RawResponse | undefined;
    let lateError: string | undefined;
    const req = https.request(
      {
        method: 'POST', host: url.hostname, port: url.port, path: url.pathname + url.search, headers,
        ca: options.ca, cert: options.cert, key: options.key, agent: false, timeout: options.timeoutMs ?? 120_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          response = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ...(lateError ? { lateError } : {}) };
          resolve(response);
        });
        res.on('error', (err) => reject(err));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('rawPost: timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (response) return;
      lateError = err.code ?? err.message;
      // Give a response that is already on its way a moment to arrive before giving up.
      setTimeout(() => {
        if (!response) reject(err);
      }, 500);
    });
    if (typeof body === 'function') {
      void (async () => {
        for (const chunk of body()) {
          if (req.destroyed) return;
          if (!req.write(chunk)) await new Promise<void>((r) => req.once('drain', () => r()).once('close', () => r()));
        }
        req.end();
      })();
    } else req.end(body);
  });
}

/** Decodes an XML-RPC answer body: `{ value }` or `{ fault }`. @throws when the body is not a methodResponse. */
export async function decodeXmlRpc(res: RawResponse): Promise<{ value: unknown } | { fault: { faultCode: number; faultString: string } }> {
  return parseMethodResponse(res.body);
}

/** The faultString of an XML-RPC fault answer (HTTP 200); fails with the whole answer otherwise. */
export async function faultOf(res: RawResponse): Promise<string> {
  if (res.status !== 200) throw new Error(`expected an XML-RPC fault with HTTP 200, got HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  const decoded = await decodeXmlRpc(res);
  if (!('fault' in decoded)) throw new Error(`expected an XML-RPC fault, got the value ${JSON.stringify(decoded.value)?.slice(0, 300)}`);
  return decoded.fault.faultString;
}

/** Escapes text for an XML element or attribute value. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A methodCall body with string params written by hand (for bodies the XML-RPC client cannot produce). */
export function methodCallXml(method: string, params: string[], prolog = '<?xml version="1.0"?>\n'): string {
  return `${prolog}<methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value><string>${xmlEscape(p)}</string></value></param>`).join('')}</params></methodCall>`;
}
