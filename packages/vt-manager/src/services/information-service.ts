/**
 * Read side for clearinghouses: `listResources` (docs/ocf-protocol.md §2.2.3, §6.7), at cluster scale (decision 031):
 * the database keeps an inventory version current (triggers), each view's document is cached with the version it
 * was built at, so "unchanged" costs one small read; a new document is built in linear time with yields to the event
 * loop and sent pre-serialised and streamed.
 */
import { stringPairResponse, type PreSerialisedResponse } from '@kvm-crm/shared';
import type { DataSource, EntityManager } from 'typeorm';
import { openSqliteReader } from '../db/data-source.js';
import { InventoryVersionRepository } from '../repositories/inventory-version-repository.js';
import { ListingRepository, type ListingFilter } from '../repositories/listing-repository.js';
import { buildInformationDocument } from './information-document.js';
import { ListingCache, type CachedListing } from './listing-cache.js';

/** `"None"`, `""` and an absent argument all mean "no filter" (§2.2.3, recommended behaviour). */
function filterValue(v: string | undefined): string | undefined {
  return v === undefined || v === '' || v === 'None' ? undefined : v;
}

/** Options of {@link InformationService}; every field has a default. */
export interface InformationServiceOptions {
  /**
   * Escaped document bytes kept in the per-view cache, all views together (a view's document is also its per-server
   * pieces for the next build). Default 96 MiB: the full view at 10,000 VMs (29 MiB) and a handful of smaller views.
   */
  cacheBytes?: number;
  /** Servers whose VMs are read per query while building. Default 50. */
  serversPerPage?: number;
  /** Longest stretch of building work in ms between yields to the event loop. Default 10. */
  sliceMs?: number;
}

/** `listResources`: the information document, filtered by project, slice and the caller's projects. */
export class InformationService {
  private readonly cache: ListingCache;
  private readonly serversPerPage: number;
  private readonly sliceMs: number;
  /** The build under way (builds run one at a time, see {@link serialised}). */
  private lastBuild: Promise<unknown> = Promise.resolve();
  /** SQLite file: the read-only connection listings read on (opened at first use; see {@link read}). */
  private reader: Promise<DataSource> | undefined;

  constructor(private readonly dataSource: DataSource, options: InformationServiceOptions = {}) {
    this.cache = new ListingCache(options.cacheBytes ?? 96 * 1024 * 1024);
    this.serversPerPage = options.serversPerPage ?? 50;
    this.sliceMs = options.sliceMs ?? 10;
  }

  /**
   * The information document for every server, with VMs filtered by project and slice (and to the projects of
   * `principal` when given), and its hash: a SHA-256 over the digests of the escaped document's pieces (hex, `documentHash`, decision 035),
   * opaque to clients, equal for equal content (§2.2.3). Always built afresh (not cached).
   */
  async information(projectId?: string, sliceId?: string, principal?: string): Promise<{ hash: string; xml: string }> {
    const built = await this.read((em) => buildInformationDocument(new ListingRepository(em), this.filter(projectId, sliceId, principal), { keepXml: true, serversPerPage: this.serversPerPage, sliceMs: this.sliceMs }));
    return { hash: built.hash, xml: built.xml! };
  }

  /**
   * `listResources(remoteHashValue, projectUUID, sliceUUID)` → `[hash, xml]`, or `[hash, ""]` when unchanged, as
   * values (internal callers and tests; the wire uses {@link listResourcesResponse}).
   */
  async listResources(remoteHash: string, projectId?: string, sliceId?: string, principal?: string): Promise<[string, string]> {
    const view = await this.view(projectId, sliceId, principal);
    if (view.hash === remoteHash) return [view.hash, ''];
    const { hash, xml } = await this.information(projectId, sliceId, principal);
    return [hash, hash === remoteHash ? '' : xml];
  }

  /**
   * `listResources` as the XML-RPC answer: `[hash, ""]` when `remoteHash` is current, else `[hash, xml]` already
   * serialised (streamed by the handler). The unchanged answer costs one read of the inventory version while the
   * view's document is cached.
   * @throws InputError when a stored string cannot be serialised; the driver's error.
   */
  async listResourcesResponse(remoteHash: string, projectId?: string, sliceId?: string, principal?: string): Promise<PreSerialisedResponse> {
    const view = await this.view(projectId, sliceId, principal);
    return stringPairResponse(view.hash, view.hash === remoteHash ? [] : view.escaped);
  }

  /** The view's current document: cached while the inventory version has not moved, else built (once per version). */
  private async view(projectId: string | undefined, sliceId: string | undefined, principal: string | undefined): Promise<CachedListing> {
    const filter = this.filter(projectId, sliceId, principal);
    const key = JSON.stringify([filter.principal ?? null, filter.projectId ?? null, filter.sliceId ?? null]);
    const version = await new InventoryVersionRepository((await this.readSource()).manager).current();
    return this.cache.get(key, version, () =>
      this.serialised(() => this.read(async (em) => {
        // the version is read before the rows: a change during the build moves it, so this entry is not reused
        const at = await new InventoryVersionRepository(em).current();
        // the pieces of the view's last document: a server whose listing version did not move keeps its piece
        const previous = this.cache.latest(key)?.pieces;
        const built = await buildInformationDocument(new ListingRepository(em), filter, { keepXml: false, serversPerPage: this.serversPerPage, sliceMs: this.sliceMs, previous });
        return { version: at, hash: built.hash, escaped: built.escaped, escapedBytes: built.escapedBytes, pieces: built.pieces };
      })),
    );
  }

  /**
   * Runs builds one after another: the loop is shared with every other request, and N builds interleaving their
   * 10 ms slices made a concurrent `ping` wait N slices per turn of the loop (5 views at once: ~200 ms). One at a
   * time, a request waits for at most one slice per turn, and the total work is the same (one thread).
   */
  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lastBuild.then(work, work);
    this.lastBuild = run.catch(() => undefined);
    return run;
  }

  private filter(projectId: string | undefined, sliceId: string | undefined, principal: string | undefined): ListingFilter {
    return { projectId: filterValue(projectId), sliceId: filterValue(sliceId), principal };
  }

  /**
   * Closes the read-only SQLite connection, if one was opened. Call before destroying the DataSource.
   * @throws the driver's error.
   */
  async close(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await (await reader.catch(() => undefined))?.destroy();
  }

  /**
   * Where listings read: on a SQLite file a read-only connection of its own ({@link openSqliteReader}): the
   * manager's one connection is shared with the writers' (group-commit) transactions, and a read there sees their
   * uncommitted rows, so a document built from rows and a version that a rollback then takes back would be cached
   * at a version number issued again by the next commit (stale for ever). Elsewhere the DataSource itself
   * (`:memory:`, tests only, has no second connection and keeps that weakness).
   */
  private readSource(): Promise<DataSource> {
    const o = this.dataSource.options;
    if (o.type !== 'better-sqlite3' || o.database === ':memory:') return Promise.resolve(this.dataSource);
    this.reader ??= openSqliteReader(o.database);
    return this.reader;
  }

  /**
   * Runs the reads of one document in one transaction, so the version and every page come from one committed
   * snapshot: on MySQL/MariaDB at REPEATABLE READ on a pooled connection of its own; on a SQLite file on the
   * read-only connection (WAL: the snapshot of the last commit, taken at the first read, kept across the build's
   * yields without blocking writers). On SQLite `:memory:` on the plain shared manager (no transaction may stay
   * open across yields there; the version read first keeps a mixed document from being reused).
   */
  private async read<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const type = this.dataSource.options.type;
    if (type === 'mysql' || type === 'mariadb') return this.dataSource.transaction('REPEATABLE READ', work);
    const source = await this.readSource();
    return source === this.dataSource ? work(this.dataSource.manager) : source.transaction(work);
  }
}
