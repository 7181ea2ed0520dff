/**
 * Builds the `listResources` information document (docs/ocf-protocol.md §6.7) for one view, server by server, in
 * linear time (decision 031), reusing the pieces of the view's previous document (decision 035): each server's
 * `<server>` element, escaped for the XML-RPC `<string>` the answer carries, is kept with the server's listing
 * version (database triggers); a server whose version has not moved keeps its piece, the others are read (the VMs
 * of a page of them in one query, split per server in one pass) and serialised alone (shared
 * `serialiseServerInformation`, byte for byte what `serialiseRspec` writes). The hash is a SHA-256 over the SHA-256
 * digests of the escaped pieces in document order ({@link documentHash}; decision 035, amended): each piece's digest
 * is computed once, when the piece is built, so a rebuild hashes the changed servers' pieces plus 32 bytes per
 * server instead of the whole ~29 MiB document. The loop yields to the event loop every few milliseconds, so
 * concurrent requests (a `ping`) wait at most about one server's work plus one page read.
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  escapeXmlRpcBytes,
  INFORMATION_DOCUMENT_EMPTY,
  INFORMATION_DOCUMENT_HEAD,
  INFORMATION_DOCUMENT_TAIL,
  serialiseServerInformation,
} from '@kvm-crm/shared';
import type { ListingFilter, ListingRepository } from '../repositories/listing-repository.js';
import { serverToInformation } from './rspec-mapping.js';

/** One server's `<server>` element of a view's document, as kept between builds. */
export interface ServerPiece {
  /** The server's listing version the piece was read at (undefined: unknown, never reused). */
  version: string | undefined;
  /** The element's text (ASCII, serialiser rule 9) escaped for the XML-RPC `<string>` (shared `escapeXmlRpcBytes`). */
  escaped: Buffer;
  /** SHA-256 of `escaped` (32 bytes), computed once with the piece. */
  digest: Buffer;
  /** The element's raw text: only in a build with `keepXml` (never cached). */
  raw?: Buffer;
}

/** How {@link buildInformationDocument} works. */
export interface BuildOptions {
  /** Also return the raw document text (tests, internal callers); the wire needs only the escaped pieces. */
  keepXml: boolean;
  /** Servers whose VMs are read per query. */
  serversPerPage: number;
  /** Longest stretch of work in ms before yielding to the event loop. */
  sliceMs: number;
  /**
   * The pieces of this view's previous document (same filter), by server id; reused where the server's version is
   * unchanged. They must come from a build of the same view: a piece shows only the view's VMs.
   */
  previous?: ReadonlyMap<number, ServerPiece>;
}

/** A built document: its hash, its escaped text in UTF-8 chunks, its pieces, and (with `keepXml`) its raw text. */
export interface BuiltDocument {
  /** {@link documentHash} of the document (§2.2.3: opaque, equal for equal content). */
  hash: string;
  /** The document escaped as the XML-RPC `<string>` content (see shared `escapeXmlRpcText`), piece by piece. */
  escaped: Buffer[];
  /** Bytes in `escaped`. */
  escapedBytes: number;
  /** Every server's piece, by server id, for the next build of this view. */
  pieces: Map<number, ServerPiece>;
  /** Servers whose piece came from `previous`. */
  reused: number;
  /** The raw document, when asked for. */
  xml?: string;
}

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/**
 * The document's hash (hex): the SHA-256 of the concatenated SHA-256 digests of its escaped pieces in document order
 * (the head, each `<server>` element, the tail; or the one piece of the empty document). Opaque and equal for equal
 * content, as §2.2.3 asks (Expedient only stores and compares it): the pieces follow the document's structure, so
 * equal documents have equal pieces, and different documents differ in at least one piece (the escaping is one to
 * one). Hashing digests rather than the whole escaped text keeps a rebuild's hashing to the pieces that changed.
 */
export function documentHash(digests: readonly Buffer[]): string {
  return createHash('sha256').update(Buffer.concat(digests)).digest('hex');
}

/** A constant part of the document as a piece. */
function constantPiece(text: string): ServerPiece {
  const raw = Buffer.from(text, 'latin1');
  const escaped = escapeXmlRpcBytes(raw);
  return { version: undefined, raw, escaped, digest: sha256(escaped) };
}
const HEAD = constantPiece(INFORMATION_DOCUMENT_HEAD);
const TAIL = constantPiece(INFORMATION_DOCUMENT_TAIL);
const EMPTY = constantPiece(INFORMATION_DOCUMENT_EMPTY);

/** A scratch buffer of at least `n` bytes for a piece's raw text (reused: only its escaped copy is kept). */
let scratch = Buffer.allocUnsafe(256 * 1024);
function scratchFor(n: number): Buffer {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(n * 2);
  return scratch;
}

/**
 * The information document of every server with the VMs of `filter`, read through `repo` (the server ids, their
 * versions, and, page by page, the rows and VMs of the servers whose piece is not reused; all in the caller's one
 * snapshot: see InformationService).
 * @throws InputError when a stored string cannot be serialised (non-ASCII; shared serialiser), or the driver's error.
 */
export async function buildInformationDocument(repo: ListingRepository, filter: ListingFilter, options: BuildOptions): Promise<BuiltDocument> {
  const digests: Buffer[] = [];
  const escaped: Buffer[] = [];
  const raw: Buffer[] = [];
  let escapedBytes = 0;
  const emit = (piece: ServerPiece) => {
    digests.push(piece.digest);
    if (options.keepXml) raw.push(piece.raw!);
    escaped.push(piece.escaped);
    escapedBytes += piece.escaped.length;
  };
  let lastYield = performance.now();
  const maybeYield = async () => {
    if (performance.now() - lastYield < options.sliceMs) return;
    await yieldToLoop();
    lastYield = performance.now();
  };

  const pieces = new Map<number, ServerPiece>();
  let reused = 0;
  const ids = await repo.serverIds();
  const versions = await repo.serverVersions();
  if (ids.length === 0) {
    emit(EMPTY);
  } else {
    emit(HEAD);
    for (let from = 0; from < ids.length; from += options.serversPerPage) {
      const batch = ids.slice(from, from + options.serversPerPage);
      const kept = batch.map((id) => {
        const p = options.previous?.get(id);
        const version = versions.get(id);
        // with keepXml a piece must carry its raw text (cached pieces do not)
        return p !== undefined && version !== undefined && p.version === version && (!options.keepXml || p.raw !== undefined) ? p : undefined;
      });
      const misses = batch.filter((_, i) => kept[i] === undefined);
      const rows = misses.length > 0 ? await repo.serversByIds(misses) : [];
      const vms = misses.length > 0 ? await repo.vmsOnServers(filter, misses) : [];
      let v = 0;
      let r = 0;
      for (let i = 0; i < batch.length; i += 1) {
        const id = batch[i]!;
        let piece = kept[i];
        if (piece !== undefined) {
          reused += 1;
        } else {
          while (r < rows.length && rows[r]!.id < id) r += 1;
          const s = rows[r];
          // In a snapshot the row is there. Only on SQLite `:memory:` (tests; no snapshot, see InformationService)
          // can a server deleted meanwhile be missing: left out, as a later read would have; the version read before
          // the rows has moved, so this document is not reused.
          if (s === undefined || s.id !== id) continue;
          while (v < vms.length && vms[v]!.serverId < s.id) v += 1;
          const start = v;
          while (v < vms.length && vms[v]!.serverId === s.id) v += 1;
          const text = serialiseServerInformation(serverToInformation(s, vms.slice(start, v)));
          const bytes = scratchFor(text.length);
          const n = bytes.write(text, 'latin1'); // the document is ASCII (serialiser rule 9), so latin1 = UTF-8
          const escaped = escapeXmlRpcBytes(bytes.subarray(0, n)); // its own memory: pieces outlive each other
          const digest = sha256(escaped);
          piece = options.keepXml ? { version: versions.get(s.id), escaped, digest, raw: Buffer.from(bytes.subarray(0, n)) } : { version: versions.get(s.id), escaped, digest };
        }
        pieces.set(id, piece);
        emit(piece);
        await maybeYield();
      }
    }
    emit(TAIL);
  }
  return {
    hash: documentHash(digests), escaped, escapedBytes, pieces, reused,
    ...(options.keepXml ? { xml: Buffer.concat(raw).toString('latin1') } : {}),
  };
}
