/**
 * XML-DSig signature checks of GENI credentials with the Debian `xmlsec1` program (docs/geni-v3.md §9.4 Option A,
 * decision 023): what the original AM ran, with its two traps closed.
 *
 * For each signature id: `xmlsec1 --verify --enabled-key-data x509 --enabled-reference-uris same-doc
 * --enabled-retrieval-method-uris empty [--verification-time T] --node-id <id> --trusted-pem <root file> … <temp file>`, through execa with an argv array (no shell), C locale, a timeout.
 * Accepted only when the exit status is 0 AND standard error starts with `OK`:
 * - without `--enabled-key-data x509`, xmlsec1 1.2.37 falls back to the `<KeyValue>` key when the X.509 chain does
 *   not verify, prints the errors, then `OK`, and exits 0 (pitfall 1); with it, the exit status is reliable, and the
 *   `OK`-first test stays as a second guard;
 * - xmlsec1 loads only the first certificate of each `--trusted-pem` file, which is exactly the trusted-roots rule
 *   (first certificate = anchor), so the root files are passed as they are.
 * - libxml2 honours the XML declaration's `encoding`, our reader does not: the text is checked to be UTF-8 and its
 *   declaration replaced by `<?xml version="1.0" encoding="UTF-8"?>` (`normaliseCredentialEncoding`, decision 023)
 *   before it is written, so xmlsec1 decodes the same characters our reader read; a text declaring another
 *   encoding is refused without running xmlsec1. The declaration is outside every signed element, so signatures
 *   stay valid.
 * The credential is written (UTF-8) to a private temporary folder (0700) as a 0600 file and removed afterwards.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { UpstreamError } from '@kvm-crm/shared';
import { GeniCredentialError } from '../domain/geni/geni-credential-error.js';
import { normaliseCredentialEncoding } from '../domain/geni/credential-encoding.js';

/** Why a signature was refused, or that it passed. */
export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** The port the credential verifier uses (a fake in unit tests of the service). */
export interface XmlSignatureVerifier {
  /**
   * Verifies each signature `ids` of `xml` against the trust anchors in `trustedRootFiles`, at `verificationTime`
   * (default: now). Resolves `{ok: false, reason}` for the first signature refused; never rejects for a bad
   * signature; `{ok: false}` too when `xml` is not a UTF-8 credential text (another declared encoding, NUL …).
   * @throws Error when the program cannot be run at all (missing binary, temp folder unwritable);
   *   SignatureCheckBusyError when too many checks already wait for a slot (the caller answers "busy, retry later").
   */
  verify(xml: string, ids: readonly string[], trustedRootFiles: readonly string[], verificationTime?: Date): Promise<SignatureCheck>;
}

/**
 * Too many signature checks are already waiting for an xmlsec1 slot: refused at once, before any file is written.
 * An UpstreamError, so the GENI endpoint answers SERVERERROR (5) "busy, retry later" (geni-result.ts).
 */
export class SignatureCheckBusyError extends UpstreamError {}

/** Options of {@link Xmlsec1SignatureVerifier}. */
export interface Xmlsec1Options {
  /** Program path. Default `xmlsec1` (looked up in PATH). */
  xmlsec1Path?: string;
  /** Seconds before one run is killed. Default 10. */
  timeoutSeconds?: number;
  /** xmlsec1 runs at once, across all calls; further verifications wait their turn. Default 4. */
  maxConcurrent?: number;
  /** Verifications that may wait for a slot; one more is refused with {@link SignatureCheckBusyError}. Default 64. */
  maxWaiting?: number;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, for `--verification-time` (the process runs with TZ=UTC). */
function verificationTimeArg(t: Date): string {
  return t.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * The most telling line of xmlsec1's error output for a reason: the first `func=…:error=…` line's message (e.g.
 * `data and digest do not match`, `certificate verification failed`), else `FAIL`; clipped, printable ASCII only,
 * never a path or the credential itself.
 */
function xmlsecReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const errLine = lines.find((l) => /^func=.*:error=/.test(l));
  let text = 'FAIL';
  if (errLine) {
    const m = /:error=\d+:([^:]*)(?::(.*))?$/.exec(errLine);
    text = [m?.[1], m?.[2]].filter((x) => x && x !== ' ').join(': ') || 'error';
  }
  text = text.replace(/[^\x20-\x7e]/g, '?');
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

/** The real verifier: one `xmlsec1` run per signature id. */
export class Xmlsec1SignatureVerifier implements XmlSignatureVerifier {
  private readonly program: string;
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly maxWaiting: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(options: Xmlsec1Options = {}) {
    this.program = options.xmlsec1Path ?? 'xmlsec1';
    this.timeoutMs = Math.round((options.timeoutSeconds ?? 10) * 1000);
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? 4);
    this.maxWaiting = Math.max(0, options.maxWaiting ?? 64);
  }

  /** Waits for a free run slot (FIFO). @throws SignatureCheckBusyError when the wait list is full. */
  private async acquire(): Promise<void> {
    if (this.running < this.maxConcurrent) {
      this.running++;
      return;
    }
    if (this.waiting.length >= this.maxWaiting) {
      throw new SignatureCheckBusyError(`busy, retry later: ${this.waiting.length} credential signature checks are already waiting`);
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the next waiter, or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  async verify(xml: string, ids: readonly string[], trustedRootFiles: readonly string[], verificationTime?: Date): Promise<SignatureCheck> {
    if (trustedRootFiles.length === 0) return { ok: false, reason: 'no trusted root is configured' };
    for (const id of ids) {
      if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,67}$/.test(id)) return { ok: false, reason: `signature id ${JSON.stringify(id.slice(0, 68))} refused` };
    }
    let text: string;
    try {
      text = normaliseCredentialEncoding(xml);
    } catch (err) {
      if (err instanceof GeniCredentialError) return { ok: false, reason: err.message };
      throw err;
    }
    // One slot for the whole credential, taken before the temporary file exists: a flood waits (bounded) without
    // files, and beyond the wait list is refused at once.
    await this.acquire();
    try {
      const dir = await mkdtemp(path.join(tmpdir(), 'kvmcrm-cred-'));
      try {
        const file = path.join(dir, 'credential.xml');
        await writeFile(file, text, { encoding: 'utf8', mode: 0o600, flag: 'wx' });
        for (const id of ids) {
          const result = await this.runOnce(file, id, trustedRootFiles, verificationTime);
          if (!result.ok) return result;
        }
        return { ok: true };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      this.release();
    }
  }

  /** One run for one signature id. */
  async runOnce(file: string, id: string, trustedRootFiles: readonly string[], verificationTime?: Date): Promise<SignatureCheck> {
    // x509 keys only (no KeyValue fallback); References to this document only and no RetrievalMethod URIs, so
    // xmlsec1 never reads another file or the network whatever the credential says.
    const args = ['--verify', '--enabled-key-data', 'x509', '--enabled-reference-uris', 'same-doc', '--enabled-retrieval-method-uris', 'empty'];
    if (verificationTime) args.push('--verification-time', verificationTimeArg(verificationTime));
    args.push('--node-id', id);
    for (const f of trustedRootFiles) args.push('--trusted-pem', f);
    args.push(file);
    const r = await execa(this.program, args, {
      reject: false,
      stdin: 'ignore',
      timeout: this.timeoutMs,
      forceKillAfterDelay: 2000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: 'UTC' },
      extendEnv: false,
      stripFinalNewline: true,
    });
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    if (r.timedOut) return { ok: false, reason: `signature ${id}: xmlsec1 timed out after ${this.timeoutMs / 1000} s` };
    if (r.exitCode === undefined && r.failed && !r.signal) {
      throw new Error(`cannot run ${this.program}: ${r.shortMessage ?? 'unknown error'}`);
    }
    if (r.exitCode === 0 && stderr.startsWith('OK')) return { ok: true };
    return { ok: false, reason: `signature ${id} does not verify against the trusted roots (xmlsec1 exit status ${r.exitCode ?? r.signal}: ${xmlsecReason(stderr)})` };
  }
}
