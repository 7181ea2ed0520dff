/**
 * Before/after snapshots of everything a request could change in a test cluster, so that a test can prove that
 * a refused request changed nothing:
 * - `db`: every row of every table of the manager's database (SQLite internal tables such as `sqlite_sequence`
 *   included; the transient client-status outbox `notification`, `send`'s intake `action_intake` and the listing version counters `inventory_version` and `server_listing_version` left out), read with raw SQL, so sealed columns are compared as stored (ciphertext) and nothing goes through
 *   the entities' transformers; rows sorted by `id` (or by their JSON when a table has no `id`). No column is left
 *   out but the host telemetry every monitoring round rewrites ({@link TELEMETRY_COLUMNS}): timestamps such as
 *   `updatedAt` only move when a row really is written.
 * - `domains`: the libvirt domains of the run (name prefix), with `domstate` and a SHA-256 of the persistent
 *   definition (`dumpxml --inactive`).
 * - `files`: the agent's storage tree (templates and VMs): relative path, type, size, permission bits, symlink
 *   target, and a SHA-256 for regular files under 32 MiB. Symlinks are recorded, never followed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import { domainsWithPrefix, virsh } from './libvirt.js';

/** What a snapshot needs from the cluster (a subset of `Cluster`). */
export interface SnapshotTarget {
  manager: { dataSource: DataSource };
  domainPrefix: string;
  storageRoot: string;
}

export type DbRow = Record<string, unknown>;

export interface DomainEntry {
  name: string;
  state: string;
  /** SHA-256 of `virsh dumpxml --inactive` (the persistent definition). */
  definitionSha256: string;
}

export interface FileEntry {
  /** Path relative to the storage root, `/`-separated. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** Permission bits in octal, e.g. `0644`. */
  mode: string;
  /** Regular files under {@link HASH_LIMIT_BYTES}. */
  sha256?: string;
  /** Symlinks: where they point (as stored, not resolved). */
  target?: string;
}

export interface StateSnapshot {
  takenAt: string;
  db: Record<string, DbRow[]>;
  domains: DomainEntry[];
  files: FileEntry[];
}

/** Regular files at least this large are compared by size and mode only. */
export const HASH_LIMIT_BYTES = 32 * 1024 * 1024;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A JSON-friendly, comparable form of a column value (Buffers as hex, Dates as ISO strings, bigints as strings). */
function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return `hex:${v.toString('hex')}`;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  return v;
}

async function dbSnapshot(ds: DataSource): Promise<Record<string, DbRow[]>> {
  const type = ds.options.type;
  let tables: string[];
  if (type === 'better-sqlite3' || type === 'sqljs') {
    const rows = (await ds.query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)) as Array<{ name: string }>;
    tables = rows.map((r) => r.name);
  } else {
    tables = [...new Set(ds.entityMetadatas.map((m) => m.tableName))].sort();
  }
  // The client-status outbox (`notification`, decision 011) is transient: a refused request's FAILED status passes
  // through it (row added, delivered, deleted); what the client received is checked by the tests themselves. So is
  // `send`'s intake (`action_intake`, decision 039): an accepted action's row is deleted when it is admitted or refused.
  // The listing version (`inventory_version`, decision 031) is a counter the database triggers bump on any write
  // of a listed row, also one rolled back by hand (a create stored, then failed and removed): bookkeeping, not state;
  // so is the per-server listing version (`server_listing_version`, decision 035).
  tables = tables.filter((t) => !TRANSIENT_TABLES.includes(t) && !LISTING_VERSION_TABLES.includes(t));
  const out: Record<string, DbRow[]> = {};
  for (const table of tables) {
    const quoted = type === 'mysql' || type === 'mariadb' ? `\`${table.replace(/`/g, '``')}\`` : quoteIdent(table);
    const skip = TELEMETRY_COLUMNS[table] ?? [];
    const rows = ((await ds.query(`SELECT * FROM ${quoted}`)) as DbRow[]).map((r) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => !skip.includes(k)).map(([k, v]) => [k, plain(v)])),
    );
    rows.sort((a, b) => {
      if (typeof a.id === 'number' && typeof b.id === 'number') return a.id - b.id;
      const ja = JSON.stringify(a);
      const jb = JSON.stringify(b);
      return ja < jb ? -1 : ja > jb ? 1 : 0;
    });
    out[table] = table === 'sqlite_sequence' ? rows.filter((r) => !TRANSIENT_TABLES.includes(String(r['name']))) : rows;
  }
  return out;
}

/** Left out of the `db` snapshot (and of `sqlite_sequence`): the manager's client-status outbox and `send`'s intake. */
const TRANSIENT_TABLES = ['notification', 'action_intake'];
/** Left out of the `db` snapshot: the trigger-kept listing version counters (decisions 031, 035). */
const LISTING_VERSION_TABLES = ['inventory_version', 'server_listing_version'];

async function domainSnapshot(prefix: string): Promise<DomainEntry[]> {
  const names = (await domainsWithPrefix(prefix)).sort();
  const out: DomainEntry[] = [];
  for (const name of names) {
    const state = (await virsh('domstate', name)).stdout.trim();
    const xml = (await virsh('dumpxml', '--inactive', name)).stdout;
    out.push({ name, state, definitionSha256: createHash('sha256').update(xml).digest('hex') });
  }
  return out;
}

function sha256File(p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(p)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

async function fileSnapshot(root: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const abs = rel ? path.join(root, rel) : root;
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed while we walked
      throw err;
    }
    for (const name of names.sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      let st;
      try {
        st = await lstat(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      if (st.isSymbolicLink()) out.push({ path: r, type: 'symlink', size: st.size, mode, target: await readlink(p) });
      else if (st.isDirectory()) {
        out.push({ path: r, type: 'dir', size: 0, mode });
        await walk(r);
      } else if (st.isFile()) {
        out.push({ path: r, type: 'file', size: st.size, mode, ...(st.size < HASH_LIMIT_BYTES ? { sha256: await sha256File(p) } : {}) });
      } else out.push({ path: r, type: 'other', size: st.size, mode });
    }
  };
  await walk('');
  return out;
}

/**
 * Columns left out of the snapshot: host telemetry that each monitoring round refreshes from the agent
 * (`get_host_info`), whatever any request did — including the machine-wide list of bridges present, which other
 * runs' bridges change.
 */
export const TELEMETRY_COLUMNS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  server: ['memoryFreeMiB', 'storageFreeGiB', 'bridgesPresent', 'inventoryRefreshedAt'],
});

/** Takes a snapshot of the manager's database, the run's libvirt domains and the agent's storage tree. */
export async function snapshot(cluster: SnapshotTarget): Promise<StateSnapshot> {
  const [db, domains, files] = await Promise.all([
    dbSnapshot(cluster.manager.dataSource),
    domainSnapshot(cluster.domainPrefix),
    fileSnapshot(cluster.storageRoot),
  ]);
  return { takenAt: new Date().toISOString(), db, domains, files };
}

/** One difference between two snapshots. */
export type Change =
  | { kind: 'row-added' | 'row-removed'; table: string; row: DbRow }
  | { kind: 'row-changed'; table: string; id: unknown; column: string; before: unknown; after: unknown }
  | { kind: 'table-added' | 'table-removed'; table: string }
  | { kind: 'domain-added' | 'domain-removed'; name: string; entry: DomainEntry }
  | { kind: 'domain-changed'; name: string; field: 'state' | 'definitionSha256'; before: string; after: string }
  | { kind: 'file-added' | 'file-removed'; path: string; entry: FileEntry }
  | { kind: 'file-changed'; path: string; field: keyof FileEntry; before: unknown; after: unknown };

function diffRows(table: string, before: DbRow[], after: DbRow[]): Change[] {
  const changes: Change[] = [];
  const keyed = before.every((r) => r.id !== undefined) && after.every((r) => r.id !== undefined);
  if (keyed) {
    const a = new Map(before.map((r) => [JSON.stringify(r.id), r]));
    const b = new Map(after.map((r) => [JSON.stringify(r.id), r]));
    for (const [k, row] of a) {
      const other = b.get(k);
      if (!other) {
        changes.push({ kind: 'row-removed', table, row });
        continue;
      }
      for (const column of new Set([...Object.keys(row), ...Object.keys(other)])) {
        if (JSON.stringify(row[column]) !== JSON.stringify(other[column])) {
          changes.push({ kind: 'row-changed', table, id: row.id, column, before: row[column], after: other[column] });
        }
      }
    }
    for (const [k, row] of b) if (!a.has(k)) changes.push({ kind: 'row-added', table, row });
    return changes;
  }
  // No id: compare as multisets of rows.
  const count = (rows: DbRow[]) => {
    const m = new Map<string, { row: DbRow; n: number }>();
    for (const r of rows) {
      const k = JSON.stringify(r);
      const e = m.get(k);
      if (e) e.n++;
      else m.set(k, { row: r, n: 1 });
    }
    return m;
  };
  const a = count(before);
  const b = count(after);
  for (const [k, { row, n }] of a) for (let i = b.get(k)?.n ?? 0; i < n; i++) changes.push({ kind: 'row-removed', table, row });
  for (const [k, { row, n }] of b) for (let i = a.get(k)?.n ?? 0; i < n; i++) changes.push({ kind: 'row-added', table, row });
  return changes;
}

/** Every difference between `before` and `after`, tables first, then domains, then files. */
export function diffSnapshots(before: StateSnapshot, after: StateSnapshot): Change[] {
  const changes: Change[] = [];
  for (const table of new Set([...Object.keys(before.db), ...Object.keys(after.db)])) {
    const a = before.db[table];
    const b = after.db[table];
    if (!a) changes.push({ kind: 'table-added', table });
    else if (!b) changes.push({ kind: 'table-removed', table });
    else changes.push(...diffRows(table, a, b));
  }
  const da = new Map(before.domains.map((d) => [d.name, d]));
  const db = new Map(after.domains.map((d) => [d.name, d]));
  for (const [name, entry] of da) {
    const other = db.get(name);
    if (!other) changes.push({ kind: 'domain-removed', name, entry });
    else {
      for (const field of ['state', 'definitionSha256'] as const) {
        if (entry[field] !== other[field]) changes.push({ kind: 'domain-changed', name, field, before: entry[field], after: other[field] });
      }
    }
  }
  for (const [name, entry] of db) if (!da.has(name)) changes.push({ kind: 'domain-added', name, entry });
  const fa = new Map(before.files.map((f) => [f.path, f]));
  const fb = new Map(after.files.map((f) => [f.path, f]));
  for (const [p, entry] of fa) {
    const other = fb.get(p);
    if (!other) changes.push({ kind: 'file-removed', path: p, entry });
    else {
      for (const field of ['type', 'size', 'mode', 'sha256', 'target'] as const) {
        if (entry[field] !== other[field]) changes.push({ kind: 'file-changed', path: p, field, before: entry[field], after: other[field] });
      }
    }
  }
  for (const [p, entry] of fb) if (!fa.has(p)) changes.push({ kind: 'file-added', path: p, entry });
  return changes;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** One line per change, e.g. `db action: row added {"id":3,…}` or `file vms/x/disk.qcow2: sha256 "ab…" → "cd…"`. */
export function formatChanges(changes: Change[]): string {
  return changes
    .map((c) => {
      switch (c.kind) {
        case 'row-added':
        case 'row-removed':
          return `db ${c.table}: ${c.kind === 'row-added' ? 'row added' : 'row removed'} ${short(c.row)}`;
        case 'row-changed':
          return `db ${c.table} id=${short(c.id)}: ${c.column} ${short(c.before)} → ${short(c.after)}`;
        case 'table-added':
        case 'table-removed':
          return `db: table ${c.table} ${c.kind === 'table-added' ? 'added' : 'removed'}`;
        case 'domain-added':
        case 'domain-removed':
          return `domain ${c.name}: ${c.kind === 'domain-added' ? 'added' : 'removed'} (${c.entry.state})`;
        case 'domain-changed':
          return `domain ${c.name}: ${c.field} ${short(c.before)} → ${short(c.after)}`;
        case 'file-added':
        case 'file-removed':
          return `file ${c.path}: ${c.kind === 'file-added' ? 'added' : 'removed'} ${short(c.entry)}`;
        case 'file-changed':
          return `file ${c.path}: ${c.field} ${short(c.before)} → ${short(c.after)}`;
      }
    })
    .join('\n');
}

/**
 * Asserts that nothing changed between `before` and `after`, apart from the changes `options.allow` accepts
 * (they are returned, so the caller can assert exactly what they were). The failure message lists every other
 * change, one per line, under `label`.
 */
export function assertUnchanged(before: StateSnapshot, after: StateSnapshot, label: string, options: { allow?: (c: Change) => boolean } = {}): Change[] {
  const changes = diffSnapshots(before, after);
  const allowed = options.allow ? changes.filter(options.allow) : [];
  const rest = changes.filter((c) => !allowed.includes(c));
  if (rest.length) {
    assert.fail(`${label}: the state changed (snapshots ${before.takenAt} → ${after.takenAt}), ${rest.length} change(s):\n${formatChanges(rest)}`);
  }
  return allowed;
}
