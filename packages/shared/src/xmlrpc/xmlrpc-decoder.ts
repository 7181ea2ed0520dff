/**
 * Strict, streaming decoding of XML-RPC messages (methodCall, methodResponse) on `saxes` (strict XML 1.0, the
 * parser the rspec reader uses), yielding to the event loop between chunks (docs/ocf-protocol.md §1.1 for the value
 * types; the limits are ours, docs/security.md "Input limits"; decision 013).
 *
 * It replaces the `xmlrpc` package's Deserializer on every message we receive; the package still serialises.
 * The Deserializer decoded leniently and slowly: it re-joined all text seen since the last start tag at every end
 * tag (quadratic in text between close tags), read `<int>12abc</int>` as 12 and `<int> 0x10</int>` as 0, took
 * `<i4>` values outside 32 bits, built structs with `{}[name] = value` (a member named `__proto__` became the
 * struct's prototype), and ran its `sax` parser over the whole body in one go (an 8 MiB string: 0.6–1.7 s of
 * blocked event loop). Here, in one linear pass that stops at the first problem:
 * - depth and element-count limits, checked as each start tag begins;
 * - text only where XML-RPC has values; a whitespace run elsewhere is capped;
 * - `<int>`/`<i4>`: optional sign and decimal digits (surrounding whitespace allowed, as Python's `int()`),
 *   32-bit range; `<i8>`: the same within ±2^53, returned as a string (as the package did); `<double>`: decimal
 *   notation, finite; `<boolean>`: `0` or `1`;
 * - struct member names `__proto__`, `constructor` and `prototype` are refused;
 * - the method name: 1–{@link MAX_METHOD_NAME_LENGTH} characters of `A–Z a–z 0–9 _ . : /` (the XML-RPC spec's set).
 * The values decoded are those the package produced (strings, numbers, booleans, `null` for `<nil/>`, `Buffer` for
 * base64, `Date` for dateTime.iso8601, arrays, plain objects). Every refusal is an {@link InputError}:
 * `malformed XML-RPC request: …` when the XML is not well-formed or not XML-RPC, `XML-RPC request rejected: …` for a
 * limit or a value; it quotes at most a few dozen characters of the input.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SaxesParser } from 'saxes';
import dateFormatter from 'xmlrpc/lib/date_formatter.js';
import { InputError } from '../errors.js';
import { clipForMessage } from './clip.js';

/** Limits of the decoder. Defaults in {@link DEFAULT_MESSAGE_LIMITS}. */
export interface XmlRpcMessageLimits {
  /**
   * Deepest element nesting (methodCall is depth 1). Each XML-RPC array or struct level takes 3 elements
   * (`value/array/data`, `value/struct/member`), so the default 200 allows the 64 levels we send at most.
   */
  maxDepth: number;
  /** Most elements in one message. */
  maxElements: number;
  /** Longest run of whitespace between two tags outside a value (pretty-printing needs a few dozen characters). */
  maxStructuralTextLength: number;
  /** Characters parsed between two yields to the event loop. */
  chunkCharacters: number;
}

/** Defaults: depth 200, 100,000 elements, 1,024 characters of whitespace between tags, 32 Ki characters a chunk. */
export const DEFAULT_MESSAGE_LIMITS: Readonly<XmlRpcMessageLimits> = Object.freeze({
  maxDepth: 200,
  maxElements: 100_000,
  maxStructuralTextLength: 1024,
  chunkCharacters: 32 * 1024,
});

/** Longest accepted method name. */
export const MAX_METHOD_NAME_LENGTH = 256;

/** A decoded methodCall. */
export interface DecodedCall {
  methodName: string;
  params: unknown[];
}

/** A decoded methodResponse: `{ value }` for a result, `{ fault }` for a fault. */
export type DecodedResponse = { value: unknown } | { fault: { faultCode: number; faultString: string } };

const METHOD_NAME_RE = /^[A-Za-z0-9_.:/]+$/;
const INTEGER_RE = /^[+-]?[0-9]+$/;
const DOUBLE_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const WHITESPACE_ONLY_RE = /^[ \t\r\n]*$/;
const FORBIDDEN_MEMBER_NAMES = new Set(['__proto__', 'constructor', 'prototype']);
/** Elements whose own text is data; text anywhere else must be whitespace. */
const TEXT_ELEMENTS = new Set(['value', 'string', 'int', 'i4', 'i8', 'double', 'boolean', 'base64', 'datetime.iso8601', 'name', 'methodname']);
const KNOWN_ELEMENTS = new Set([...TEXT_ELEMENTS, 'nil', 'array', 'data', 'struct', 'member', 'param', 'params', 'fault', 'methodcall', 'methodresponse']);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** One open element. */
interface Frame {
  name: string;
  text: string;
  hadChild: boolean;
}

/** The streaming state of one message: the open elements and the values built so far (as the package's stack). */
class MessageDecoder {
  private readonly frames: Frame[] = [];
  /** Values completed and not yet taken by their array, struct or member. */
  readonly values: unknown[] = [];
  /** Positions in `values` where each open array or struct began. */
  private readonly marks: number[] = [];
  private elements = 0;
  root: string | undefined;
  methodName: string | undefined;
  fault = false;

  constructor(
    private readonly what: 'request' | 'response',
    private readonly limits: XmlRpcMessageLimits,
  ) {}

  refuse(message: string): never {
    throw new InputError(`XML-RPC ${this.what} rejected: ${message}`);
  }

  malformed(message: string): never {
    throw new InputError(`malformed XML-RPC ${this.what}: ${message}`);
  }

  open(rawName: string): void {
    const name = rawName.toLowerCase();
    this.elements += 1;
    if (this.frames.length + 1 > this.limits.maxDepth) this.refuse(`elements nested deeper than ${this.limits.maxDepth} levels`);
    if (this.elements > this.limits.maxElements) this.refuse(`more than ${this.limits.maxElements} elements`);
    if (!KNOWN_ELEMENTS.has(name)) this.malformed(`unknown XML-RPC element <${clipForMessage(rawName, 40)}>`);
    const parent = this.frames[this.frames.length - 1];
    if (parent) {
      if (parent.name !== 'value' && TEXT_ELEMENTS.has(parent.name)) this.malformed(`<${clipForMessage(rawName, 40)}> inside <${parent.name}>`);
      if (parent.name === 'value' && (parent.hadChild || !WHITESPACE_ONLY_RE.test(parent.text))) this.malformed('a <value> holds more than one value');
      parent.hadChild = true;
    } else {
      this.root = name;
    }
    if (name === 'array' || name === 'struct') this.marks.push(this.values.length);
    this.frames.push({ name, text: '', hadChild: false });
  }

  text(t: string): void {
    const frame = this.frames[this.frames.length - 1];
    if (frame && TEXT_ELEMENTS.has(frame.name) && !frame.hadChild) {
      frame.text += t;
      return;
    }
    if (!WHITESPACE_ONLY_RE.test(t)) this.malformed(`text "${clipForMessage(t.trim(), 40)}" where XML-RPC allows only markup`);
    if (t.length > this.limits.maxStructuralTextLength) {
      this.refuse(`${t.length} characters of whitespace between tags (at most ${this.limits.maxStructuralTextLength})`);
    }
  }

  close(): void {
    const frame = this.frames.pop();
    if (!frame) return;
    const parent = this.frames[this.frames.length - 1];
    const t = frame.text;
    switch (frame.name) {
      case 'value':
        if (!frame.hadChild) this.values.push(t); // an untyped value is a string
        return;
      case 'string':
        this.values.push(t);
        return;
      case 'name':
        if (parent?.name === 'member' && FORBIDDEN_MEMBER_NAMES.has(t)) this.refuse(`struct member name "${t}" is not allowed`);
        this.values.push(t);
        return;
      case 'int':
      case 'i4':
      case 'i8':
        this.values.push(this.integer(frame.name, t.trim()));
        return;
      case 'double': {
        const d = t.trim();
        if (!DOUBLE_RE.test(d) || !Number.isFinite(Number(d))) this.refuse(`<double> holds "${clipForMessage(d, 40)}", not a finite decimal number`);
        this.values.push(Number(d));
        return;
      }
      case 'boolean': {
        const b = t.trim();
        if (b !== '0' && b !== '1') this.refuse(`<boolean> holds "${clipForMessage(b, 40)}", not 0 or 1`);
        this.values.push(b === '1');
        return;
      }
      case 'nil':
        this.values.push(null);
        return;
      case 'base64':
        this.values.push(Buffer.from(t, 'base64'));
        return;
      case 'datetime.iso8601':
        this.values.push(dateFormatter.decodeIso8601(t.trim()));
        return;
      case 'array': {
        const mark = this.marks.pop() ?? 0;
        this.values.push(this.values.splice(mark));
        return;
      }
      case 'struct': {
        const mark = this.marks.pop() ?? 0;
        const items = this.values.splice(mark);
        if (items.length % 2 !== 0) this.malformed('a struct member without a name or a value');
        const struct: Record<string, unknown> = {};
        for (let i = 0; i < items.length; i += 2) struct[String(items[i])] = items[i + 1];
        this.values.push(struct);
        return;
      }
      case 'methodname':
        if (t.length === 0 || t.length > MAX_METHOD_NAME_LENGTH || !METHOD_NAME_RE.test(t)) {
          this.refuse(`method name "${clipForMessage(t, 64)}" is not 1-${MAX_METHOD_NAME_LENGTH} characters of A-Z a-z 0-9 _ . : /`);
        }
        this.methodName = t;
        return;
      case 'fault':
        this.fault = true;
        return;
      default:
        return; // data, member, param, params, methodcall, methodresponse: structure only
    }
  }

  private integer(name: string, t: string): number | string {
    if (!INTEGER_RE.test(t)) this.refuse(`<${name}> holds "${clipForMessage(t, 40)}", not a decimal integer`);
    const n = Number(t);
    const [min, max] = name === 'i8' ? [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] : [INT32_MIN, INT32_MAX];
    if (!(n >= min && n <= max)) this.refuse(`<${name}> value ${clipForMessage(t, 40)} is out of range (${min} to ${max})`);
    return name === 'i8' ? t.replace(/^\+/, '') : n;
  }
}

/** Runs saxes over `body` in chunks, yielding between them; returns the decoder's final state. */
async function decode(body: string, what: 'request' | 'response', limits: XmlRpcMessageLimits): Promise<MessageDecoder> {
  const dtdRefused = `XML-RPC ${what} rejected: DTDs and entity declarations are not allowed`;
  // Requests: refused before parsing. Answers: only a real DOCTYPE (below), since a peer's fault string may quote
  // `<!DOCTYPE` inside CDATA (the xmlrpc package writes strings holding `<` as CDATA; ours reflects refused rspecs).
  if (what === 'request' && /<!DOCTYPE|<!ENTITY/i.test(body)) throw new InputError(dtdRefused);
  const decoder = new MessageDecoder(what, limits);
  const parser = new SaxesParser({ position: false });
  parser.on('doctype', () => {
    throw new InputError(dtdRefused);
  });
  parser.on('opentagstart', (tag) => decoder.open(tag.name));
  parser.on('text', (t) => decoder.text(t));
  parser.on('cdata', (t) => decoder.text(t));
  parser.on('closetag', () => decoder.close());
  parser.on('error', (err) => decoder.malformed(clipForMessage(err.message, 120)));
  for (let i = 0; i < body.length; i += limits.chunkCharacters) {
    parser.write(body.slice(i, i + limits.chunkCharacters));
    if (i + limits.chunkCharacters < body.length) await yieldToLoop();
  }
  parser.close();
  return decoder;
}

/**
 * Decodes a complete methodCall.
 * @throws InputError when it is not a well-formed methodCall, a limit is exceeded or a value is refused.
 */
export async function decodeMethodCall(body: string, limits: XmlRpcMessageLimits = DEFAULT_MESSAGE_LIMITS): Promise<DecodedCall> {
  const d: MessageDecoder = await decode(body, 'request', limits);
  if (d.root !== 'methodcall') d.malformed('not a methodCall');
  if (d.methodName === undefined) return d.malformed('no method name');
  return { methodName: d.methodName, params: d.values };
}

/**
 * Decodes a complete methodResponse: `{ value }`, or `{ fault }` with the fault struct's code and string.
 * @throws InputError when it is not a well-formed methodResponse, a limit is exceeded or a value is refused.
 */
export async function decodeMethodResponse(body: string, limits: XmlRpcMessageLimits = DEFAULT_MESSAGE_LIMITS): Promise<DecodedResponse> {
  const d: MessageDecoder = await decode(body, 'response', limits);
  if (d.root !== 'methodresponse') d.malformed('not a methodResponse');
  if (d.values.length > 1) d.malformed('more than one value');
  if (d.fault) {
    const f = d.values[0] as { faultCode?: unknown; faultString?: unknown } | undefined;
    if (!f || typeof f !== 'object' || typeof f.faultCode !== 'number') return d.malformed('a fault without an integer faultCode');
    return { fault: { faultCode: f.faultCode, faultString: typeof f.faultString === 'string' ? f.faultString : '' } };
  }
  if (d.values.length === 0) d.malformed('no value');
  return { value: d.values[0] };
}
