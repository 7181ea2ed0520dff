/**
 * The named error classes of kvm-crm, and their mapping to XML-RPC faults and HTTP status codes.
 *
 * Every layer throws one of these (or lets an unexpected error through); the RPC layer maps them in one place
 * ({@link toFault}). Messages are meant for the caller: they must never contain credentials.
 */

/** Base class: a message for the caller, plus an HTTP status used by non-XML-RPC endpoints. */
export class KvmCrmError extends Error {
  /** HTTP status for JSON/HTML endpoints; XML-RPC faults always travel with HTTP 200 (docs/ocf-protocol.md §1.2). */
  readonly httpStatus: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something malformed or out of range (bad XML, a hostile name, a bad integer). HTTP 400. */
export class InputError extends KvmCrmError {
  override readonly httpStatus = 400;
}

/** A named thing (server, VM, action, template, pool) does not exist. HTTP 404. */
export class NotFoundError extends KvmCrmError {
  override readonly httpStatus = 404;
}

/** The request conflicts with current state (duplicate id, pool exhausted, VM in the wrong state). HTTP 409. */
export class ConflictError extends KvmCrmError {
  override readonly httpStatus = 409;
}

/** Missing or wrong credentials (HTTP Basic, agent password). HTTP 401. */
export class AuthenticationError extends KvmCrmError {
  override readonly httpStatus = 401;
}

/** The caller is authenticated but may not do this (another clearinghouse's project, a wrong role). HTTP 403. */
export class NotAllowedError extends KvmCrmError {
  override readonly httpStatus = 403;
}

/**
 * Too many failed logins (or password checks queued): the caller must wait `retryAfterSeconds` before trying again.
 * Answered before the body is read, as HTTP 429 with a `Retry-After` header (createXmlRpcHandler). HTTP 429.
 */
export class RateLimitedError extends KvmCrmError {
  override readonly httpStatus = 429;
  /** Whole seconds (≥ 1) until a new attempt may be checked. */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/** A peer (agent, callback endpoint, libvirt, qemu-img) failed or did not answer in time. HTTP 502. */
export class UpstreamError extends KvmCrmError {
  override readonly httpStatus = 502;
}

/** XML-RPC fault as put on the wire: OCF peers use fault code 1 for every error (docs/ocf-protocol.md §1.2). */
export interface FaultShape {
  faultCode: number;
  faultString: string;
}

/**
 * Maps any thrown value to the XML-RPC fault sent to the caller.
 *
 * Known errors keep their message, prefixed by the class name (`InputError: …`), in the spirit of the original
 * `"<type>:<message>"` format (docs/ocf-protocol.md §1.2); unknown errors become `InternalError: internal error` so that
 * no stack trace, path or secret leaks to a peer. The fault code is always 1, as in OCF.
 */
export function toFault(err: unknown): FaultShape {
  if (err instanceof KvmCrmError) {
    return { faultCode: 1, faultString: `${err.name}: ${err.message}` };
  }
  return { faultCode: 1, faultString: 'InternalError: internal error' };
}

/** A short, single-line description of any thrown value, for action descriptions and logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.replace(/\s+/g, ' ').trim() || err.name;
  return String(err);
}
