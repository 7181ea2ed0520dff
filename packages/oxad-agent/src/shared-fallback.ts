/**
 * Temporary local copies of the parts of `@kvm-crm/shared` (errors.ts, validation.ts) that the agent's adapters and
 * renderers need, because the shared package has no `index.ts` yet. Same names, same semantics: once
 * `@kvm-crm/shared` exports them, replace the imports of this file with `@kvm-crm/shared` and delete it.
 */

/** Base class: a message for the caller, plus an HTTP status (mirrors `KvmCrmError` of `@kvm-crm/shared`). */
export class KvmCrmError extends Error {
  /** HTTP status for JSON/HTML endpoints. */
  readonly httpStatus: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something malformed or out of range. HTTP 400. */
export class InputError extends KvmCrmError {
  override readonly httpStatus = 400;
}

/** A named thing (domain, image, template) does not exist. HTTP 404. */
export class NotFoundError extends KvmCrmError {
  override readonly httpStatus = 404;
}

/** The request conflicts with current state (file exists, domain in the wrong state). HTTP 409. */
export class ConflictError extends KvmCrmError {
  override readonly httpStatus = 409;
}

/** A peer or tool (libvirt, qemu-img, genisoimage) failed or did not answer in time. HTTP 502. */
export class UpstreamError extends KvmCrmError {
  override readonly httpStatus = 502;
}

/** RFC 4122 textual UUID, any version, case-insensitive. */
export const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** VM name as Expedient allows it: letters, digits, dash; 1–64 characters. */
export const VM_NAME_PATTERN = /^[0-9a-zA-Z-]{1,64}$/;
/** Action IDs: 1–64 characters of `[A-Za-z0-9._-]`, starting with a letter or digit. */
export const ACTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Template catalogue names: 1–64 characters of `[A-Za-z0-9._-]`, not starting with a dot. */
export const TEMPLATE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Linux bridge / libvirt network names: 1–15 characters (IFNAMSIZ-1). */
export const BRIDGE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/;
/** Unicast MAC address, colon-separated, lower or upper case. */
export const MAC_PATTERN = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
const IPV4_SHAPE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** True when `s` is a dotted-quad IPv4 address with every octet in 0–255 and no leading zeros. */
export function isIpv4(s: string): boolean {
  const m = IPV4_SHAPE.exec(s);
  if (!m) return false;
  return m.slice(1).every((o) => Number(o) <= 255 && (o === '0' || !o.startsWith('0')));
}

/**
 * Returns `value` when it matches `pattern`; throws {@link InputError} naming `what` otherwise.
 * The offending value is quoted with JSON escaping and cut to 80 characters so that it cannot forge log lines.
 */
export function assertPattern(value: string | undefined, pattern: RegExp, what: string): string {
  if (value === undefined || typeof value !== 'string' || !pattern.test(value)) {
    const shown = value === undefined ? 'nothing' : JSON.stringify(String(value).slice(0, 80));
    throw new InputError(`invalid ${what}: ${shown}`);
  }
  return value;
}
