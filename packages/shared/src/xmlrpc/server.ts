/**
 * XML-RPC endpoints served from express (docs/ocf-protocol.md §1).
 *
 * The `xmlrpc` package's own server hides the HTTP request, so it cannot check Basic auth or a client certificate
 * (docs/architecture.md, "Facts"). We serve from an express handler instead, decode with our strict streaming decoder
 * (xmlrpc-decoder.ts, decision 013) and serialise with the package's Serializer.
 */
import type { TLSSocket, PeerCertificate } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import express, { type Request, type RequestHandler, type Response } from 'express';
import * as Serializer from 'xmlrpc/lib/serializer.js';
import { AuthenticationError, InputError, KvmCrmError, NotAllowedError, RateLimitedError, toFault } from '../errors.js';
import type { Logger } from '../logger.js';
import { clipForMessage } from './clip.js';
import { PreSerialisedResponse, sendPreSerialised } from './pre-serialised.js';
import { toWireValue } from './wire-values.js';
import { decodeMethodCall, decodeMethodResponse } from './xmlrpc-decoder.js';

/** An authenticated caller. */
export interface Principal {
  /** User name (HTTP Basic) or certificate CN. */
  name: string;
  /** Roles, e.g. `clearinghouse`, `admin`, `agent`. */
  roles: string[];
}

/** What a method sees of the request besides its parameters. */
export interface XmlRpcCallContext {
  principal?: Principal;
  /** The verified client certificate, when the caller presented one. */
  peerCertificate?: PeerCertificate;
  remoteAddress?: string;
  log: Logger;
}

/**
 * One XML-RPC method: receives the positional params; its return value (or `undefined` → `<nil/>`) is the result. A
 * {@link PreSerialisedResponse} is sent as it is (streamed, decision 031).
 */
export type XmlRpcMethod = (params: unknown[], ctx: XmlRpcCallContext) => unknown;

/** Options of {@link createXmlRpcHandler}. */
export interface XmlRpcEndpointOptions {
  /** Method table, by method name. */
  methods: Record<string, XmlRpcMethod>;
  logger: Logger;
  /**
   * Authenticates the request before the body is parsed. Resolve to a principal, or to `undefined` to answer
   * HTTP 401 with `WWW-Authenticate: Basic` (docs/ocf-protocol.md §1.3). Throw a NotAllowedError to answer HTTP 403
   * (e.g. no acceptable client certificate) or an AuthenticationError to answer 401, both with the error's message
   * as the reason (body and {@link REFUSAL_HEADER} header, which our client shows), or a RateLimitedError to answer
   * HTTP 429 with `Retry-After: <retryAfterSeconds>` (too many failed logins). Omit for endpoints without
   * HTTP-level auth (the OCF agent checks a password argument instead, §4.2).
   */
  authenticate?: (req: Request) => Promise<Principal | undefined>;
  /** Basic realm in the 401 challenge. Default `kvm-crm`. */
  realm?: string;
  /** Largest accepted request body in bytes. Default 8 MiB. */
  maxBodyBytes?: number;
  /** Serve `system.listMethods`, `system.methodHelp`, `system.methodSignature` (§1.1). Default true. */
  introspection?: boolean;
  /** One-line help per method for `system.methodHelp`. */
  help?: Record<string, string>;
  /** Told of every answered call and every refused request (the daemons' metrics, decision record 028). */
  observer?: XmlRpcObserver;
}

/**
 * What an XML-RPC endpoint reports to metrics. `method` is a name of the method table, or `(unknown)` for any other
 * name and `(unparsed)` when the body was not a methodCall, so label values stay bounded. `fault` is the fault's
 * class (`InputError`, `NotFoundError`, …, `InternalError`; every fault has code 1, docs/ocf-protocol.md §1.2) or
 * undefined for a result. `seconds` runs from the request to the answer.
 */
export interface XmlRpcObserver {
  call(method: string, fault: string | undefined, seconds: number): void;
  /** A request refused before its body was read: HTTP 401 (authentication), 403 or 429. */
  refused(status: number): void;
}

/**
 * Response header carrying the reason of a 401/403 refusal (one line of ASCII), so that XML-RPC clients, which
 * only see "not a methodResponse" in the body, can report why.
 */
export const REFUSAL_HEADER = 'x-kvm-crm-refusal';

/** `text` as a safe one-line ASCII header value (at most 300 characters). */
function headerValue(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, ' ').slice(0, 300);
}

/**
 * Parses a complete XML-RPC methodCall body with the strict streaming decoder (limits, strict integers, no
 * `__proto__` members, a well-formed method name; see xmlrpc-decoder.ts).
 * @throws InputError when it is not a well-formed methodCall or the decoder refuses it.
 */
export function parseMethodCall(body: string): Promise<{ methodName: string; params: unknown[] }> {
  return decodeMethodCall(body);
}

/**
 * Parses a complete methodResponse body: `{ value }` for a result, `{ fault }` for a fault.
 * @throws InputError when it is not a well-formed methodResponse or the decoder refuses it.
 */
export function parseMethodResponse(body: string): Promise<{ value: unknown } | { fault: { faultCode: number; faultString: string } }> {
  return decodeMethodResponse(body);
}

/** Serialises a methodCall as our client sends it (strings as escaped `<string>`, undefined as `<nil/>`). */
export function serialiseMethodCall(method: string, params: unknown[]): string {
  return Serializer.serializeMethodCall(method, params.map((p) => toWireValue(p)));
}

/** Serialises a methodResponse (strings as escaped `<string>`, `undefined`/`null` as `<nil/>`). */
export function serialiseMethodResponse(result: unknown): string {
  return Serializer.serializeMethodResponse(toWireValue(result));
}

/** Serialises a fault response for any thrown value (mapping in {@link toFault}). */
export function serialiseFault(err: unknown): string {
  return Serializer.serializeFault(toFault(err));
}

/**
 * Builds an express handler (mount it with `app.post(path, handler)` or `app.use(path, handler)`) that serves
 * the XML-RPC methods. Faults travel with HTTP 200 and fault code 1 (docs/ocf-protocol.md §1.2); a non-POST gets 405;
 * a body over `maxBodyBytes` gets 413; failed authentication gets 401; throttled logins get 429 with `Retry-After`.
 */
export function createXmlRpcHandler(options: XmlRpcEndpointOptions): RequestHandler {
  const realm = options.realm ?? 'kvm-crm';
  const methods: Record<string, XmlRpcMethod> = { ...options.methods };
  if (options.introspection ?? true) {
    const names = () => Object.keys(methods).sort();
    methods['system.listMethods'] = () => names();
    methods['system.methodHelp'] = (p) => options.help?.[String(p[0])] ?? '';
    methods['system.methodSignature'] = () => 'signatures not supported';
  }
  const readBody = express.text({ type: () => true, limit: options.maxBodyBytes ?? 8 * 1024 * 1024 });

  return (req: Request, res: Response) => {
    if (req.method !== 'POST') {
      res.status(405).set('Allow', 'POST').type('text/plain').send('XML-RPC endpoint: POST a methodCall\n');
      return;
    }
    const started = Date.now();
    void (async () => {
      let principal: Principal | undefined;
      if (options.authenticate) {
        try {
          principal = await options.authenticate(req);
        } catch (err) {
          if (!(err instanceof NotAllowedError || err instanceof AuthenticationError || err instanceof RateLimitedError)) throw err;
          const status = (err as KvmCrmError).httpStatus;
          const what = status === 403 ? 'request refused' : status === 429 ? 'login throttled' : 'authentication failed';
          options.logger.warn(what, { path: req.path, remote: req.socket.remoteAddress, reason: err.message });
          options.observer?.refused(status);
          if (status === 401) res.set('WWW-Authenticate', `Basic realm="${realm}"`);
          if (err instanceof RateLimitedError) res.set('Retry-After', String(err.retryAfterSeconds));
          res.status(status).set(REFUSAL_HEADER, headerValue(err.message)).type('text/plain').send(`${err.message}\n`);
          return;
        }
        if (!principal) {
          options.observer?.refused(401);
          options.logger.warn('authentication failed', { path: req.path, remote: req.socket.remoteAddress });
          res.status(401).set('WWW-Authenticate', `Basic realm="${realm}"`).type('text/plain').send('Authorization Required');
          return;
        }
      }
      await new Promise<void>((resolve, reject) => readBody(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
      const body = typeof req.body === 'string' ? req.body : '';
      let methodName = '(unparsed)';
      try {
        const call = await parseMethodCall(body);
        methodName = call.methodName;
        const method = Object.hasOwn(methods, methodName) ? methods[methodName] : undefined;
        if (!method) throw new InputError(`method "${clipForMessage(methodName, 64)}" is not supported`);
        const socket = req.socket as TLSSocket;
        const cert = typeof socket.getPeerCertificate === 'function' && socket.authorized ? socket.getPeerCertificate() : undefined;
        const result = await method(call.params, {
          principal,
          peerCertificate: cert && Object.keys(cert).length ? cert : undefined,
          remoteAddress: req.socket.remoteAddress,
          log: options.logger,
        });
        if (result instanceof PreSerialisedResponse) await sendPreSerialised(res, result);
        else res.status(200).type('text/xml').send(serialiseMethodResponse(result));
        options.observer?.call(methodName, undefined, (Date.now() - started) / 1000);
        // Checked first: winston builds and streams the record before its level filter drops it (~5 µs per call).
        if (options.logger.isDebugEnabled()) options.logger.debug('xmlrpc call', { method: methodName, principal: principal?.name, ms: Date.now() - started });
      } catch (err) {
        const fault = toFault(err);
        const level = err instanceof InputError || err instanceof AuthenticationError ? 'info' : 'warn';
        options.logger.log(level, 'xmlrpc fault', {
          method: clipForMessage(methodName, 64),
          principal: principal?.name,
          fault: fault.faultString,
          ...(fault.faultString.startsWith('InternalError') ? { error: String((err as Error)?.stack ?? err) } : {}),
        });
        res.status(200).type('text/xml').send(serialiseFault(err));
        const known = methodName === '(unparsed)' || Object.hasOwn(methods, methodName) ? methodName : '(unknown)';
        options.observer?.call(known, fault.faultString.split(':')[0], (Date.now() - started) / 1000);
      }
    })().catch((err: unknown) => {
      const status = (err as { status?: number }).status;
      if (!res.headersSent) {
        res.status(status && status >= 400 && status < 500 ? status : 500).type('text/plain').send(
          status === 413 ? 'request body too large\n' : 'request failed\n',
        );
      }
      options.logger.warn('xmlrpc request failed', { status, error: String(err) });
    });
  };
}

/**
 * Reads HTTP Basic credentials from a request (`Authorization: Basic base64(user:pass)`); the user ends at the
 * first `:` (docs/ocf-protocol.md §1.3). Returns undefined when absent or malformed.
 */
export function readBasicCredentials(req: Pick<Request, 'headers'> | IncomingMessage): { user: string; pass: string } | undefined {
  const header = req.headers.authorization;
  if (!header || !/^Basic\s+/i.test(header)) return undefined;
  const decoded = Buffer.from(header.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: decoded.slice(0, i), pass: decoded.slice(i + 1) };
}
