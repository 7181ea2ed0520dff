/**
 * Writes cloud-init NoCloud seed images (docs/architecture.md decision 4): an ISO 9660 volume labelled `cidata` with
 * Joliet and Rock Ridge names, made by `genisoimage` from a fresh temporary folder.
 */
import { chmod, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { InputError } from '@kvm-crm/shared/errors';
import { CommandFailedError, type CommandErrorFactory, runCommand } from './run-command.js';
import { assertAbsolutePath } from './safe-path.js';

/** The only file names a NoCloud seed may contain. */
export const SEED_FILE_NAMES = ['meta-data', 'user-data', 'network-config', 'vendor-data'] as const;
/** One of {@link SEED_FILE_NAMES}. */
export type SeedFileName = (typeof SEED_FILE_NAMES)[number];

/** `genisoimage` failed; `stderr` holds its output. */
export class SeedIsoError extends CommandFailedError {}

const makeError: CommandErrorFactory = (m, f, a, c, s, t, cause) => new SeedIsoError(m, f, a, c, s, t, { cause });

/** Options of {@link writeSeedIso}. */
export interface WriteSeedIsoOptions {
  /** Program to run; default `genisoimage` (looked up in PATH). */
  binary?: string;
  /** Timeout in seconds; default 30. */
  timeoutSeconds?: number;
  /** Folder for the temporary input folder; default `os.tmpdir()`. */
  tmpDir?: string;
}

/** Signature of {@link writeSeedIso}, for services that take the seed writer as a dependency. */
export type SeedIsoWriter = (files: Record<string, string>, isoPath: string, options?: WriteSeedIsoOptions) => Promise<void>;

/**
 * Writes `files` (name → UTF-8 content; names from {@link SEED_FILE_NAMES}, `meta-data` required) into a fresh
 * temporary folder and turns it into the ISO `isoPath` with
 * `genisoimage -output <tmp iso> -volid cidata -joliet -rock -input-charset utf-8 -quiet <dir>`, then renames the
 * result to `isoPath` (replacing an older seed atomically). The ISO is mode 0644. The temporary folder is always
 * removed; on failure no partial ISO is left behind.
 *
 * @throws InputError for an unknown file name, a missing `meta-data`, content over 1 MiB or a bad `isoPath`.
 * @throws SeedIsoError when genisoimage fails or times out.
 */
export async function writeSeedIso(
  files: Record<string, string>,
  isoPath: string,
  options: WriteSeedIsoOptions = {},
): Promise<void> {
  const iso = assertAbsolutePath(isoPath, 'seed ISO path');
  const entries = Object.entries(files);
  const names = entries.map(([name]) => name);
  for (const [name, content] of entries) {
    if (!(SEED_FILE_NAMES as readonly string[]).includes(name)) {
      throw new InputError(`invalid seed file name: ${JSON.stringify(name.slice(0, 40))} (allowed: ${SEED_FILE_NAMES.join(', ')})`);
    }
    if (typeof content !== 'string' || Buffer.byteLength(content) > 1024 * 1024) {
      throw new InputError(`seed file ${name} must be a string of at most 1 MiB`);
    }
  }
  if (!names.includes('meta-data')) throw new InputError('a NoCloud seed needs a meta-data file');

  const dir = await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'kvmcrm-seed-'));
  const tmpIso = `${iso}.tmp-${randomBytes(4).toString('hex')}`;
  const removeInput = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  try {
    // The files go straight into the temporary folder (genisoimage puts the folder's content at the ISO's root),
    // all at once; every write has ended before the folder is removed. The folder stays mkdtemp's 0700 (nobody
    // else reads the seed while it is made); `-dir-mode 0755` gives the ISO's root the mode it always had.
    const written = await Promise.allSettled(entries.map(([name, content]) => writeFile(path.join(dir, name), content, { mode: 0o644 })));
    for (const w of written) if (w.status === 'rejected') throw w.reason;
    await runCommand(
      options.binary ?? 'genisoimage',
      ['-output', tmpIso, '-volid', 'cidata', '-joliet', '-rock', '-dir-mode', '0755', '-input-charset', 'utf-8', '-quiet', dir],
      { timeoutSeconds: options.timeoutSeconds ?? 30 },
      makeError,
    );
  } catch (err) {
    await Promise.all([removeInput(), rm(tmpIso, { force: true }).catch(() => undefined)]);
    throw err;
  }
  // The input folder is removed while the ISO is put in place, not after it (one file-system wait less on the
  // way to the create's define, issue #14 goal 3); both have ended when this returns.
  const [placed] = await Promise.allSettled([chmod(tmpIso, 0o644).then(() => rename(tmpIso, iso)), removeInput()]);
  if (placed.status === 'rejected') {
    await rm(tmpIso, { force: true }).catch(() => undefined);
    throw placed.reason;
  }
}

/** Options of {@link readSeedIso}. */
export interface ReadSeedIsoOptions {
  /** Program to run; default `isoinfo` (looked up in PATH). */
  binary?: string;
  /** Timeout in seconds per call; default 30. */
  timeoutSeconds?: number;
}

/**
 * Reads back the seed files of a NoCloud ISO written by {@link writeSeedIso}: lists it with `isoinfo -R -f -i <iso>`
 * and extracts each of {@link SEED_FILE_NAMES} it holds with `isoinfo -R -i <iso> -x /<name>` (Rock Ridge names).
 * @returns name → UTF-8 content.
 * @throws InputError for a bad `isoPath` or an ISO holding a file of more than 1 MiB; SeedIsoError when isoinfo fails.
 */
export async function readSeedIso(isoPath: string, options: ReadSeedIsoOptions = {}): Promise<Record<string, string>> {
  const iso = assertAbsolutePath(isoPath, 'seed ISO path');
  const bin = options.binary ?? 'isoinfo';
  const t = { timeoutSeconds: options.timeoutSeconds ?? 30 };
  const listing = await runCommand(bin, ['-R', '-f', '-i', iso], t, makeError);
  const present = new Set(listing.stdout.split('\n').map((l) => l.trim().replace(/^\//, '')));
  const files: Record<string, string> = {};
  for (const name of SEED_FILE_NAMES) {
    if (!present.has(name)) continue;
    const r = await runCommand(bin, ['-R', '-i', iso, '-x', `/${name}`], { ...t, stripFinalNewline: false }, makeError);
    if (Buffer.byteLength(r.stdout) > 1024 * 1024) throw new InputError(`seed file ${name} is larger than 1 MiB`);
    files[name] = r.stdout;
  }
  return files;
}
