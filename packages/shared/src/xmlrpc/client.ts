/**
 * XML-RPC client over HTTP(S) with Basic auth from the URL userinfo, our CA (and CRL), optional client certificate,
 * an optional identity the server certificate must carry, and a timeout (the OCF Python clients had none,
 * docs/ocf-protocol.md §1.4; we never block forever).
 */
import http from 'node:http';
import https from 'node:https';
import { checkServerIdentity } from 'node:tls';
import xmlrpc from 'xmlrpc';
import { AuthenticationError, NotAllowedError, UpstreamError } from '../errors.js';
import { redactCredentials } from '../redact.js';
import { serverIdentityChecker, type ClientTls, type ExpectedPeer } from '../tls/index.js';
import { parsePeerUrl } from './callback-url.js';
import { REFUSAL_HEADER } from './server.js';
import { toWireValue } from './wire-values.js';

/** Options of {@link XmlRpcClient}. */
export interface XmlRpcClientOptions {
  /** Endpoint, possibly with `user:password@` credentials (§1.4). */
  url: string;
  tls?: ClientTls;
  /** Whole-call timeout in seconds (connect + response). Default 30. */
  timeoutSeconds?: number;
  /**
   * Reuse connections (HTTP keep-alive) through a process-wide pool. Default true: it saves a TLS handshake per
   * call. Idle pooled sockets are dropped after 4 s, before the keep-alive timeout of any peer closes them (ours: 75 s by
   * default; Node's own default is 5 s).
   * False: a new connection (and full TLS handshake) for every call.
   */
  keepAlive?: boolean;
}

const IDLE_SOCKET_MS = 4000;

/**
 * The keep-alive pool keys sockets by host, port and TLS material (CA, certificate, key, CRL…) but not by
 * `checkServerIdentity`: add our expectation to the key, so a socket verified for one registered server is never
 * reused for another behind the same address, and no TLS session of one is resumed for the other.
 */
class PeerAwareAgent extends https.Agent {
  override getName(options?: https.RequestOptions & { kvmCrmExpectPeer?: string }): string {
    const name = super.getName(options);
    return options?.kvmCrmExpectPeer ? `${name}:expect=${options.kvmCrmExpectPeer}` : name;
  }
}
const pooledHttps = new PeerAwareAgent({ keepAlive: true, maxSockets: 64, timeout: IDLE_SOCKET_MS });
const pooledHttp = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: IDLE_SOCKET_MS });

/** A fault returned by the peer: the call reached it and it refused. */
export class XmlRpcFaultError extends UpstreamError {
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
    endpoint: string,
  ) {
    super(`${endpoint} answered fault ${faultCode}: ${faultString}`);
  }
}

/**
 * A client for one endpoint. `call` resolves with the decoded result or rejects with
 * {@link XmlRpcFaultError} (peer fault), {@link AuthenticationError} (HTTP 401), NotAllowedError (HTTP 403: the
 * peer refused our certificate or role; the message carries its reason) or UpstreamError (network, TLS
 * verification, timeout, HTTP error, malformed response). Error messages show the URL with credentials redacted.
 */
export class XmlRpcClient {
  private readonly client: xmlrpc.Client;
  /** The endpoint with credentials removed, for messages and logs. */
  readonly endpoint: string;
  private readonly timeoutMs: number;

  constructor(options: XmlRpcClientOptions) {
    const { url, basicAuth } = parsePeerUrl(options.url);
    this.endpoint = url.toString();
    this.timeoutMs = (options.timeoutSeconds ?? 30) * 1000;
    const secure = url.protocol === 'https:';
    const clientOptions = {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      path: url.pathname + url.search,
      basic_auth: basicAuth,
      // keepAlive false: a fresh connection per call (agent false), not Node's global agent, which keeps alive too.
      agent: options.keepAlive === false ? false : secure ? pooledHttps : pooledHttp,
      ...(secure
        ? {
            ca: options.tls?.ca,
            cert: options.tls?.cert,
            key: options.tls?.key,
            ...(options.tls?.crl ? { crl: options.tls.crl } : {}),
            rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
            ...(options.tls?.expectPeer
              ? {
                  checkServerIdentity: serverIdentityChecker(options.tls.expectPeer, checkServerIdentity),
                  kvmCrmExpectPeer: JSON.stringify(options.tls.expectPeer),
                }
              : {}),
          }
        : {}),
    };
    this.client = secure ? xmlrpc.createSecureClient(clientOptions) : xmlrpc.createClient(clientOptions);
  }

  /** Calls `method` with positional `params` (strings are sent as `<string>`, undefined as `<nil/>`). */
  call<T = unknown>(method: string, params: unknown[]): Promise<T> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    // The xmlrpc package passes its options object to http(s).request, so the abort signal reaches the socket.
    (this.client as unknown as { options: { signal?: AbortSignal } }).options.signal = signal;
    return new Promise<T>((resolve, reject) => {
      this.client.methodCall(method, params.map((p) => toWireValue(p)), (err: unknown, value: unknown) => {
        if (!err) return resolve(value as T);
        reject(this.translateError(method, err, signal));
      });
    });
  }

  private translateError(method: string, err: unknown, signal: AbortSignal): Error {
    const e = err as Error & { faultCode?: number; faultString?: string; res?: { statusCode?: number; headers?: Record<string, unknown> }; code?: string };
    const status = e.res?.statusCode;
    const refusal = e.res?.headers?.[REFUSAL_HEADER];
    const reason = typeof refusal === 'string' && refusal ? `: ${redactCredentials(refusal)}` : '';
    if (status === 401) return new AuthenticationError(`${this.endpoint} rejected our credentials (HTTP 401) for ${method}${reason}`);
    if (status === 403) return new NotAllowedError(`${this.endpoint} refused ${method} (HTTP 403)${reason}`);
    if (typeof e.faultCode === 'number' && (status === undefined || status === 200)) {
      return new XmlRpcFaultError(e.faultCode, redactCredentials(e.faultString ?? ''), `${this.endpoint} ${method}`);
    }
    if (signal.aborted) return new UpstreamError(`${this.endpoint} ${method}: no answer within ${this.timeoutMs / 1000} s`);
    const detail = status && status !== 200 ? `HTTP ${status}` : e.code && e.message && !e.message.includes(e.code) ? `${e.code} (${e.message})` : (e.code ?? e.message);
    return new UpstreamError(`${this.endpoint} ${method} failed: ${redactCredentials(String(detail))}`, { cause: err });
  }
}
