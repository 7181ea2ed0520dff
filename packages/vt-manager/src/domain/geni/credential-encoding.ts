/**
 * The one encoding a GENI credential may have: UTF-8 (docs/geni-v3.md §9.3 item 1; decision 023 "one byte string,
 * one tree").
 *
 * Our reader (saxes) reads the JavaScript string and ignores the XML declaration's `encoding`; libxml2 (xmlsec1)
 * reads the bytes we write and honours it. A credential declaring `encoding="UTF-7"` (or UTF-16, EBCDIC …) could
 * therefore show the two parsers different documents: a forged credential to us, a genuine signed one to xmlsec1
 * (the review's issue #11 finding 1). Every byte string that reaches xmlsec1 is the string our reader accepted,
 * written as UTF-8 and starting with exactly `<?xml version="1.0" encoding="UTF-8"?>`, so both parsers decode it the
 * same way.
 */
import { GeniCredentialError } from './geni-credential-error.js';

/** The declaration every credential handed to xmlsec1 starts with. */
export const UTF8_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/**
 * A leading XML declaration as XML 1.0 §2.8 allows it (version, optional encoding, optional standalone, in that
 * order, single or double quotes). Group 1 is the encoding name, if any.
 */
const DECLARATION = /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.0"|'1\.0')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>/;

/** Characters XML 1.0 forbids (C0 controls but TAB/LF/CR, U+FFFE, U+FFFF) and lone UTF-16 surrogates (not UTF-8). */
const FORBIDDEN_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True for the names of UTF-8 (case-insensitive `UTF-8`, `UTF8`). */
export function isUtf8EncodingName(name: string): boolean {
  return /^utf-?8$/i.test(name);
}

/**
 * Checks that `xml` is a UTF-8 credential text and returns it with its start normalised for xmlsec1: an optional
 * UTF-8 byte order mark (U+FEFF) and an optional XML declaration are replaced by {@link UTF8_XML_DECLARATION}; the
 * rest is returned unchanged (the declaration is outside every signed element, and C14N drops it, so signatures
 * stay valid — tested with real xmlsec1).
 *
 * Refused: a declaration naming any encoding other than UTF-8 (absent = UTF-8), a malformed declaration, a byte
 * order mark other than UTF-8's (U+FFFE, or one written as Latin-1 characters), anything but `<` or whitespace
 * before the first markup, characters XML 1.0 forbids (NUL …) and lone surrogates (not encodable as UTF-8).
 * @throws GeniCredentialError naming the problem (never quoting more than the encoding name, clipped).
 */
export function normaliseCredentialEncoding(xml: string): string {
  let body = xml.startsWith('\uFEFF') ? xml.slice(1) : xml;
  if (/^(?:\uFFFE|\u00FE\u00FF|\u00FF\u00FE|\u00EF\u00BB\u00BF)/.test(body)) {
    throw new GeniCredentialError('the credential starts with a byte order mark other than UTF-8\'s (only UTF-8 is accepted)');
  }
  const bad = FORBIDDEN_CHARACTERS.exec(body);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new GeniCredentialError(`the credential contains the character U+${code}, not allowed in a UTF-8 XML document`);
  }
  if (body.startsWith('<?xml') && /^<\?xml[ \t\r\n?]/.test(body)) {
    const m = DECLARATION.exec(body);
    if (!m) throw new GeniCredentialError('the credential\'s XML declaration is malformed');
    const encoding = m[1] ?? m[2];
    if (encoding !== undefined && !isUtf8EncodingName(encoding)) {
      throw new GeniCredentialError(`the credential declares encoding ${JSON.stringify(encoding.slice(0, 32))}; only UTF-8 is accepted`);
    }
    body = body.slice(m[0].length);
  } else if (!/^[ \t\r\n]*</.test(body)) {
    throw new GeniCredentialError('the credential does not start with XML markup');
  }
  return UTF8_XML_DECLARATION + body;
}
