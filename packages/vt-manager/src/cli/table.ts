/**
 * vtctl's one table printer (like `virsh list`, `openstack server list`): a header line, then one line per row,
 * columns padded to their widest cell and two spaces apart, no trailing blanks, `(none)` without rows. Every listing
 * uses it: positional rows ({@link formatTable}: the capacity report) and keyed rows ({@link formatRecords}: VMs,
 * inventory, the generic lists of `vtctl.ts`). `--json` never comes here.
 */

/** A cell: text, a number, or null/undefined (shown as the table's blank, `-` by default). */
export type Cell = string | number | null | undefined;

/** A column: its header, and whether its cells are right-aligned (default: when every cell is a number or empty). */
export interface Column {
  header: string;
  right?: boolean;
}

/** Table-wide settings. */
export interface TableOptions {
  /** What an empty cell (null, undefined, `""`) shows. Default `-`. */
  blank?: string;
}

/** A cell's text on one line (whitespace runs, newlines included, become one space). */
function text(c: Cell, blank: string): string {
  return c === null || c === undefined || c === '' ? blank : String(c).replace(/\s+/g, ' ');
}

/**
 * The table as text, one line per row after the header, each ending in `\n`; `(none)\n` for no rows. Trailing spaces
 * are trimmed.
 */
export function formatTable(columns: ReadonlyArray<string | Column>, rows: ReadonlyArray<ReadonlyArray<Cell>>, options: TableOptions = {}): string {
  if (rows.length === 0) return '(none)\n';
  const blank = options.blank ?? '-';
  const cols: Column[] = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const cells = rows.map((r) => cols.map((_, i) => text(r[i], blank)));
  const right = cols.map((c, i) => c.right ?? rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (right[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd() + '\n';
  return line(cols.map((c) => c.header)) + cells.map(line).join('');
}

/** A column of keyed rows: the row key it shows, its header (default: the key upper-cased), right-aligned or not (default: left). */
export type RecordColumn = string | { key: string; header?: string; right?: boolean };

/** A value of a keyed row as a cell: lists joined with `,`, objects as JSON, numbers kept as numbers. */
function recordCell(value: unknown): Cell {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => text(recordCell(v), '')).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return typeof value === 'number' ? value : String(value);
}

/**
 * Keyed rows (objects, e.g. an admin API answer) as a {@link formatTable} table: one column per `columns` entry, left
 * aligned unless a column says otherwise, empty cells blank (`""`, so a list that has no value there shows nothing).
 */
export function formatRecords(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly RecordColumn[]): string {
  const cols = columns.map((c) => (typeof c === 'string' ? { key: c } : c));
  return formatTable(
    cols.map((c) => ({ header: c.header ?? c.key.toUpperCase(), right: c.right ?? false })),
    rows.map((r) => cols.map((c) => recordCell(r[c.key]))),
    { blank: '' },
  );
}
