/**
 * The audit trail of the admin endpoint (docs/security.md, threat model: "admins are trusted; their actions are
 * audited in the logs"): every successful admin call is logged at info level as `admin call`, with the method, the
 * principal, the caller's address and the parameters sanitised by {@link sanitiseForAudit} (secrets never logged).
 * Failed calls are logged by the XML-RPC handler as `xmlrpc fault`.
 */
import { clipForMessage, redactCredentials, type Logger, type XmlRpcMethod } from '@kvm-crm/shared';

/** Struct members whose values are secrets (passwords, hashes, keys, tokens): logged as `***`. */
const SECRET_MEMBER = /pass(word|wd)?|secret|scrypt|key|token|credential|pem/i;
const MAX_DEPTH = 4;
const MAX_ITEMS = 20;
const MAX_STRING = 200;

/**
 * A copy of `value` fit for a log line: members named like secrets (see SECRET_MEMBER) become `***`, strings are
 * clipped to 200 characters with URL credentials redacted, lists to 20 items, nesting to 4 levels.
 */
export function sanitiseForAudit(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactCredentials(clipForMessage(value, MAX_STRING));
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (depth >= MAX_DEPTH) return '…';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => sanitiseForAudit(v, depth + 1));
    return value.length > MAX_ITEMS ? [...items, `… ${value.length - MAX_ITEMS} more`] : items;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, MAX_ITEMS)) out[clipForMessage(k, 64)] = SECRET_MEMBER.test(k) ? '***' : sanitiseForAudit(v, depth + 1);
  return out;
}

/** `methods` with each one logging `admin call` (info) after it succeeded (see the file comment). */
export function auditAdminCalls(methods: Record<string, XmlRpcMethod>, logger: Logger): Record<string, XmlRpcMethod> {
  const out: Record<string, XmlRpcMethod> = {};
  for (const [name, method] of Object.entries(methods)) {
    out[name] = async (params, ctx) => {
      const result = await method(params, ctx);
      logger.info('admin call', { method: name, principal: ctx.principal?.name ?? 'unknown', remote: ctx.remoteAddress, params: sanitiseForAudit(params) });
      return result;
    };
  }
  return out;
}
