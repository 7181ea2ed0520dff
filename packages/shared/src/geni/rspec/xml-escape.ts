/**
 * Attribute escaping for the GENI RSpec builders (advertisement.ts, manifest.ts): ASCII-only output
 * (docs/geni-v3.md §1 item 7: the RO feeds RSpecs to `lxml.etree.fromstring`, which rejects a Python 2 `unicode`
 * string carrying an encoding declaration, so non-ASCII characters become numeric character references).
 */
import { InputError } from '../../errors.js';

/** Characters XML 1.0 does not allow at all (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF). */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * One attribute, ` name="value"`, with `value` escaped for a double-quoted attribute: `&`, `<`, `>`, `"` as entities;
 * tab, LF and CR as character references (so attribute-value normalisation keeps them); every character above
 * U+007E as a numeric character reference (`é` → `&#233;`, astral characters as one reference).
 * @param where names the element for the error message.
 * @throws InputError when the value holds a character XML 1.0 does not allow.
 */
export function attribute(name: string, value: string, where: string): string {
  const bad = NOT_XML_CHAR.exec(value);
  if (bad) {
    const cp = bad[0].codePointAt(0) ?? 0;
    throw new InputError(`cannot write RSpec: ${where}@${name} holds U+${cp.toString(16).toUpperCase().padStart(4, '0')}, which XML 1.0 does not allow`);
  }
  let out = '';
  for (const ch of value) {
    switch (ch) {
      case '&': out += '&amp;'; break;
      case '<': out += '&lt;'; break;
      case '>': out += '&gt;'; break;
      case '"': out += '&quot;'; break;
      case '\t': out += '&#9;'; break;
      case '\n': out += '&#10;'; break;
      case '\r': out += '&#13;'; break;
      default: {
        const cp = ch.codePointAt(0) ?? 0;
        out += cp > 0x7e ? `&#${cp};` : ch;
      }
    }
  }
  return ` ${name}="${out}"`;
}

/** A whole number ≥ 0 as an attribute. @throws InputError for anything else (NaN, fractions, negatives). */
export function countAttribute(name: string, value: number, where: string): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InputError(`cannot write RSpec: ${where}@${name} must be a whole number >= 0, got ${String(value)}`);
  }
  return ` ${name}="${value}"`;
}
