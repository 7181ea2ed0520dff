/**
 * An aligned text table for vtctl's VM and inventory listings, like `virsh list`: upper-case headers, columns
 * padded to their widest cell, two spaces apart, no trailing blanks. Self-contained (to be unified with
 * cli/table.ts later).
 */

/** A column: the row key it shows and, optionally, its header (default: the key upper-cased). */
export type Column = string | { key: string; header?: string };

/** A cell's text: `""` for null/undefined, lists joined with `,`, objects as JSON, whitespace runs as one space. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).replace(/\s+/g, ' ');
}

/** `rows` as aligned text, one line per row under a header line; `(none)` when there is no row. */
export function formatTable(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly Column[]): string {
  if (rows.length === 0) return '(none)\n';
  const cols = columns.map((c) => (typeof c === 'string' ? { key: c, header: c.toUpperCase() } : { key: c.key, header: c.header ?? c.key.toUpperCase() }));
  const lines = [cols.map((c) => c.header), ...rows.map((r) => cols.map((c) => cell(r[c.key])))];
  const widths = cols.map((_, i) => Math.max(...lines.map((l) => l[i]?.length ?? 0)));
  return lines.map((l) => l.map((text, i) => (i === l.length - 1 ? text : text.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}
