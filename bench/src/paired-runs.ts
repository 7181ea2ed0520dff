/**
 * Pair-by-pair comparison of two ways of making one guest (issue #14 goal 3's method): runs A B A B …, takes the
 * ratio A/B of each pair, then reports min/median/max of the ratios, so that a noisy moment hurts one pair, not the
 * whole comparison. Used by create-start.ts (kvm-crm against the bare script) and virt-install-peer.ts.
 */
import type { BenchOptions } from './bench-section.js';
import { ms, pairRatios, ratio, spread, spreadText } from './bench-util.js';
import type { GuestTimes } from './one-vm.js';

/** The figures of a paired comparison. */
export interface PairedResult {
  a: GuestTimes[];
  b: GuestTimes[];
  /** A/B per pair, to start SUCCESS (or the command returning) and to the ready line. */
  startedRatios: number[];
  readyRatios: number[];
}

/**
 * Runs `pairs` pairs, A first then B in each (after one unmeasured warm-up pair). @throws the first failure of
 * either side (each side removes its guest itself).
 */
export async function runPairs(pairs: number, a: (n: number) => Promise<GuestTimes>, b: (n: number) => Promise<GuestTimes>, options: BenchOptions, names: [string, string]): Promise<PairedResult> {
  await a(0);
  await b(0);
  const result: PairedResult = { a: [], b: [], startedRatios: [], readyRatios: [] };
  for (let i = 1; i <= pairs; i++) {
    const x = await a(i);
    const y = await b(i);
    result.a.push(x);
    result.b.push(y);
    options.log(`pair ${i}/${pairs}: ${names[0]} started ${ms(x.started)} ready ${ms(x.ready)} | ${names[1]} started ${ms(y.started)} ready ${ms(y.ready)} | ratios ${ratio(x.started / y.started)} ${ratio(x.ready / y.ready)}`);
  }
  result.startedRatios = pairRatios(result.a.map((t) => t.started), result.b.map((t) => t.started));
  result.readyRatios = pairRatios(result.a.map((t) => t.ready), result.b.map((t) => t.ready));
  return result;
}

/** Markdown: every pair's figures and ratios, then min/median/max of each column. */
export function pairedTable(r: PairedResult, names: [string, string]): string {
  const [an, bn] = names;
  const rows = r.a.map((x, i) => {
    const y = r.b[i]!;
    return `| ${i + 1} | ${ms(x.started)} | ${ms(y.started)} | ${ratio(r.startedRatios[i]!)} | ${ms(x.ready)} | ${ms(y.ready)} | ${ratio(r.readyRatios[i]!)} |`;
  });
  const col = (xs: number[], f: (x: number) => string) => spreadText(spread(xs), f);
  return [
    `| pair | ${an} started | ${bn} started | ratio | ${an} ready | ${bn} ready | ratio |`,
    '|---|---|---|---|---|---|---|',
    ...rows,
    `| min / median / max | ${col(r.a.map((t) => t.started), ms)} | ${col(r.b.map((t) => t.started), ms)} | ${col(r.startedRatios, ratio)} | ${col(r.a.map((t) => t.ready), ms)} | ${col(r.b.map((t) => t.ready), ms)} | ${col(r.readyRatios, ratio)} |`,
  ].join('\n');
}
