/**
 * A small, strict, non-validating XML 1.0 reader used by the rspec parser (ocf-protocol.md §6.1 rule 10).
 *
 * Why not a general-purpose parser: the rspec codec needs (a) hard rejection of DTDs and custom entities before any
 * parsing work (XXE, billion laughs), (b) byte, depth and element-count limits enforced while scanning, (c) a clear
 * "not well-formed" error for everything expat would reject (two roots, text after the root, unknown entities, `<`
 * in attribute values, unbound prefixes, …) and (d) ElementTree's `.text` semantics. `fast-xml-parser`'s validator
 * accepts several of those inputs and does not decode numeric references without its HTML-entity mode, so the
 * reader is hand-written; it only has to understand what a well-formed document without a DTD can contain.
 *
 * Not exported from the package: {@link parseRspec} is the public entry point.
 */
import { InputError } from '../errors.js';

/** Limits applied by {@link readXml}; every field is required here (defaults live in parse.ts). */
export interface XmlReaderLimits {
  /** Maximum size of the input, in UTF-8 bytes. */
  maxBytes: number;
  /** Maximum element nesting depth (the root element is depth 1). */
  maxDepth: number;
  /** Maximum number of elements in the document. */
  maxElements: number;
}

/** One element of the tree built by {@link readXml}. */
export interface XmlElement {
  /** Local name: any namespace prefix is stripped, the namespace itself is ignored (§6.1 rule 10). */
  readonly name: string;
  /** Unprefixed attributes (namespace declarations excluded), after attribute-value normalisation. */
  readonly attributes: ReadonlyMap<string, string>;
  /** Child elements in document order. */
  readonly children: XmlElement[];
  /**
   * Character data (text and CDATA, references decoded) before the first child element: ElementTree's `.text`.
   * Comments and processing instructions are dropped, so text on both sides of a comment is concatenated, as with
   * cElementTree. `''` when there is none.
   */
  text: string;
  /** 1-based line of the element's start tag, for error messages. */
  readonly line: number;
}

const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

// XML 1.0 (5th edition) §2.3 NameStartChar / NameChar.
const NAME_START = ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
const NAME_RE = new RegExp(`[${NAME_START}][${NAME_CHAR}]*`, 'uy');
const ANCHORED_NAME_RE = new RegExp(`^[${NAME_START}][${NAME_CHAR}]*$`, 'u');
/** Characters outside XML 1.0 §2.2 `Char` (C0 controls except tab/LF/CR, surrogates, U+FFFE/U+FFFF). */
const ILLEGAL_CHAR_RE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const XML_DECL_RE =
  /^<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])1\.[0-9]+\1(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])[A-Za-z][A-Za-z0-9._-]*\2)?(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(?:yes|no)\3)?[ \t\n]*\?>/;
const WHITESPACE_ONLY_RE = /^[ \t\n]*$/;
/** Markup declarations are refused outright, wherever they appear (even inside comments or CDATA). */
const MARKUP_DECLARATION_RE = /<!(?:DOCTYPE|ENTITY)/i;

/** What {@link readXml} returns. */
export interface XmlDocument {
  readonly root: XmlElement;
}

/**
 * Reads a complete XML document into an element tree.
 *
 * Order of checks (the cheap, security-relevant ones come before any parsing work):
 * 1. size in UTF-8 bytes against `limits.maxBytes`;
 * 2. any `<!DOCTYPE` or `<!ENTITY` (case-insensitive, anywhere) is refused: no DTD, hence no external entity and no
 *    entity expansion beyond the five predefined entities and numeric character references;
 * 3. characters outside the XML 1.0 `Char` production;
 * 4. a single scanning pass that checks well-formedness and stops as soon as the depth or element-count limit is
 *    exceeded.
 *
 * Line ends are normalised (`\r\n` and `\r` become `\n`) as XML 1.0 §2.11 requires. A leading byte-order mark is
 * skipped. Namespace prefixes must be declared (as with expat in namespace mode), but the namespace itself is not
 * recorded.
 *
 * @throws {InputError} for oversized input, DTDs, exceeded limits and any not-well-formed input; the message says
 *   what was wrong and where (line and column).
 */
export function readXml(xml: string, limits: XmlReaderLimits): XmlDocument {
  // Every UTF-16 code unit takes at least one UTF-8 byte, so a long string is rejected without measuring it.
  if (xml.length > limits.maxBytes || Buffer.byteLength(xml, 'utf8') > limits.maxBytes) {
    throw new InputError(`XML document too large: more than ${limits.maxBytes} bytes`);
  }
  const decl = MARKUP_DECLARATION_RE.exec(xml);
  if (decl) {
    throw new InputError(
      `XML document refused: DOCTYPE and ENTITY declarations are not allowed (found "${decl[0]}" at ${position(xml, decl.index)})`,
    );
  }
  let src = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  src = src.replace(/\r\n?/g, '\n');
  const bad = ILLEGAL_CHAR_RE.exec(src);
  if (bad) {
    const cp = bad[0].codePointAt(0) ?? 0;
    throw notWellFormed(src, bad.index, `character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`);
  }
  return new Reader(src, limits).read();
}

/** `line L, column C` (1-based) of `offset` in `src`. */
function position(src: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = src.indexOf('\n'); i !== -1 && i < offset; i = src.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/** Names from the input are XML Names (no control characters) but may be long: cut them for messages. */
function clip(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}...` : name;
}

function notWellFormed(src: string, offset: number, what: string): InputError {
  return new InputError(`not well-formed XML: ${what} at ${position(src, offset)}`);
}

interface OpenElement {
  readonly qname: string;
  readonly element: XmlElement;
  /** Prefixes declared on this element (`''` for the default namespace). */
  readonly declared: ReadonlyMap<string, string> | undefined;
  /** True once a child element has started: later text is a tail, not `.text`. */
  hasChild: boolean;
}

class Reader {
  private pos = 0;
  private readonly stack: OpenElement[] = [];
  private root: XmlElement | undefined;
  private elementCount = 0;
  /** Line counting cursor: start tags are met in increasing offset order, so counting stays linear overall. */
  private lineCursor = { offset: 0, line: 1 };

  constructor(
    private readonly src: string,
    private readonly limits: XmlReaderLimits,
  ) {}

  read(): XmlDocument {
    const { src } = this;
    if (src.startsWith('<?xml') && /[ \t\n?]/.test(src.charAt(5))) {
      const m = XML_DECL_RE.exec(src);
      if (!m) throw this.error(0, 'malformed XML declaration');
      this.pos = m[0].length;
    }
    while (this.pos < src.length) {
      const lt = src.indexOf('<', this.pos);
      const end = lt === -1 ? src.length : lt;
      if (end > this.pos) this.characterData(this.pos, end);
      if (lt === -1) break;
      this.markup(lt);
    }
    if (this.stack.length > 0) {
      const open = this.stack[this.stack.length - 1]!;
      throw this.error(src.length, `unclosed element <${clip(open.qname)}> (opened on line ${open.element.line})`);
    }
    if (!this.root) throw this.error(src.length, 'no root element');
    return { root: this.root };
  }

  /** 1-based line of `offset`; `offset` must not decrease between calls. */
  private lineAt(offset: number): number {
    const cursor = this.lineCursor;
    for (let i = this.src.indexOf('\n', cursor.offset); i !== -1 && i < offset; i = this.src.indexOf('\n', i + 1)) {
      cursor.line++;
      cursor.offset = i + 1;
    }
    return cursor.line;
  }

  private error(offset: number, what: string): InputError {
    return notWellFormed(this.src, offset, what);
  }

  /** Text between markup: outside the root it must be whitespace; inside, references are decoded. */
  private characterData(start: number, end: number): void {
    const raw = this.src.slice(start, end);
    if (this.stack.length === 0) {
      if (!WHITESPACE_ONLY_RE.test(raw)) {
        const at = start + raw.search(/[^ \t\n]/);
        throw this.error(at, this.root ? 'text after the root element' : 'text before the root element');
      }
      return;
    }
    const cdataEnd = raw.indexOf(']]>');
    if (cdataEnd !== -1) throw this.error(start + cdataEnd, "']]>' is not allowed in text");
    this.appendText(this.decode(raw, start, false));
  }

  private appendText(text: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top && !top.hasChild && text !== '') top.element.text += text;
  }

  /** Decodes the five predefined entities and character references; in attribute values, normalises whitespace. */
  private decode(raw: string, offset: number, attribute: boolean): string {
    let out = '';
    let from = 0;
    for (let amp = raw.indexOf('&'); amp !== -1; amp = raw.indexOf('&', from)) {
      const literal = raw.slice(from, amp);
      out += attribute ? literal.replace(/[\t\n]/g, ' ') : literal;
      const semi = raw.indexOf(';', amp);
      const ref = semi === -1 ? '' : raw.slice(amp + 1, semi);
      if (semi === -1 || ref.length === 0 || ref.length > 32) {
        throw this.error(offset + amp, "'&' must start an entity or character reference (escape it as &amp;)");
      }
      if (ref.startsWith('#')) {
        const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref);
        const cp = m ? (m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2]!, 10)) : NaN;
        if (!m || !(cp <= 0x10ffff) || ILLEGAL_CHAR_RE.test(String.fromCodePoint(cp))) {
          throw this.error(offset + amp, `invalid character reference &${ref};`);
        }
        out += String.fromCodePoint(cp);
      } else {
        const value = PREDEFINED_ENTITIES[ref];
        if (value === undefined) {
          throw this.error(offset + amp, `undefined entity &${ref.slice(0, 32)}; (only the five predefined entities are allowed)`);
        }
        out += value;
      }
      from = semi + 1;
    }
    const rest = raw.slice(from);
    return out + (attribute ? rest.replace(/[\t\n]/g, ' ') : rest);
  }

  private markup(lt: number): void {
    const { src } = this;
    if (src.startsWith('<!--', lt)) {
      const close = src.indexOf('--', lt + 4);
      if (close === -1) throw this.error(lt, 'unterminated comment');
      if (src.charAt(close + 2) !== '>') throw this.error(close, "'--' is not allowed inside a comment");
      this.pos = close + 3;
    } else if (src.startsWith('<![CDATA[', lt)) {
      if (this.stack.length === 0) throw this.error(lt, 'CDATA section outside the root element');
      const close = src.indexOf(']]>', lt + 9);
      if (close === -1) throw this.error(lt, 'unterminated CDATA section');
      this.appendText(src.slice(lt + 9, close));
      this.pos = close + 3;
    } else if (src.startsWith('<!', lt)) {
      throw this.error(lt, "markup declarations ('<!') are not allowed");
    } else if (src.startsWith('<?', lt)) {
      this.processingInstruction(lt);
    } else if (src.startsWith('</', lt)) {
      this.endTag(lt);
    } else {
      this.startTag(lt);
    }
  }

  private name(at: number, what: string): string {
    NAME_RE.lastIndex = at;
    const m = NAME_RE.exec(this.src);
    if (!m) throw this.error(at, `expected ${what}`);
    return m[0];
  }

  private skipSpace(): boolean {
    const start = this.pos;
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a) break;
      this.pos++;
    }
    return this.pos > start;
  }

  private processingInstruction(lt: number): void {
    const target = this.name(lt + 2, 'a processing-instruction target after "<?"');
    if (target.toLowerCase() === 'xml') throw this.error(lt, 'XML declaration is only allowed at the very start');
    const close = this.src.indexOf('?>', lt + 2 + target.length);
    if (close === -1) throw this.error(lt, 'unterminated processing instruction');
    const after = this.src.charAt(lt + 2 + target.length);
    if (close !== lt + 2 + target.length && !/[ \t\n]/.test(after)) {
      throw this.error(lt + 2 + target.length, 'malformed processing instruction');
    }
    this.pos = close + 2;
  }

  private endTag(lt: number): void {
    const qname = this.name(lt + 2, 'an element name after "</"');
    this.pos = lt + 2 + qname.length;
    this.skipSpace();
    if (this.src.charAt(this.pos) !== '>') throw this.error(this.pos, `expected '>' to close the end tag </${clip(qname)}>`);
    this.pos++;
    const open = this.stack.pop();
    if (!open) throw this.error(lt, `end tag </${clip(qname)}> without a matching start tag`);
    if (open.qname !== qname) {
      throw this.error(lt, `end tag </${clip(qname)}> does not match start tag <${clip(open.qname)}> (line ${open.element.line})`);
    }
  }

  private startTag(lt: number): void {
    const { src } = this;
    if (this.root && this.stack.length === 0) throw this.error(lt, 'more than one root element');
    const qname = this.name(lt + 1, 'an element name after "<"');
    this.pos = lt + 1 + qname.length;
    const raw: { qname: string; value: string; at: number }[] = [];
    const seen = new Set<string>();
    let selfClosing = false;
    for (;;) {
      const hadSpace = this.skipSpace();
      const c = src.charAt(this.pos);
      if (c === '>') {
        this.pos++;
        break;
      }
      if (c === '/' && src.charAt(this.pos + 1) === '>') {
        this.pos += 2;
        selfClosing = true;
        break;
      }
      if (c === '') throw this.error(lt, `unterminated start tag <${clip(qname)}>`);
      if (!hadSpace) throw this.error(this.pos, `expected whitespace, '>' or '/>' in start tag <${clip(qname)}>`);
      const at = this.pos;
      const attrName = this.name(at, `an attribute name, '>' or '/>' in start tag <${clip(qname)}>`);
      this.pos += attrName.length;
      this.skipSpace();
      if (src.charAt(this.pos) !== '=') throw this.error(this.pos, `attribute ${clip(attrName)} has no value`);
      this.pos++;
      this.skipSpace();
      const quote = src.charAt(this.pos);
      if (quote !== '"' && quote !== "'") throw this.error(this.pos, `value of attribute ${clip(attrName)} must be quoted`);
      const close = src.indexOf(quote, this.pos + 1);
      if (close === -1) throw this.error(this.pos, `unterminated value of attribute ${clip(attrName)}`);
      const rawValue = src.slice(this.pos + 1, close);
      const lessThan = rawValue.indexOf('<');
      if (lessThan !== -1) throw this.error(this.pos + 1 + lessThan, `'<' is not allowed in the value of attribute ${clip(attrName)}`);
      if (seen.has(attrName)) throw this.error(at, `duplicate attribute ${clip(attrName)}`);
      seen.add(attrName);
      raw.push({ qname: attrName, value: this.decode(rawValue, this.pos + 1, true), at });
      this.pos = close + 1;
    }

    // Namespace declarations first, then check that every prefix in use is bound.
    let declared: Map<string, string> | undefined;
    for (const a of raw) {
      if (a.qname === 'xmlns' || a.qname.startsWith('xmlns:')) {
        const prefix = a.qname === 'xmlns' ? '' : a.qname.slice(6);
        if (prefix !== '' && a.value === '') throw this.error(a.at, `namespace prefix ${clip(prefix)} cannot be undeclared`);
        (declared ??= new Map()).set(prefix, a.value);
      }
    }
    const attributes = new Map<string, string>();
    for (const a of raw) {
      if (a.qname === 'xmlns' || a.qname.startsWith('xmlns:')) continue;
      const prefix = this.prefixOf(a.qname, a.at, declared);
      if (prefix === undefined) attributes.set(a.qname, a.value);
    }
    const prefix = this.prefixOf(qname, lt + 1, declared);
    const name = prefix === undefined ? qname : qname.slice(prefix.length + 1);

    this.elementCount++;
    if (this.elementCount > this.limits.maxElements) {
      throw new InputError(`XML document refused: more than ${this.limits.maxElements} elements`);
    }
    if (this.stack.length + 1 > this.limits.maxDepth) {
      throw new InputError(`XML document refused: elements nested deeper than ${this.limits.maxDepth} levels (${position(src, lt)})`);
    }
    const element: XmlElement = { name, attributes, children: [], text: '', line: this.lineAt(lt) };
    const parent = this.stack[this.stack.length - 1];
    if (parent) {
      parent.element.children.push(element);
      parent.hasChild = true;
    } else {
      this.root = element;
    }
    if (!selfClosing) this.stack.push({ qname, element, declared, hasChild: false });
  }

  /** The prefix of `qname` (undefined when unprefixed), after checking it is well-formed and bound. */
  private prefixOf(qname: string, at: number, declared: ReadonlyMap<string, string> | undefined): string | undefined {
    const colon = qname.indexOf(':');
    if (colon === -1) return undefined;
    const prefix = qname.slice(0, colon);
    const local = qname.slice(colon + 1);
    if (prefix === '' || local === '' || local.includes(':') || !ANCHORED_NAME_RE.test(local)) {
      throw this.error(at, `malformed qualified name ${clip(qname)}`);
    }
    if (prefix !== 'xml' && !declared?.has(prefix) && !this.stack.some((o) => o.declared?.has(prefix))) {
      throw this.error(at, `unbound namespace prefix ${clip(prefix)}`);
    }
    return prefix;
  }
}
