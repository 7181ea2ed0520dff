/**
 * Unit test of the history table of bench/RESULTS.md (results-history.ts): the first layout's rows are converted
 * with their figures, a written table reads back unchanged, and a file without history gives none. Run by
 * scripts/test.sh (`node --test bench/dist/results-history.test.js`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHistory, renderHistory } from './results-history.js';

const FIRST_LAYOUT = `# Benchmark results

Machine: 2 × AMD EPYC. Measured 2026-11-22.

| from the first request to | OCF (median) | bare (median) | ratio (overhead) |
|---|---|---|---|
| started (start SUCCESS / virsh start returned) | 559 ms | 353 ms | 1.584 (58.4 %) |
| guest ready line | 4122 ms | 3863 ms | 1.067 (6.7 %) |

### History (same machine, same method)

| version | started (median) | ready (median) | ready overhead |
|---|---|---|---|
| first walking skeleton | 880 ms | 4443 ms | 15.5 % (a TLS handshake per call) |
| this run: mutual TLS | see above | see above | see above |

The started overhead is the protocol itself.
`;

test('the first layout: each row kept with its figures, "see above" takes the results table, dated from the file', () => {
  const rows = parseHistory(FIRST_LAYOUT);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], { date: 'before 2026-11-22', version: 'first walking skeleton', goal: 'one VM create + start, in-process agent (medians)', measured: 'started 880 ms, ready 4443 ms, ready overhead 15.5 % (a TLS handshake per call)', met: '—' });
  assert.equal(rows[1]!.date, '2026-11-22');
  assert.equal(rows[1]!.version, 'mutual TLS');
  assert.equal(rows[1]!.measured, 'started 559 ms, ready 4122 ms');
});

test('a written table reads back as it was, pipes in a cell cannot break it, and no history gives none', () => {
  const rows = [...parseHistory(FIRST_LAYOUT), { date: '2026-12-05', version: 'abc123', goal: 'agent idle RSS', measured: '79.1 MiB | odd', met: 'no' }];
  const again = parseHistory(`# Benchmark results\n\n## History\n\nEvery full run.\n\n${renderHistory(rows)}\n\n## After\n| x | y |\n`);
  assert.deepEqual(again, rows.map((r) => ({ ...r, measured: r.measured.replace(/\|/g, '/') })));
  assert.deepEqual(parseHistory('# Benchmark results\n\nno table here\n'), []);
  assert.deepEqual(parseHistory(''), []);
});
