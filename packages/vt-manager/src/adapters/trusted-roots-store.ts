/**
 * The GENI trusted roots: a folder of PEM files (`geni.trustedRootsDir`; `.gid`, `.pem`, `.crt`) read into memory
 * and reloaded while the manager runs (docs/geni-v3.md §9.4 "Trusted roots").
 *
 * The FIRST certificate of each file is a trust anchor; the following ones are its issuers, usable only as
 * intermediates (what xmlsec1 and the original did: a file `[other cert, CA]` does not make the CA trusted).
 * `CATedCACerts.pem` (the original's concatenation of all roots), hidden files (atomic-write temporaries) and
 * unreadable or certificate-less files are skipped with a log line.
 *
 * Reload triggers, as {@link ReloadableTls}: a change of the folder's listing or of any file's mtime/size/inode
 * (polled every `reloadIntervalSeconds`; polling also sees atomic renames) and SIGHUP. A reload never throws: an
 * unreadable folder keeps the roots in force and logs the failure.
 */
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { describeError, InputError, writeFileAtomic, type Logger } from '@kvm-crm/shared';
import { urnOfCertificate, type TrustAnchor } from '../domain/geni/gid-chain.js';

/** File names read from the folder: a safe name with one of the PEM suffixes. */
export const TRUSTED_ROOT_FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(?:gid|pem|crt)$/;
/** The original's concatenated bundle, never read (§9.4). */
const SKIPPED_FILES = new Set(['CATedCACerts.pem']);
/** Largest file read, in bytes (a GID with its chain is a few KiB). */
const MAX_FILE_BYTES = 256 * 1024;
const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** One trust anchor and the file it came from. */
export interface TrustedRoot extends TrustAnchor {
  /** File name inside the folder. */
  file: string;
  /** Absolute path of the file (given to `xmlsec1 --trusted-pem`, which loads its first certificate only). */
  path: string;
  /** The anchor as PEM. */
  pem: string;
}

/** The roots in force. */
export interface TrustedRootsSnapshot {
  /** The anchors, sorted by file name. */
  roots: TrustedRoot[];
  /** Certificates after the first of each file: intermediates, never anchors. */
  intermediates: X509Certificate[];
  /** 1 for the first read, +1 per reload that changed something. */
  generation: number;
}

/** Options of {@link TrustedRootsStore.load}. */
export interface TrustedRootsStoreOptions {
  /** Seconds between polls of the folder in {@link TrustedRootsStore.watch}. Default 5. */
  reloadIntervalSeconds?: number;
}

/** Names, inodes, sizes and mtimes of the folder's candidate files: a change means a reload. */
function stampOf(dir: string): string {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort()
    .map((f) => {
      try {
        const st = statSync(path.join(dir, f));
        return `${f}:${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return `${f}:gone`;
      }
    })
    .join('\n');
}

/** Reads the folder: anchors, intermediates and a fingerprint of the listing for change detection. */
function readFolder(dir: string, logger: Logger): { roots: TrustedRoot[]; intermediates: X509Certificate[]; stamp: string } {
  let names: string[];
  let stamp: string;
  try {
    stamp = stampOf(dir); // before reading: a change during the read is seen at the next poll
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new InputError(`trusted roots folder ${dir}: cannot read: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`);
  }
  const roots: TrustedRoot[] = [];
  const intermediates: X509Certificate[] = [];
  for (const file of names) {
    if (file.startsWith('.')) continue;
    const full = path.join(dir, file);
    if (SKIPPED_FILES.has(file)) {
      logger.info('trusted roots: skipping the concatenated bundle', { file: full });
      continue;
    }
    if (!TRUSTED_ROOT_FILE_RE.test(file)) {
      logger.warn('trusted roots: skipping a file whose name is not <name>.gid|.pem|.crt', { file: full });
      continue;
    }
    try {
      const st = statSync(full);
      if (!st.isFile()) continue;
      if (st.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      const blocks = readFileSync(full, 'utf8').match(PEM_CERT_RE) ?? [];
      if (blocks.length === 0) throw new Error('no PEM certificate in it');
      const certs = blocks.map((b) => new X509Certificate(b));
      const anchor = certs[0]!;
      const urn = urnOfCertificate(anchor);
      roots.push({ file, path: full, pem: anchor.toString(), certificate: anchor, ...(urn ? { urn } : {}) });
      intermediates.push(...certs.slice(1));
    } catch (err) {
      logger.warn('trusted roots: skipping an unreadable file', { file: full, error: describeError(err) });
    }
  }
  return { roots, intermediates, stamp };
}

/**
 * The trusted roots of the GENI credential verifier, reloadable. Events: `reload` (the new snapshot) after a
 * reload changed something, `reloadFailed` (the error) when the folder could not be read.
 */
export class TrustedRootsStore extends EventEmitter {
  private snapshot: TrustedRootsSnapshot;
  private stamp: string;
  private timer?: NodeJS.Timeout;
  private readonly onSighup = () => this.reload('SIGHUP');

  private constructor(
    /** The folder. */
    readonly dir: string,
    private readonly logger: Logger,
    private readonly options: TrustedRootsStoreOptions,
    first: ReturnType<typeof readFolder>,
  ) {
    super();
    this.snapshot = { roots: first.roots, intermediates: first.intermediates, generation: 1 };
    this.stamp = first.stamp;
  }

  /**
   * Reads the folder once (nothing is watched until {@link watch}); warns when it holds no root (every credential
   * will then be refused).
   * @throws InputError when the folder cannot be read.
   */
  static load(dir: string, logger: Logger, options: TrustedRootsStoreOptions = {}): TrustedRootsStore {
    const abs = path.resolve(dir);
    const store = new TrustedRootsStore(abs, logger, options, readFolder(abs, logger));
    if (store.snapshot.roots.length === 0) logger.warn('no GENI trusted root configured: every credential will be refused', { dir: abs });
    else logger.info('GENI trusted roots loaded', { dir: abs, roots: store.snapshot.roots.map((r) => r.file) });
    return store;
  }

  /** The roots in force. */
  get current(): TrustedRootsSnapshot {
    return this.snapshot;
  }

  /** Re-reads the folder now; returns true when something changed. Never throws. */
  reload(trigger = 'manual'): boolean {
    let next: ReturnType<typeof readFolder>;
    try {
      if (stampOf(this.dir) === this.stamp) return false;
      next = readFolder(this.dir, this.logger);
    } catch (err) {
      this.logger.warn('GENI trusted roots reload failed, current roots kept', { trigger, error: describeError(err) });
      this.emit('reloadFailed', err);
      return false;
    }
    if (next.stamp === this.stamp) return false;
    this.stamp = next.stamp;
    this.snapshot = { roots: next.roots, intermediates: next.intermediates, generation: this.snapshot.generation + 1 };
    this.logger.info('GENI trusted roots reloaded', { trigger, roots: next.roots.map((r) => r.file) });
    this.emit('reload', this.snapshot);
    return true;
  }

  /** True when `name` (a checked file name, no path) is a regular file in the folder. */
  hasFile(name: string): boolean {
    this.assertName(name);
    try {
      return lstatSync(path.join(this.dir, name)).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Writes `pem` as `name` in the folder atomically (mode 0644: certificates are public) and reloads.
   * @throws InputError for a bad name; the fs error when the folder is not writable.
   */
  writeRootFile(name: string, pem: string): void {
    this.assertName(name);
    writeFileAtomic(path.join(this.dir, name), pem, 0o644);
    this.reload('trust add');
  }

  /** Deletes `name` from the folder and reloads. @throws InputError for a bad name; the fs error otherwise. */
  removeRootFile(name: string): void {
    this.assertName(name);
    rmSync(path.join(this.dir, name));
    this.reload('trust remove');
  }

  private assertName(name: string): void {
    if (!TRUSTED_ROOT_FILE_RE.test(name) || SKIPPED_FILES.has(name)) throw new InputError(`not a trusted-root file name: ${JSON.stringify(name.slice(0, 130))}`);
  }

  /** Starts polling the folder and reloading on SIGHUP. Idempotent. */
  watch(): void {
    if (this.timer) return;
    const ms = Math.max(50, Math.round((this.options.reloadIntervalSeconds ?? 5) * 1000));
    this.timer = setInterval(() => this.reload('file change'), ms);
    this.timer.unref();
    process.on('SIGHUP', this.onSighup);
  }

  /** Stops watching. */
  close(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    process.off('SIGHUP', this.onSighup);
  }
}
