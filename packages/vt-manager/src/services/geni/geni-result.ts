/**
 * The GENI AM API v3 return struct and error codes (docs/geni-v3.md §3), and the one place where errors become
 * GENI codes: every GENI method's failure is a struct with `output`, never an XML-RPC fault (§2); success has no
 * `output` member at all (§1.3).
 */
import { ConflictError, describeError, InputError, NotAllowedError, NotFoundError, UpstreamError, type Logger } from '@kvm-crm/shared';

/** GENI error codes we use (§3 table; labels as geni-error-codes.xml). */
export const GENI_CODE = {
  SUCCESS: 0,
  BADARGS: 1,
  ERROR: 2,
  FORBIDDEN: 3,
  BADVERSION: 4,
  SERVERERROR: 5,
  REFUSED: 7,
  SEARCHFAILED: 12,
  UNSUPPORTED: 13,
  BUSY: 14,
  EXPIRED: 15,
  ALREADYEXISTS: 17,
} as const;
export type GeniCode = (typeof GENI_CODE)[keyof typeof GENI_CODE];

/** `code.am_type`: must be in the RO's accepted list (§1.2); the original sent `GENI`. */
export const AM_TYPE = 'GENI';

/** A GENI-level failure with its code; `message` becomes the struct's `output` (shown to the experimenter). */
export class GeniFault extends Error {
  constructor(
    readonly code: GeniCode,
    message: string,
  ) {
    super(message);
    this.name = 'GeniFault';
  }
}

/** The struct of a successful call: `{geni_api: 3, code: {geni_code: 0, am_type, am_code}, value}`, no `output`. */
export interface GeniSuccess {
  geni_api: 3;
  code: { geni_code: 0; am_type: string; am_code: string };
  value: unknown;
}

/** The struct of a failed call: `value` `""` and `output` the reason (§3). */
export interface GeniFailure {
  geni_api: 3;
  code: { geni_code: number; am_type: string; am_code: string };
  value: '';
  output: string;
}

/** Success struct around `value`; `amCode` is kvm-crm's version string (§3). */
export function geniSuccess(value: unknown, amCode: string): GeniSuccess {
  return { geni_api: 3, code: { geni_code: 0, am_type: AM_TYPE, am_code: amCode }, value };
}

/** Failure struct with `code` and `output`. */
export function geniFailure(code: number, output: string, amCode: string): GeniFailure {
  return { geni_api: 3, code: { geni_code: code, am_type: AM_TYPE, am_code: amCode }, value: '', output };
}

/**
 * The GENI code and message of any error (the single mapping): GeniFault → its code; a credential failure
 * (the credentials helper's `GeniCredentialError`, matched by name so this file does not depend on it) →
 * FORBIDDEN (3); InputError → BADARGS (1); NotFoundError → SEARCHFAILED (12); NotAllowedError → FORBIDDEN (3);
 * ConflictError → REFUSED (7) (a full host, a busy VM, an exhausted pool); UpstreamError → SERVERERROR (5);
 * anything else → ERROR (2) with a generic text (logged in full, never a stack trace to the client).
 */
export function geniCodeOf(err: unknown): { code: number; message: string; unexpected: boolean } {
  if (err instanceof GeniFault) return { code: err.code, message: err.message, unexpected: false };
  if (err instanceof Error && (err.name === 'GeniCredentialError' || err.constructor.name === 'GeniCredentialError')) return { code: GENI_CODE.FORBIDDEN, message: err.message, unexpected: false };
  if (err instanceof InputError) return { code: GENI_CODE.BADARGS, message: err.message, unexpected: false };
  if (err instanceof NotFoundError) return { code: GENI_CODE.SEARCHFAILED, message: err.message, unexpected: false };
  if (err instanceof NotAllowedError) return { code: GENI_CODE.FORBIDDEN, message: err.message, unexpected: false };
  if (err instanceof ConflictError) return { code: GENI_CODE.REFUSED, message: err.message, unexpected: false };
  if (err instanceof UpstreamError) return { code: GENI_CODE.SERVERERROR, message: err.message, unexpected: false };
  return { code: GENI_CODE.ERROR, message: 'internal error in the aggregate manager (logged)', unexpected: true };
}

/**
 * Runs a GENI method body and wraps its value in the success struct, or maps any error to the failure struct
 * (expected failures logged at info, unexpected ones at error with the stack).
 */
export async function geniCall(method: string, amCode: string, log: Logger, body: () => Promise<unknown>): Promise<GeniSuccess | GeniFailure> {
  try {
    return geniSuccess(await body(), amCode);
  } catch (err) {
    const { code, message, unexpected } = geniCodeOf(err);
    if (unexpected) log.error('GENI method failed unexpectedly', { method, error: describeError(err), stack: (err as Error)?.stack });
    else log.info('GENI method refused', { method, geniCode: code, reason: message });
    return geniFailure(code, message, amCode);
  }
}
