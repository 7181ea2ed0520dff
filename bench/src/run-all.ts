/**
 * `npm run bench`: runs every benchmark module (each exports `run(options): Promise<BenchSection>`, see
 * bench-section.ts) one after the other and REWRITES bench/RESULTS.md with the machine, the commands, each
 * section, a goals table and the history table (earlier rows kept, this run's goals appended; results-history.ts).
 *
 *   node bench/dist/run-all.js [--quick] [--only name,name] [--pairs n]
 *
 * `--quick`: small sizes, writes test-output/bench-quick.md instead (RESULTS.md is never touched); run by
 * scripts/test.sh so that the benchmark code cannot rot. `--only`: the named modules only (names as in MODULES);
 * a full run with `--only` still rewrites RESULTS.md, with those sections only, and keeps the history.
 * `--pairs n` (1–100): the number of measured pairs of the one-VM comparisons (create-start, virt-install-peer;
 * default 5, quick 1), for a noisy machine.
 * Exit code 1 when a module fails (the others still run; the failure is written into the file).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '@kvm-crm/harness';
import type { BenchGoal, BenchOptions, BenchSection } from './bench-section.js';
import { loadAverage, machineDescription } from './bench-util.js';
import { parseHistory, renderHistory, type HistoryRow } from './results-history.js';

type BenchModule = { run: (options: BenchOptions) => Promise<BenchSection> };

/** Every benchmark module, in running order: adding one is one line. */
const MODULES: Record<string, () => Promise<BenchModule>> = {
  'create-start': () => import('./create-start.js'),
  'virt-install-peer': () => import('./virt-install-peer.js'),
  'many-vms': () => import('./many-vms.js'),
  'agent-memory': () => import('./agent-memory.js'),
  listing: () => import('./listing.js'),
  intake: () => import('./intake.js'),
  'dashboard-load': () => import('./dashboard-load.js'),
};

/** Parsed command line. @throws Error for an unknown flag or module name. */
function parseArgs(argv: string[]): { quick: boolean; only: string[]; pairs?: number } {
  let quick = false;
  let pairs: number | undefined;
  let only = Object.keys(MODULES);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--only') {
      only = (argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = only.filter((n) => !(n in MODULES));
      if (unknown.length || only.length === 0) throw new Error(`--only: unknown module(s) ${unknown.join(', ') || '(none given)'}; known: ${Object.keys(MODULES).join(', ')}`);
    } else if (a === '--pairs') {
      pairs = Number(argv[++i]);
      if (!Number.isInteger(pairs) || pairs < 1 || pairs > 100) throw new Error(`--pairs: an integer from 1 to 100, got ${JSON.stringify(argv[i] ?? '')}`);
    } else throw new Error(`unknown argument ${JSON.stringify(a)}; usage: run-all.js [--quick] [--only ${Object.keys(MODULES).join(',')}] [--pairs n]`);
  }
  return { quick, only, ...(pairs !== undefined ? { pairs } : {}) };
}

async function version(): Promise<string> {
  const head = (await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, reject: false })).stdout.trim() || 'unknown';
  const dirty = (await execa('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, reject: false })).stdout.trim();
  return dirty ? `${head}+changes` : head;
}

const goalRow = (g: BenchGoal) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.met ? 'yes' : '**no**'} |`;

async function main(): Promise<void> {
  const { quick, only, pairs } = parseArgs(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const started = new Date();
  const ver = await version(); // the code measured: taken before the modules run
  const loadBefore = await loadAverage();
  const sections: Array<{ name: string; section?: BenchSection; error?: string; seconds: number }> = [];
  for (const name of only) {
    log(`${name}: start${quick ? ' (quick)' : ''}`);
    const t0 = performance.now();
    try {
      const mod = await MODULES[name]!();
      sections.push({ name, section: await mod.run({ quick, ...(pairs !== undefined ? { pairs } : {}), log: (l) => log(`${name}: ${l}`) }), seconds: (performance.now() - t0) / 1000 });
    } catch (err) {
      log(`${name}: FAILED ${(err as Error)?.stack ?? String(err)}`);
      sections.push({ name, error: (err as Error)?.message ?? String(err), seconds: (performance.now() - t0) / 1000 });
    }
    log(`${name}: done in ${sections.at(-1)!.seconds.toFixed(0)} s`);
  }
  const loadAfter = await loadAverage();
  const date = started.toISOString().slice(0, 10);
  const goals = sections.flatMap((s) => s.section?.goals ?? []);
  const resultsFile = path.join(REPO_ROOT, 'bench/RESULTS.md');
  const out = quick ? path.join(REPO_ROOT, 'test-output/bench-quick.md') : resultsFile;
  const history: HistoryRow[] = quick ? [] : parseHistory(await readFile(resultsFile, 'utf8').catch(() => ''));
  if (!quick) {
    for (const g of goals) history.push({ date, version: ver, goal: g.goal, measured: `${g.measured} (target ${g.target})`, met: g.met ? 'yes' : 'no' });
    for (const s of sections) if (s.error) history.push({ date, version: ver, goal: `${s.name} benchmark`, measured: `failed: ${s.error.slice(0, 120)}`, met: 'no' });
  }
  const command = `node bench/dist/run-all.js${quick ? ' --quick' : ''}${only.length < Object.keys(MODULES).length ? ` --only ${only.join(',')}` : ''}`;
  const md = `# Benchmark results${quick ? ' (quick mode: small sizes, figures not meaningful)' : ''}

Written by \`npm run bench\` (\`${command}\`, bench/src/run-all.ts) on ${started.toISOString().slice(0, 16)} UTC,
version ${ver}; every run rewrites this file and appends its goals to the history table at the end.
Method: docs/decisions/033-benchmark-method.md.

## Machine

${await machineDescription()}
- load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}
- modules: ${sections.map((s) => `${s.name} (${s.seconds.toFixed(0)} s${s.error ? ', FAILED' : ''})`).join(', ')}

## Goals (issue #14)

| goal | target | measured | met |
|---|---|---|---|
${goals.map(goalRow).join('\n')}
${sections.filter((s) => s.error).map((s) => `| ${s.name} benchmark | runs | failed: ${s.error!.replace(/\|/g, '/').replace(/\n/g, ' ').slice(0, 200)} | **no** |`).join('\n')}

${sections.filter((s) => s.section).map((s) => `## ${s.section!.title}\n\n\`${s.name}\` (bench/src/${s.name}.ts). ${s.section!.markdown.trim()}\n`).join('\n')}
${quick ? '' : `## History\n\nEvery full run's goals (earlier rows kept as they were written).\n\n${renderHistory(history)}\n`}`;
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, md.replace(/\n{3,}/g, '\n\n'));
  log(`wrote ${path.relative(REPO_ROOT, out)}`);
  if (sections.some((s) => s.error)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
