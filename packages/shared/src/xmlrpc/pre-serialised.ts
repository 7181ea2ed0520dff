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

/**
 * Bytes handed to the socket per group (256 KiB): the chunks of a group are written corked and leave as one
 * `writev`, which TLS encrypts in one go on the event loop (~0.5–1 ms at this size), so a concurrent request waits
 * for at most about one group's encryption per turn of the loop.
 */
const GROUP_BYTES = 256 * 1024;

/**
 * The body's chunks as views of at most {@link GROUP_BYTES}: a larger chunk is cut (`subarray`, no copy); smaller
 * chunks (the information document's per-server pieces, ~1–30 KiB each) are given as they are. Nothing is copied
 * here: the chunks are the cached pieces (decision 035), and copying them together (`Buffer.concat`, the sender
 * before) took a third to a half of the manager's CPU during listings, in fresh 1 MiB buffers that stayed in memory
 * until the next garbage collection (5 listings at once: over 100 MiB of RSS).
 */
function* views(chunks: readonly Buffer[]): Generator<Buffer> {
  for (const chunk of chunks) {
    if (chunk.length <= GROUP_BYTES) {
      yield chunk;
      continue;
    }
    for (let at = 0; at < chunk.length; at += GROUP_BYTES) yield chunk.subarray(at, Math.min(chunk.length, at + GROUP_BYTES));
  }
}

/** Resolves on the response's next `drain` or `close`. */
function drained(res: Response): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Sends a pre-serialised methodResponse with HTTP 200, `Content-Type: text/xml; charset=utf-8` (as `res.send` of a
 * string does) and its `Content-Length`. The chunks are written as they are (no copy), corked in groups of about
 * {@link GROUP_BYTES} (one `writev`, one TLS record run per group instead of one per piece), and the next group
 * waits for `drain` while the socket's buffer is full, so at most about one group per response is buffered beyond
 * the cached pieces themselves. Resolves when the last chunk is handed to the socket or the connection closed.
 */
export async function sendPreSerialised(res: Response, body: PreSerialisedResponse): Promise<void> {
  res.status(200).set({ 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': String(body.byteLength) });
  let group = 0;
  let full = false;
  res.cork();
  for (const view of views(body.chunks)) {
    if (res.destroyed) return;
    if (group + view.length > GROUP_BYTES && group > 0) {
      res.uncork();
      group = 0;
      if (full) await drained(res);
      if (res.destroyed) return;
      full = false;
      res.cork();
    }
    if (!res.write(view)) full = true;
    group += view.length;
  }
  res.uncork();
  res.end();
}
