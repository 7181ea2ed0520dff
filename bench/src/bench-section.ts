/**
 * The shape every benchmark module returns to the umbrella runner (`npm run bench`, bench/src/run-all.ts), which
 * writes them into bench/RESULTS.md. A module exports
 * `run(options: BenchOptions): Promise<BenchSection>` and does its own set-up and clean-up.
 */

/** Options every benchmark module accepts. */
export interface BenchOptions {
  /** Small sizes and few runs, so the code is exercised in `scripts/test.sh`; figures are not meaningful. */
  quick: boolean;
  /** Measured pairs of the one-VM comparisons (create-start, virt-install-peer); default 5 (quick: 1). `--pairs`. */
  pairs?: number;
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

/** One goal of issue #14 (or another target) with the figure measured against it. */
export interface BenchGoal {
  /** e.g. "listResources full document, 10,000 VMs (SQLite)". */
  goal: string;
  /** e.g. "≤ 300 ms". */
  target: string;
  /** e.g. "212 ms (median of 10)". */
  measured: string;
  met: boolean;
}

/** What a benchmark module reports. */
export interface BenchSection {
  /** Markdown heading text (level 2 is added by the runner). */
  title: string;
  /** Markdown body: method, commands, every run's figures, ratios, profile tops. */
  markdown: string;
  goals: BenchGoal[];
}
