/**
 * Conversion of JS values to what the `xmlrpc` package serialises the way Python peers do.
 *
 * The `xmlrpc` package writes strings that contain `<` or `&` as CDATA sections. Python's `xmlrpclib` (every OCF
 * peer) writes them as escaped text inside an explicit `<string>` tag (docs/ocf-protocol.md §1.1). Both parse the same,
 * but we emit the Python form so that our messages match the original ones (`generated/*.methodCall.xml`).
 *
 * Only `xmlrpc/lib/customtype.js` is imported (the class the package's Serializer checks with `instanceof`), not the
 * package's index, which loads its HTTP client and server, cookies and the `sax` deserializer that we do not use
 * (our decoder is xmlrpc-decoder.ts): −0.9 MiB RSS in the agent (decision 036).
 */
import CustomType from 'xmlrpc/lib/customtype.js';
import { InputError } from '../errors.js';

/**
 * Deepest nesting of arrays/structs we serialise. OCF values are a few levels deep; the serializer recurses per level,
 * so a hostile value echoed back (`ping` of arrays nested 100000 deep) would overflow the stack.
 */
export const MAX_WIRE_DEPTH = 64;

/** An XML-RPC `<string>` written as escaped text (never CDATA). */
export class XmlRpcString extends CustomType {
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
 * @throws InputError when arrays/structs are nested deeper than {@link MAX_WIRE_DEPTH} (a response then becomes a
 *   clear fault instead of a stack overflow).
 */
export function toWireValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return new XmlRpcString(value);
  if (value === undefined) return null;
  const container = Array.isArray(value) || (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype);
  if (container && depth >= MAX_WIRE_DEPTH) throw new InputError(`XML-RPC value nested deeper than ${MAX_WIRE_DEPTH} levels: refused`);
  if (Array.isArray(value)) return value.map((v) => toWireValue(v, depth + 1));
  if (container) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = toWireValue(v, depth + 1);
    return out;
  }
  return value;
}
