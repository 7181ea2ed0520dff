/**
 * Aligned text tables for `vtctl` (like `virsh list`, `openstack server list`): a header line, then one line per
 * row, columns separated by two spaces; numbers right-aligned.
 */

/** A cell: text, a number, or null/undefined (shown as `-`). */
export type Cell = string | number | null | undefined;

/** A column: its header, and whether its cells are right-aligned (default: when every cell is a number or empty). */
export interface Column {
  header: string;
  right?: boolean;
}

function text(c: Cell): string {
  return c === null || c === undefined || c === '' ? '-' : String(c);
}

/**
 * The table as text, one line per row after the header, each ending in `\n`; `(none)` for no rows. Trailing spaces
 * are trimmed.
 */
export function formatTable(columns: ReadonlyArray<string | Column>, rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  if (rows.length === 0) return '(none)\n';
  const cols: Column[] = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const cells = rows.map((r) => cols.map((_, i) => text(r[i])));
  const right = cols.map((c, i) => c.right ?? rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (right[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd() + '\n';
  return line(cols.map((c) => c.header)) + cells.map(line).join('');
}
