/**
 * Conversion of JS values to what the `xmlrpc` package serialises the way Python peers do.
 *
 * The `xmlrpc` package writes strings that contain `<` or `&` as CDATA sections. Python's `xmlrpclib` (every OCF
 * peer) writes them as escaped text inside an explicit `<string>` tag (ocf-protocol.md §1.1). Both parse the same,
 * but we emit the Python form so that our messages match the original ones (`generated/*.methodCall.xml`).
 */
import xmlrpc from 'xmlrpc';

/** An XML-RPC `<string>` written as escaped text (never CDATA). */
export class XmlRpcString extends xmlrpc.CustomType {
  constructor(value: string) {
    super(value);
  }
  override tagName = 'string';
  override serialize(xml: { ele(name: string): { txt(s: string): unknown } }): unknown {
    const raw = (this as unknown as { raw: string }).raw;
    const el = xml.ele('string');
    return raw.length > 0 ? el.txt(raw) : el;
  }
}

/**
 * Deep-converts `value` for the serializer: strings become {@link XmlRpcString}; `undefined` becomes `null`
 * (`<nil/>`); arrays and plain objects are walked. Numbers that are integers stay `<int>`.
 */
export function toWireValue(value: unknown): unknown {
  if (typeof value === 'string') return new XmlRpcString(value);
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.map(toWireValue);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toWireValue(v);
    return out;
  }
  return value;
}
