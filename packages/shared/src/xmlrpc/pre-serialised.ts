/**
 * methodResponses a method serialises itself, for answers too large to build as one value and serialise with the
 * `xmlrpc` package on the event loop (listResources' information document: 24 MB at 10,000 VMs; decision 031).
 * The bytes are exactly what {@link serialiseMethodResponse} writes for the same value (a test compares them), and
 * the handler streams them in slices with back-pressure.
 */
import type { Response } from 'express';

/** A complete methodResponse body, in chunks (UTF-8), that the XML-RPC handler sends as it is. */
export class PreSerialisedResponse {
  /** Total size in bytes. */
  readonly byteLength: number;

  constructor(readonly chunks: readonly Buffer[]) {
    this.byteLength = chunks.reduce((n, c) => n + c.length, 0);
  }
}

const NEEDS_ESCAPE_RE = /[&<>\r]/;

/**
 * Text as the `xmlrpc` package (xmlbuilder `elEscape`) escapes a `<string>`'s content: `&`, `<`, `>` and CR
 * (`&#xD;`). The caller has checked that the characters are legal XML (the rspec serialiser refuses the others).
 */
export function escapeXmlRpcText(s: string): string {
  if (!NEEDS_ESCAPE_RE.test(s)) return s;
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

/** Scratch space of {@link escapeXmlRpcBytes} (grows to the largest piece × 5; one per process). */
let escapeScratch = Buffer.allocUnsafe(256 * 1024);

/**
 * Escapes ASCII/Latin-1 text given as bytes for an XML-RPC `<string>` ({@link escapeXmlRpcText}'s rule) into a new
 * Buffer of exactly the escaped size (a piece of a large text cached on its own: the information document, server by
 * server; decision 035). A byte loop: measured 3–4× faster than a chain of native `replace`/`replaceAll` calls on
 * the document's pieces (nearly every line has `<` and `>`, so there is no fast path).
 */
export function escapeXmlRpcBytes(raw: Buffer): Buffer {
  if (escapeScratch.length < raw.length * 5) escapeScratch = Buffer.allocUnsafe(raw.length * 5);
  const cur = escapeScratch;
  let at = 0;
  for (let i = 0; i < raw.length; i += 1) {
    const c = raw[i]!;
    if (c > 62 || (c !== 38 && c !== 60 && c !== 62 && c !== 13)) {
      cur[at++] = c;
    } else if (c === 60 || c === 62) {
      // &lt; / &gt;
      cur[at] = 38;
      cur[at + 1] = c === 60 ? 108 : 103;
      cur[at + 2] = 116;
      cur[at + 3] = 59;
      at += 4;
    } else if (c === 38) {
      // &amp;
      cur[at] = 38;
      cur[at + 1] = 97;
      cur[at + 2] = 109;
      cur[at + 3] = 112;
      cur[at + 4] = 59;
      at += 5;
    } else {
      // CR: &#xD;
      cur[at] = 38;
      cur[at + 1] = 35;
      cur[at + 2] = 120;
      cur[at + 3] = 68;
      cur[at + 4] = 59;
      at += 5;
    }
  }
  const out = Buffer.allocUnsafeSlow(at); // its own memory: a pooled slice would keep an 8 KiB slab alive per piece
  cur.copy(out, 0, 0, at);
  return out;
}

const HEAD = '<?xml version="1.0"?><methodResponse><params><param><value><array><data><value>';
const TAIL = '</value></data></array></value></param></params></methodResponse>';

/** `<string>…</string>`, or `<string/>` for '' (as the package writes it), of already escaped text. */
function stringValue(escaped: string): string {
  return escaped === '' ? '<string/>' : `<string>${escaped}</string>`;
}

/**
 * The methodResponse of the array `[first, second]` of two strings, where `second` is given as its escaped text
 * ({@link escapeXmlRpcText}) in UTF-8 chunks: an empty list of chunks (or only empty chunks) is the empty string.
 */
export function stringPairResponse(first: string, secondEscaped: readonly Buffer[]): PreSerialisedResponse {
  const empty = secondEscaped.every((c) => c.length === 0);
  if (empty) return new PreSerialisedResponse([Buffer.from(`${HEAD}${stringValue(escapeXmlRpcText(first))}</value><value><string/>${TAIL}`)]);
  return new PreSerialisedResponse([
    Buffer.from(`${HEAD}${stringValue(escapeXmlRpcText(first))}</value><value><string>`),
    ...secondEscaped,
    Buffer.from(`</string>${TAIL}`),
  ]);
}

/** Largest slice written to the socket at once (1 MiB): TLS encrypts each write on the event loop. */
const SLICE_BYTES = 1024 * 1024;

/**
 * The body's chunks as slices of at most {@link SLICE_BYTES}: a large chunk is cut, small consecutive chunks (the
 * information document's per-server pieces, ~1–30 KiB each) are copied together, so the socket sees a few large
 * writes instead of a thousand small ones (each small write waited for its own `drain`: one turn of the loop per
 * piece, and Node's writev copied them together anyway).
 */
function* slices(chunks: readonly Buffer[]): Generator<Buffer> {
  let group: Buffer[] = [];
  let groupBytes = 0;
  for (const chunk of chunks) {
    if (groupBytes + chunk.length > SLICE_BYTES && group.length > 0) {
      yield group.length === 1 ? group[0]! : Buffer.concat(group, groupBytes);
      group = [];
      groupBytes = 0;
    }
    if (chunk.length >= SLICE_BYTES) {
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) yield chunk.subarray(at, Math.min(chunk.length, at + SLICE_BYTES));
      continue;
    }
    group.push(chunk);
    groupBytes += chunk.length;
  }
  if (group.length > 0) yield group.length === 1 ? group[0]! : Buffer.concat(group, groupBytes);
}

/**
 * Sends a pre-serialised methodResponse with HTTP 200, `Content-Type: text/xml; charset=utf-8` (as `res.send` of a
 * string does) and its `Content-Length`, in slices of at most 1 MiB (small chunks copied together), waiting for
 * `drain` when the socket's buffer is full. Resolves when the last slice is handed to the socket or the connection
 * closed.
 */
export async function sendPreSerialised(res: Response, body: PreSerialisedResponse): Promise<void> {
  res.status(200).set({ 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': String(body.byteLength) });
  for (const slice of slices(body.chunks)) {
    if (res.destroyed) return;
    if (!res.write(slice)) {
      await new Promise<void>((resolve) => {
        const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}
