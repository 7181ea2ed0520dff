/**
 * The strict, non-validating XML 1.0 reader used by the rspec parser (docs/ocf-protocol.md §6.1 rule 10).
 *
 * Tokenizing and well-formedness are left to `saxes` (strict XML 1.0 plus Namespaces in XML, the parser jsdom uses):
 * it rejects everything expat would (two roots, text outside the root, unknown entities, `<` in attribute values,
 * duplicate attributes, `]]>` in text, a misplaced or malformed XML declaration, unbound prefixes, …), expands only
 * the five predefined entities and numeric character references, normalises line ends and attribute values, and
 * streams events, so the limits below can stop it early. `sax` (isaacs) was not chosen: even in strict mode it
 * accepts two root elements, an empty document, duplicate attributes, `<` in attribute values, `&nbsp;` and other
 * HTML entities, `]]>` in text, control characters, CDATA outside the root and an XML declaration anywhere.
 *
 * What stays here, around the library:
 * - the checks made before any parsing work: size in UTF-8 bytes, refusal of any `<!DOCTYPE`/`<!ENTITY` (XXE,
 *   billion laughs: saxes would skip an internal subset without expanding it, but such input is refused outright),
 *   and characters outside XML 1.0 `Char` (saxes 6.0.0 lets a lone high surrogate through);
 * - the depth and element-count limits, checked as each start tag begins (before its attributes are read);
 * - the element tree with ElementTree's `.text` semantics;
 * - error messages: `not well-formed XML: <what> at line L, column C`, always as {@link InputError}. saxes' own
 *   wording is kept for most errors; the few cases where its message or position would mislead (a bare `&`, which
 *   saxes reads as a reference up to the next `;` or the end of the input, mismatched end tags, unbound prefixes,
 *   unterminated markup at the end of the input) are reported from the position of the construct that caused them.
 *
 * Not exported from the package: {@link parseRspec} is the public entry point.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
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
  /** Local name: any namespace prefix is stripped (the namespace URI is in {@link XmlElement.namespace}). */
  readonly name: string;
  /**
   * Namespace URI of the element (`''` when it has none). The OCF rspec parser ignores it (§6.1 rule 10); the GENI
   * RSpec parser (geni/rspec/request.ts) uses it to be namespace-aware.
   */
  readonly namespace: string;
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

/** What {@link readXml} returns. */
export interface XmlDocument {
  readonly root: XmlElement;
}

/** Characters outside XML 1.0 §2.2 `Char` (C0 controls except tab/LF/CR, surrogates, U+FFFE/U+FFFF). */
const ILLEGAL_CHAR_RE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
/** Markup declarations are refused outright, wherever they appear (even inside comments or CDATA). */
const MARKUP_DECLARATION_RE = /<!(?:DOCTYPE|ENTITY)/i;
/** A reference saxes accepts; the first `&` not starting one is the culprit of a reference error. */
const VALID_REFERENCE_RE = /&(?:lt|gt|amp|apos|quot|#[0-9]+|#x[0-9a-fA-F]+);/y;
const BARE_AMPERSAND = "'&' must start an entity or character reference (escape it as &amp;)";

const SAXES_OPTIONS = { xmlns: true, position: false, defaultXMLVersion: '1.0', forceXMLVersion: true } as const;

/**
 * Reads a complete XML document into an element tree.
 *
 * Order of checks (the cheap, security-relevant ones come before any parsing work):
 * 1. size in UTF-8 bytes against `limits.maxBytes`;
 * 2. any `<!DOCTYPE` or `<!ENTITY` (case-insensitive, anywhere) is refused: no DTD, hence no external entity and no
 *    entity expansion beyond the five predefined entities and numeric character references;
 * 3. characters outside the XML 1.0 `Char` production;
 * 4. a single streaming pass (saxes) that checks well-formedness and stops as soon as the depth or element-count
 *    limit is exceeded.
 *
 * Line ends are normalised (`\r\n` and `\r` become `\n`) as XML 1.0 §2.11 requires. A leading byte-order mark is
 * skipped. The document is read as XML 1.0 whatever its declaration says. Namespace prefixes must be declared (as
 * with expat in namespace mode), and each element records its namespace URI.
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
  // Normalised here rather than by saxes so that its stream positions are offsets into `src`.
  let src = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  src = src.replace(/\r\n?/g, '\n');
  const bad = ILLEGAL_CHAR_RE.exec(src);
  if (bad) {
    const cp = bad[0].codePointAt(0) ?? 0;
    throw notWellFormed(src, bad.index, `character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`);
  }
  return new TreeBuilder(src, limits).read();
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

/** What kind of markup starts at `lt` (a '<'), for "unterminated …" messages. */
function markupAt(src: string, lt: number): string {
  const name = (re: RegExp, from: number) => clip(re.exec(src.slice(from, from + 200))?.[0] ?? '');
  if (src.startsWith('<!--', lt)) return 'comment';
  if (src.startsWith('<![CDATA[', lt)) return 'CDATA section';
  if (src.startsWith('<!', lt)) return "markup declaration ('<!')";
  if (src.startsWith('<?', lt)) return 'processing instruction';
  if (src.startsWith('</', lt)) return `end tag </${name(/^[^\s>]*/, lt + 2)}>`;
  return `start tag <${name(/^[^\s/>]*/, lt + 1)}>`;
}

interface OpenElement {
  readonly qname: string;
  readonly element: XmlElement;
  /** True once a child element has started: later text is a tail, not `.text`. */
  hasChild: boolean;
}

/** Builds the tree from saxes events and turns saxes errors into {@link InputError}s. */
class TreeBuilder {
  private readonly parser = new SaxesParser(SAXES_OPTIONS);
  private readonly stack: OpenElement[] = [];
  private root: XmlElement | undefined;
  private elementCount = 0;
  /** Start tag whose name has been read but not yet its attributes and `>`. */
  private startTag: { readonly qname: string; readonly lt: number } | undefined;
  /** Offset of the first character saxes has read but not yet reported in an event. */
  private unreported = 0;
  /** Offset just after the last markup (tag, comment, PI, CDATA section, XML declaration) saxes reported. */
  private markupEnd = 0;
  /** True while `close()` runs: saxes reports unterminated constructs only at the end of the input. */
  private atEnd = false;
  /** Line counting cursor: start tags are met in increasing offset order, so counting stays linear overall. */
  private readonly lineCursor = { offset: 0, line: 1 };

  constructor(
    private readonly src: string,
    private readonly limits: XmlReaderLimits,
  ) {
    const p = this.parser;
    p.on('error', (err) => {
      throw this.translate(err.message);
    });
    p.on('opentagstart', (tag) => this.onStartTagName(tag.name));
    p.on('opentag', (tag) => this.onStartTag(tag));
    p.on('closetag', (tag) => this.onEndTag(tag));
    p.on('text', (text) => {
      this.appendText(text);
      this.unreported = p.position - 1; // saxes reports text when it meets the next '<'
    });
    p.on('cdata', (text) => {
      this.appendText(text);
      this.reported();
    });
    p.on('comment', () => this.reported());
    p.on('processinginstruction', () => this.reported());
    p.on('xmldecl', () => this.reported());
  }

  read(): XmlDocument {
    this.parser.write(this.src);
    this.atEnd = true;
    this.parser.close();
    if (!this.root) throw notWellFormed(this.src, this.src.length, 'no root element'); // saxes has already failed
    return { root: this.root };
  }

  private reported(): void {
    this.unreported = this.markupEnd = this.parser.position;
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

  /** Limits are checked as soon as a start tag's name is read, before its attributes. */
  private onStartTagName(qname: string): void {
    // saxes has read the name and the character after it; a name cannot contain '<'.
    const lt = this.src.lastIndexOf('<', this.parser.position - 1);
    this.startTag = { qname, lt };
    this.elementCount++;
    if (this.elementCount > this.limits.maxElements) {
      throw new InputError(`XML document refused: more than ${this.limits.maxElements} elements`);
    }
    if (this.stack.length + 1 > this.limits.maxDepth) {
      throw new InputError(`XML document refused: elements nested deeper than ${this.limits.maxDepth} levels (${position(this.src, lt)})`);
    }
  }

  private onStartTag(tag: SaxesTagNS): void {
    const lt = this.startTag?.lt ?? 0;
    this.startTag = undefined;
    this.reported();
    const attributes = new Map<string, string>();
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === '' && a.name !== 'xmlns') attributes.set(a.name, a.value);
    }
    const element: XmlElement = { name: tag.local, namespace: tag.uri, attributes, children: [], text: '', line: this.lineAt(lt) };
    const parent = this.stack[this.stack.length - 1];
    if (parent) {
      parent.element.children.push(element);
      parent.hasChild = true;
    } else {
      this.root = element;
    }
    this.stack.push({ qname: tag.name, element, hasChild: false });
  }

  /** saxes calls this with the innermost open element before it checks that the end tag matches it. */
  private onEndTag(tag: SaxesTagNS): void {
    this.reported();
    const open = this.stack.pop();
    if (tag.isSelfClosing || !open) return;
    const lt = this.src.lastIndexOf('</', this.parser.position - 1);
    const name = /[^\s>]*/y;
    name.lastIndex = lt + 2;
    const qname = name.exec(this.src)?.[0] ?? '';
    if (qname !== open.qname) {
      throw notWellFormed(
        this.src,
        lt,
        `end tag </${clip(qname)}> does not match start tag <${clip(open.qname)}> (line ${open.element.line})`,
      );
    }
  }

  private appendText(text: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top && !top.hasChild && text !== '') top.element.text += text;
  }

  /** The offset of the first `&` at or after `from` that does not start a valid reference, or -1. */
  private bareAmpersand(from: number): number {
    const { src } = this;
    for (let amp = src.indexOf('&', from); amp !== -1; amp = src.indexOf('&', amp + 1)) {
      VALID_REFERENCE_RE.lastIndex = amp;
      if (!VALID_REFERENCE_RE.test(src)) return amp;
    }
    return -1;
  }

  /** Turns a saxes error message into an InputError, positioned at the construct that caused it. */
  private translate(saxesMessage: string): InputError {
    const { src, startTag } = this;
    const what = saxesMessage.replace(/\.$/, '');
    const at = Math.max(this.parser.position - 1, 0); // saxes fails just after reading the offending character
    // Everything saxes has not reported yet: the construct being read (a start tag, or text with its references).
    const pending = startTag?.lt ?? this.unreported;

    if (this.atEnd) {
      // Only constructs left open reach the end of the input: name the one that was being read.
      if (startTag) {
        const amp = this.bareAmpersand(startTag.lt); // an attribute value read up to the end as a reference
        return notWellFormed(src, amp === -1 ? startTag.lt : amp, amp === -1 ? `unterminated start tag <${clip(startTag.qname)}>` : BARE_AMPERSAND);
      }
      if (src.charAt(this.unreported) === '<') return notWellFormed(src, this.unreported, `unterminated ${markupAt(src, this.unreported)}`);
      // Text: saxes reports it at the next '<', so any markup after it was swallowed by a reference missing its ';'.
      const amp = this.bareAmpersand(this.unreported);
      if (amp !== -1) return notWellFormed(src, amp, BARE_AMPERSAND);
      const open = this.stack[this.stack.length - 1];
      if (open) return notWellFormed(src, src.length, `unclosed element <${clip(open.qname)}> (opened on line ${open.element.line})`);
      return notWellFormed(src, src.length, this.root ? what : 'no root element');
    }

    if (what.endsWith('entity') || what.endsWith('entity name')) {
      // saxes has just read the ';' ending what it took for a reference (it reads across markup to find one).
      const amp = src.lastIndexOf('&', at);
      const ref = src.slice(amp + 1, at);
      if (what === 'undefined entity') {
        return notWellFormed(src, amp, `undefined entity &${clip(ref)}; (only the five predefined entities are allowed)`);
      }
      if (/^#(?:x[0-9a-fA-F]+|[0-9]+)$/.test(ref)) return notWellFormed(src, amp, `invalid character reference &${clip(ref)};`);
      const bare = this.bareAmpersand(pending);
      return notWellFormed(src, bare === -1 ? at : bare, BARE_AMPERSAND);
    }
    if (startTag && what === 'documents may contain only one root') {
      return notWellFormed(src, startTag.lt, 'more than one root element');
    }
    if (what === 'text data outside of root node') {
      // Reported at the '<' that ends the text (or at the end): point at the text itself.
      const text = src.slice(this.markupEnd).search(/[^ \t\n]/);
      return notWellFormed(src, this.markupEnd + Math.max(text, 0), `text ${this.root ? 'after' : 'before'} the root element`);
    }
    if (what.startsWith('unmatched closing tag: ')) {
      return notWellFormed(src, src.lastIndexOf('</', at), `end tag </${clip(what.slice(23))}> without a matching start tag`);
    }
    if (what === 'incorrect syntax') {
      return notWellFormed(src, src.lastIndexOf('<!', at), "markup declarations ('<!') are not allowed");
    }
    if (startTag && what === 'disallowed character' && src.charAt(at) === '<') {
      return notWellFormed(src, at, `'<' is not allowed in an attribute value`);
    }
    if (this.unreported === 0 && /^<\?xml[ \t\n?]/.test(src) && at < src.indexOf('?>') + 2) {
      return notWellFormed(src, at, 'malformed XML declaration');
    }
    if (startTag && src.charAt(at) === '>') {
      // Namespace and duplicate-attribute checks run once the whole start tag is read: point at its name.
      const unbound = /^unbound namespace prefix: "(.*)"$/.exec(what);
      return notWellFormed(src, startTag.lt + 1, unbound ? `unbound namespace prefix ${clip(unbound[1]!)}` : what);
    }
    return notWellFormed(src, at, what);
  }
}
