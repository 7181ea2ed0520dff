/**
 * Where the time of one GENI credential verification goes (docs/geni-v3.md §9.3; decision 023): the median of N
 * full verifications of a fresh slice credential (`SfaCredentialVerifier.verify('Allocate', …)`: parse, chains,
 * rights, one xmlsec1 run) against baselines measured in the same run:
 * - `xmlsec1 process alone`: the same `xmlsec1 --verify …` command run on a file already written;
 * - `TypeScript checks only`: the verifier with a signature port that answers OK at once;
 * and what a repeated credential costs once it was accepted (the verifier's cache, decision 023 item 6).
 * The uncached cases use a new verifier per run. The runs alternate between the four so that machine noise spreads
 * evenly. Prints a Markdown table with the load
 * average; `--runs N` (default 100), `--out FILE` also writes it there.
 *
 * Usage: node bench/dist/geni-credential-baseline.js [--runs 100] [--out bench/GENI-CREDENTIAL-RESULTS.md]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { SfaCredentialVerifier, TrustedRootsStore } from '@kvm-crm/vt-manager';
import { mintGeniCredentials, silentLogger } from '@kvm-crm/vt-manager/testing';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  const runs = Number(arg('--runs') ?? 100);
  const out = arg('--out');
  const work = mkdtempSync(path.join(tmpdir(), 'kvmcrm-bench-gcred-'));
  try {
    const m = await mintGeniCredentials(path.join(work, 'creds'));
    const xml = readFileSync(m.sliceCred, 'utf8');
    const roots = TrustedRootsStore.load(m.trustedRootsDir, silentLogger());
    const rootFiles = roots.current.roots.map((r) => r.path);
    // A new verifier per run for the uncached cases: accepted verifications are cached per verifier (decision 023
    // item 6), so reusing one would time the cache. `cached` reuses one verifier: what a repeated credential costs.
    const fresh = () => new SfaCredentialVerifier({ roots, logger: silentLogger() });
    const cached = fresh();
    const tsOnly = () => new SfaCredentialVerifier({ roots, logger: silentLogger(), signatures: { verify: async () => ({ ok: true }) } });
    const file = path.join(work, 'slice.cred');
    writeFileSync(file, xml, { mode: 0o600 });
    const processArgs = [
      '--verify', '--enabled-key-data', 'x509', '--enabled-reference-uris', 'same-doc', '--enabled-retrieval-method-uris', 'empty',
      '--node-id', 'Sig_ref0', ...rootFiles.flatMap((f) => ['--trusted-pem', f]), file,
    ];

    const cases: { name: string; run: () => Promise<unknown>; ms: number[] }[] = [
      { name: 'full verification, first time (verify, Allocate)', run: () => fresh().verify('Allocate', [xml]), ms: [] },
      { name: 'xmlsec1 process alone', run: () => execa('xmlsec1', processArgs, { stdin: 'ignore' }), ms: [] },
      { name: 'TypeScript checks only (no xmlsec1)', run: () => tsOnly().verify('Allocate', [xml]), ms: [] },
      { name: 'the same credential again (cache hit)', run: () => cached.verify('Allocate', [xml]), ms: [] },
    ];
    for (const c of cases) await c.run(); // warm-up, and a refusal would stop the bench here
    for (let i = 0; i < runs; i++) {
      for (const c of cases) {
        const t = performance.now();
        await c.run();
        c.ms.push(performance.now() - t);
      }
    }
    const base = quantile(cases[1]!.ms, 0.5);
    const lines = [
      `GENI credential verification, ${runs} runs each, ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${process.versions.node}, credential ${Buffer.byteLength(xml)} bytes, rsa-sha1)`,
      '',
      '| what | median ms | p90 ms | × xmlsec1 process |',
      '| --- | ---: | ---: | ---: |',
      ...cases.map((c) => `| ${c.name} | ${quantile(c.ms, 0.5).toFixed(2)} | ${quantile(c.ms, 0.9).toFixed(2)} | ${(quantile(c.ms, 0.5) / base).toFixed(2)} |`),
      '',
    ];
    process.stdout.write(lines.join('\n'));
    if (out) writeFileSync(out, `# GENI credential verification benchmark\n\n${lines.join('\n')}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
