/**
 * Benchmark: the cost of one GENI credential verification (issue #11 "the cost of one credential verification (ms,
 * median of 100)"). A fresh test authority, user and slice credential are minted with the shared
 * make-geni-credential.sh (RSA-SHA1, like GCF/SFA/C-BAS; `--digest sha256` also measured), the authority GID is the
 * only trusted root, and `SfaCredentialVerifier.verify('Allocate', [{geni_value, geni_type: 'geni_sfa'}])` (what the
 * endpoint runs for every credentialed call: the TypeScript checks plus one xmlsec1 process per signature, §9.3/§9.4)
 * runs `--runs N` times (default 100) one after the other, after 5 warm-up calls. Also measured: a refused tampered
 * credential (the digest check fails inside xmlsec1) and a refused expired one (stopped before xmlsec1 runs).
 * Prints the medians, p90 and the machine load, and with `--write` appends them to bench/RESULTS.md.
 */
import { mkdtemp, readFile, rm, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@kvm-crm/shared';
import { SfaCredentialVerifier, TrustedRootsStore } from '@kvm-crm/vt-manager';
import { mintGeniCredentials, REPO_ROOT } from '@kvm-crm/harness';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo]! + (s[hi]! - s[lo]!) * (i - lo);
}

async function timeCalls(runs: number, call: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 5; i++) await call();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await call();
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Number(process.argv[i + 1]) : 100;
  const write = process.argv.includes('--write');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-bench-geni-'));
  const logger = createLogger({ component: 'bench', silent: true });
  const lines: string[] = [];
  try {
    for (const digest of ['sha1', 'sha256'] as const) {
      const roots = path.join(dir, `roots-${digest}`);
      const creds = await mintGeniCredentials({ dir: path.join(dir, `creds-${digest}`), authority: `kvmcrm-bench-${digest}`, user: 'alice', slice: 'bench', days: 1, trustedRootsDir: roots, digest });
      const store = TrustedRootsStore.load(roots, logger);
      const verifier = new SfaCredentialVerifier({ roots: store, logger });
      const wrap = async (file: string) => [{ geni_value: await readFile(file, 'utf8'), geni_type: 'geni_sfa' }];
      const good = await wrap(creds.sliceCred);
      const tampered = await wrap(creds.sliceCredTampered);
      const expired = await wrap(creds.sliceCredExpired);
      const ok = await timeCalls(runs, () => verifier.verify('Allocate', good));
      const refuse = (c: unknown) => () => verifier.verify('Allocate', c).then(() => { throw new Error('a bad credential passed'); }, () => undefined);
      const bad = await timeCalls(runs, refuse(tampered));
      const old = await timeCalls(runs, refuse(expired));
      const fmt = (xs: number[]) => `${quantile(xs, 0.5).toFixed(1)} ms (p90 ${quantile(xs, 0.9).toFixed(1)})`;
      lines.push(`| ${digest} | ${fmt(ok)} | ${fmt(bad)} | ${fmt(old)} |`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const head = `${runs} sequential SfaCredentialVerifier.verify('Allocate', …) calls each after 5 warm-ups; ${os.cpus().length} CPUs, load average ${load}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const text = [head, '', '| digest | valid slice credential, accepted (median) | tampered, refused in xmlsec1 | expired, refused before xmlsec1 |', '|---|---|---|---|', ...lines].join('\n');
  process.stdout.write(`${text}\n`);
  if (write) await appendFile(path.join(REPO_ROOT, 'bench/RESULTS.md'), `\n## GENI credential verification (npm run bench:geni-credentials)\n\n${text}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
