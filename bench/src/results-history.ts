/**
 * The history table of bench/RESULTS.md: one row per goal per full run (date, version, goal, measured, met), kept
 * across rewrites. The runner reads the table from the existing file, appends this run's rows and writes it back.
 * The first version of RESULTS.md had a create + start table (`| version | started (median) | ready (median) | ready
 * overhead |`); its rows are converted once into the new shape so no earlier figure is lost.
 */

/** One row of the history table; cells are Markdown, without `|`. */
export interface HistoryRow {
  date: string;
  version: string;
  goal: string;
  measured: string;
  met: string;
}

/** The table's header and rule lines. */
export const HISTORY_HEADER = '| date | version | goal | measured | met |\n|---|---|---|---|---|';

const cells = (line: string): string[] => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((x) => x.trim());

/**
 * The history rows in `markdown` (the current RESULTS.md): the rows of the table under a heading containing
 * "History". A table of the first layout (4 columns, version first) is converted: its "see above" row takes the
 * figures of that file's own results table (`| started … | <OCF> | … |`, `| guest ready line | <OCF> | … |`).
 * Returns [] when there is no history table.
 */
export function parseHistory(markdown: string): HistoryRow[] {
  const lines = markdown.split('\n');
  const at = lines.findIndex((l) => /^#+ .*History/i.test(l));
  if (at < 0) return [];
  const table: string[][] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim().startsWith('|')) table.push(cells(l));
    else if (table.length > 0) break;
  }
  if (table.length < 2) return [];
  const [header, , ...rows] = table;
  if (header!.length === 5 && header![0] === 'date') {
    return rows.filter((r) => r.length === 5).map(([date, version, goal, measured, met]) => ({ date: date!, version: version!, goal: goal!, measured: measured!, met: met! }));
  }
  // First layout: | version | started (median) | ready (median) | ready overhead |
  const figure = (label: RegExp) => cells(lines.find((l) => l.startsWith('|') && label.test(l)) ?? '| | ? |')[1] ?? '?';
  const date = /Measured (\d{4}-\d{2}-\d{2})/.exec(markdown)?.[1] ?? 'before 2026-11-22';
  return rows.filter((r) => r.length === 4).map(([version, started, ready, overhead]) => {
    const seeAbove = started === 'see above';
    return {
      date: seeAbove ? date : 'before ' + date,
      version: version!.replace(/^this run: /, ''),
      goal: 'one VM create + start, in-process agent (medians)',
      measured: seeAbove ? `started ${figure(/^\| started/)}, ready ${figure(/^\| guest ready line/)}` : `started ${started}, ready ${ready}, ready overhead ${overhead}`,
      met: '—',
    };
  });
}

/** The history table as Markdown (header included). */
export function renderHistory(rows: readonly HistoryRow[]): string {
  const clean = (s: string) => s.replace(/\|/g, '/').replace(/\n/g, ' ');
  return [HISTORY_HEADER, ...rows.map((r) => `| ${clean(r.date)} | ${clean(r.version)} | ${clean(r.goal)} | ${clean(r.measured)} | ${clean(r.met)} |`)].join('\n');
}
