/**
 * XML-RPC client over HTTP(S) with Basic auth from the URL userinfo, our CA (and CRL), optional client certificate,
 * an optional identity the server certificate must carry, a timeout (the OCF Python clients had none,
 * docs/ocf-protocol.md §1.4; we never block forever), a cap on the answer's size, and optionally a pinned address.
 *
 * Transport: Node's http(s).request; the call is serialised as the `xmlrpc` package does (strings as escaped
 * `<string>`, wire-values.ts) and the answer is read up to {@link XmlRpcClientOptions.maxResponseBytes} and decoded
 * by our strict streaming decoder (xmlrpc-decoder.ts, decision 013), as requests are.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkServerIdentity, type SecureContext } from 'node:tls';
import { AuthenticationError, InputError, NotAllowedError, UpstreamError } from '../errors.js';
import { redactCredentials } from '../redact.js';
import { serverIdentityChecker, type ClientTls } from '../tls/index.js';
import { parsePeerUrl } from './callback-url.js';
import { REFUSAL_HEADER, serialiseMethodCall } from './server.js';
import { decodeMethodResponse } from './xmlrpc-decoder.js';

/** Default {@link XmlRpcClientOptions.maxResponseBytes}: 64 KiB, ample for a status or an acknowledgement. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

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
  /**
   * Largest answer body read, in bytes; a longer answer fails the call with an UpstreamError (the rest is not
   * read). Default {@link DEFAULT_MAX_RESPONSE_BYTES} (64 KiB); callers expecting listings pass more.
   */
  maxResponseBytes?: number;
  /**
   * Name resolution for the connection (`lookup` of http(s).request), e.g. {@link pinnedLookup} so that the call
   * goes to an address checked beforehand. Default: the system's.
   */
  lookup?: LookupFunction;
}

const IDLE_SOCKET_MS = 4000;

/** Request options with our additions to the pool key (see {@link PeerAwareAgent}). */
type PooledRequestOptions = https.RequestOptions & { kvmCrmExpectPeer?: string; kvmCrmContext?: number };

/** A number per secure context, for the pool key (a context has no printable identity of its own). */
const contextNumbers = new WeakMap<SecureContext, number>();
let nextContextNumber = 1;
function contextNumber(context: SecureContext): number {
  let n = contextNumbers.get(context);
  if (n === undefined) contextNumbers.set(context, (n = nextContextNumber++));
  return n;
}

/**
 * The keep-alive pool keys sockets by host, port and TLS material (CA, certificate, key, CRL…) but not by
 * `checkServerIdentity`: add our expectation to the key, so a socket verified for one registered server is never
 * reused for another behind the same address, and no TLS session of one is resumed for the other. A request with a
 * prebuilt secure context ({@link ClientTls.secureContext}) passes no PEM text, so Node's key does not hold the
 * material: the context's number stands for it (one context per generation of the material, so sockets of old
 * material are not reused after a reload).
 */
class PeerAwareAgent extends https.Agent {
  override getName(options?: PooledRequestOptions): string {
    let name = super.getName(options);
    if (options?.kvmCrmContext !== undefined) name += `:context=${options.kvmCrmContext}`;
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

/** The HTTP answer of one call, before decoding. */
interface RawAnswer {
  status: number;
  refusal: string;
  body: string;
}

/**
 * A client for one endpoint. `call` resolves with the decoded result or rejects with
 * {@link XmlRpcFaultError} (peer fault), {@link AuthenticationError} (HTTP 401), NotAllowedError (HTTP 403: the
 * peer refused our certificate or role; the message carries its reason) or UpstreamError (network, TLS
 * verification, timeout, HTTP error, an answer over the size cap, malformed response). Error messages show the URL
 * with credentials redacted.
 */
export class XmlRpcClient {
  /** The endpoint with credentials removed, for messages and logs. */
  readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly secure: boolean;
  private readonly requestOptions: PooledRequestOptions;

  constructor(options: XmlRpcClientOptions) {
    const { url, basicAuth } = parsePeerUrl(options.url);
    this.endpoint = url.toString();
    this.timeoutMs = (options.timeoutSeconds ?? 30) * 1000;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const secure = (this.secure = url.protocol === 'https:');
    this.requestOptions = {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      path: url.pathname + url.search,
      method: 'POST',
      headers: {
        'User-Agent': 'NodeJS XML-RPC Client',
        'Content-Type': 'text/xml',
        Accept: 'text/xml',
        ...(basicAuth ? { Authorization: `Basic ${Buffer.from(`${basicAuth.user}:${basicAuth.pass}`).toString('base64')}` } : {}),
      },
      // keepAlive false: a fresh connection per call (agent false), not Node's global agent, which keeps alive too.
      agent: options.keepAlive === false ? false : secure ? pooledHttps : pooledHttp,
      ...(options.lookup ? { lookup: options.lookup } : {}),
      ...(secure
        ? {
            ...(options.tls?.secureContext
              ? { secureContext: options.tls.secureContext, kvmCrmContext: contextNumber(options.tls.secureContext) }
              : {
                  ca: options.tls?.ca,
                  cert: options.tls?.cert,
                  key: options.tls?.key,
                  ...(options.tls?.crl ? { crl: options.tls.crl } : {}),
                }),
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
  }

  /** Calls `method` with positional `params` (strings are sent as `<string>`, undefined as `<nil/>`). */
  async call<T = unknown>(method: string, params: unknown[]): Promise<T> {
    const body = Buffer.from(serialiseMethodCall(method, params), 'utf8');
    const signal = AbortSignal.timeout(this.timeoutMs);
    let answer: RawAnswer;
    try {
      answer = await this.post(body, signal);
    } catch (err) {
      throw this.transportError(method, err, signal);
    }
    const reason = answer.refusal ? `: ${redactCredentials(answer.refusal)}` : '';
    if (answer.status === 401) throw new AuthenticationError(`${this.endpoint} rejected our credentials (HTTP 401) for ${method}${reason}`);
    if (answer.status === 403) throw new NotAllowedError(`${this.endpoint} refused ${method} (HTTP 403)${reason}`);
    if (answer.status !== 200) throw new UpstreamError(`${this.endpoint} ${method} failed: HTTP ${answer.status}`);
    let decoded;
    try {
      decoded = await decodeMethodResponse(answer.body);
    } catch (err) {
      const detail = err instanceof InputError ? err.message : String(err);
      throw new UpstreamError(`${this.endpoint} ${method} failed: ${redactCredentials(detail)}`, { cause: err });
    }
    if ('fault' in decoded) throw new XmlRpcFaultError(decoded.fault.faultCode, redactCredentials(decoded.fault.faultString), `${this.endpoint} ${method}`);
    return decoded.value as T;
  }

  /** POSTs `body`; resolves with the status, the refusal header and the body (at most maxResponseBytes). */
  private post(body: Buffer, signal: AbortSignal): Promise<RawAnswer> {
    return new Promise<RawAnswer>((resolve, reject) => {
      const options = { ...this.requestOptions, headers: { ...this.requestOptions.headers, 'Content-Length': String(body.length) }, signal };
      const req = (this.secure ? https : http).request(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxResponseBytes) {
            reject(new ResponseTooLarge(this.maxResponseBytes)); // first: destroying emits 'aborted'
            res.destroy();
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('connection closed before the answer was complete')));
        res.on('end', () => {
          const refusal = res.headers[REFUSAL_HEADER];
          resolve({ status: res.statusCode ?? 0, refusal: typeof refusal === 'string' ? refusal : '', body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  private transportError(method: string, err: unknown, signal: AbortSignal): Error {
    if (err instanceof ResponseTooLarge) return new UpstreamError(`${this.endpoint} ${method}: answer larger than ${err.limit} bytes: refused`);
    if (signal.aborted) return new UpstreamError(`${this.endpoint} ${method}: no answer within ${this.timeoutMs / 1000} s`);
    const e = err as Error & { code?: string };
    const detail = e.code && e.message && !e.message.includes(e.code) ? `${e.code} (${e.message})` : (e.code ?? e.message);
    return new UpstreamError(`${this.endpoint} ${method} failed: ${redactCredentials(String(detail))}`, { cause: err });
  }
}

/** The answer passed maxResponseBytes. */
class ResponseTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`answer larger than ${limit} bytes`);
  }
}
