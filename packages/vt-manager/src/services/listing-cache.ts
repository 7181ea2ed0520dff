/**
 * The per-view cache of `listResources` documents (decision 031): for each view (principal, project filter, slice
 * filter) the last document built, with the inventory version it was built at, its hash and its escaped text. An
 * entry is current while the database's inventory version equals its version. Least recently used entries go first
 * when the cached bytes pass the limit; a document larger than the limit is not kept. Concurrent requests for the
 * same view and version share one build. An entry also keeps its document's per-server pieces (decision 035), which
 * the next build of the view reuses where a server's version did not move (they are the escaped text, not a copy).
 */
import type { ServerPiece } from './information-document.js';

/** A cached document. */
export interface CachedListing {
  /** Inventory version read before the document's rows were read. */
  version: string;
  /** The document's hash (hex; `documentHash` of information-document.ts, decision 035). */
  hash: string;
  /** The document escaped as the XML-RPC `<string>` content, in UTF-8 chunks. */
  escaped: Buffer[];
  /** Bytes in `escaped`. */
  escapedBytes: number;
  /** The document's pieces by server id (`escaped` is made of their bytes, not a copy), for the view's next build. */
  pieces?: ReadonlyMap<number, ServerPiece>;
}

/** Bytes an entry holds (its pieces are its escaped text). */
const sizeOf = (e: CachedListing) => e.escapedBytes;

/** Documents by view, at most `maxBytes` of escaped text in all. */
export class ListingCache {
  private readonly entries = new Map<string, CachedListing>();
  private readonly building = new Map<string, Promise<CachedListing>>();
  private bytes = 0;

  /** @param maxBytes the most escaped bytes kept (all entries together). */
  constructor(private readonly maxBytes: number) {}

  /** The view's entry if it was built at `version`, else undefined (a stale entry stays until replaced). */
  current(view: string, version: string): CachedListing | undefined {
    const e = this.entries.get(view);
    if (e === undefined || e.version !== version) return undefined;
    this.entries.delete(view); // most recently used last
    this.entries.set(view, e);
    return e;
  }

  /** The view's latest entry whatever its version (its pieces seed the next build), else undefined. */
  latest(view: string): CachedListing | undefined {
    return this.entries.get(view);
  }

  /**
   * The view's document at `version`: the cached one, a build already under way for this view and version, or a
   * new build by `build` (which reads the version itself and may return a newer one). Build errors are not cached.
   */
  async get(view: string, version: string, build: () => Promise<CachedListing>): Promise<CachedListing> {
    const hit = this.current(view, version);
    if (hit) return hit;
    const key = `${version}\u0000${view}`;
    let pending = this.building.get(key);
    if (!pending) {
      pending = build()
        .then((e) => {
          this.store(view, e);
          return e;
        })
        .finally(() => this.building.delete(key));
      this.building.set(key, pending);
    }
    return pending;
  }

  /** Cached escaped bytes in all entries. */
  get cachedBytes(): number {
    return this.bytes;
  }

  private store(view: string, e: CachedListing): void {
    const old = this.entries.get(view);
    if (old) {
      // keep the newer of two builds (versions only grow)
      if (BigInt(old.version) > BigInt(e.version)) return;
      this.entries.delete(view);
      this.bytes -= sizeOf(old);
    }
    if (sizeOf(e) > this.maxBytes) return;
    this.entries.set(view, e);
    this.bytes += sizeOf(e);
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= sizeOf(v);
    }
  }
}
