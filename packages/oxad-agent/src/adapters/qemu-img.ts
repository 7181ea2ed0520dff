/**
 * Adapter for `qemu-img`: copy-on-write overlays, image inspection and full copies (docs/architecture.md decision 3).
 */
import { lstat, rm } from 'node:fs/promises';
import { ConflictError, InputError } from '@kvm-crm/shared/errors';
import { CommandFailedError, type CommandErrorFactory, type CommandObserver, type RunCommandOptions, runCommand } from './run-command.js';
import type { CreateOverlayArgs } from '../services/ports.js';
import { assertAbsolutePath } from './safe-path.js';

/** Image formats the agent creates or accepts as templates. Anything else is rejected before `qemu-img` runs. */
export const IMAGE_FORMATS = ['qcow2', 'raw'] as const;
/** One of {@link IMAGE_FORMATS}. */
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** Returns `format` when it is one of {@link IMAGE_FORMATS}; throws {@link InputError} otherwise. */
export function assertImageFormat(format: string, what = 'image format'): ImageFormat {
  if (!(IMAGE_FORMATS as readonly string[]).includes(format)) {
    throw new InputError(`invalid ${what}: ${JSON.stringify(String(format).slice(0, 40))} (allowed: ${IMAGE_FORMATS.join(', ')})`);
  }
  return format as ImageFormat;
}

/** `qemu-img` failed; `stderr` holds its error output, which the message repeats on one line. */
export class QemuImgError extends CommandFailedError {}

const makeError: CommandErrorFactory = (m, f, a, c, s, t, cause) => new QemuImgError(m, f, a, c, s, t, { cause });

/** What {@link QemuImg.info} reports about an image (from `qemu-img info --output=json`). */
export interface ImageInfo {
  /** Format as detected or given, e.g. `qcow2`, `raw`. */
  format: string;
  /** Size the guest sees, in bytes. */
  virtualSizeBytes: number;
  /** Space allocated on the host file system, in bytes. */
  actualSizeBytes: number;
  /** The backing file as written in the image header (for our overlays: the template's absolute path). */
  backingFilename?: string;
  /** The backing file's format as written in the header (`-F`); absent in legacy images that let qemu probe. */
  backingFormat?: string;
  /** qcow2 external data file, if any (templates with one are rejected by the catalogue). */
  dataFile?: string;
}

/** Options of {@link QemuImg}. */
export interface QemuImgOptions {
  /** Program to run; default `qemu-img` (looked up in PATH). */
  binary?: string;
  /** Timeout of `create` and `info` in seconds; default 60. */
  timeoutSeconds?: number;
  /** Timeout of `convert` (full copies) in seconds; default 3600. */
  convertTimeoutSeconds?: number;
  /** Told of each run's duration by sub-command (metrics, decision record 028). */
  onCommand?: CommandObserver;
}

/** Options of {@link QemuImg.convert}. */
export interface ConvertOptions {
  /**
   * Format of the source; strongly recommended (without it qemu-img probes the format, which is unsafe for raw
   * images whose content may look like a qcow2 header).
   */
  sourceFormat?: string;
}

/**
 * Runs `qemu-img` with argv arrays. Every path must be absolute and normalised, every format one of
 * {@link IMAGE_FORMATS}; output files must not exist beforehand (never overwrites a disk) and are removed again
 * when `qemu-img` fails.
 */
export class QemuImg {
  private readonly binary: string;
  private readonly timeoutSeconds: number;
  private readonly convertTimeoutSeconds: number;
  private readonly onCommand: CommandObserver | undefined;

  /** @param options see {@link QemuImgOptions}. */
  constructor(options: QemuImgOptions = {}) {
    this.binary = options.binary ?? 'qemu-img';
    this.timeoutSeconds = options.timeoutSeconds ?? 60;
    this.convertTimeoutSeconds = options.convertTimeoutSeconds ?? 3600;
    this.onCommand = options.onCommand;
  }

  /** The run options of sub-command `command` (timeout, observer). */
  private opts(command: string | undefined, timeoutSeconds = this.timeoutSeconds): RunCommandOptions {
    const on = this.onCommand;
    return { timeoutSeconds, ...(on ? { observe: (seconds: number, failed: boolean) => on('qemu-img', command ?? '', seconds, failed) } : {}) };
  }

  /**
   * Creates a qcow2 overlay of the same virtual size as its backing image, or of `sizeMiB` MiB when given (grown
   * in the same command, no `qemu-img resize` after it):
   * `qemu-img create -f qcow2 -b <backingPath> -F <backingFormat> <overlayPath> [<sizeMiB>M]`. O(1) in the backing size.
   *
   * @throws InputError for a relative or odd path, a format not in {@link IMAGE_FORMATS} or a bad size.
   * @throws ConflictError when `overlayPath` already exists.
   * @throws QemuImgError when qemu-img fails (e.g. the backing file is missing); no overlay is left behind.
   */
  async createOverlay(args: CreateOverlayArgs): Promise<void> {
    const backing = assertAbsolutePath(args.backingPath, 'backing image path');
    const fmt = assertImageFormat(args.backingFormat, 'backing image format');
    const overlay = assertAbsolutePath(args.overlayPath, 'overlay path');
    const size = args.sizeMiB === undefined ? [] : [`${assertSizeMiB(args.sizeMiB, 'overlay size')}M`];
    await assertAbsent(overlay);
    await this.runCreating(overlay, ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', fmt, overlay, ...size], this.timeoutSeconds);
  }

  /**
   * Creates an empty qcow2 volume (a data disk) of `sizeMiB` MiB: `qemu-img create -f qcow2 <path> <sizeMiB>M`.
   * Thin: only metadata is written.
   *
   * @throws InputError for a bad path or a size that is not an integer from 1 to 16 TiB.
   * @throws ConflictError when `path` already exists.
   * @throws QemuImgError when qemu-img fails; no file is left behind.
   */
  async createVolume(path: string, sizeMiB: number): Promise<void> {
    const p = assertAbsolutePath(path, 'volume path');
    const mib = assertSizeMiB(sizeMiB, 'volume size');
    await assertAbsent(p);
    await this.runCreating(p, ['create', '-q', '-f', 'qcow2', p, `${mib}M`], this.timeoutSeconds);
  }

  /**
   * Grows a qcow2 image to `sizeMiB` MiB: `qemu-img resize -q -f qcow2 <path> <sizeMiB>M` (without `--shrink`, so
   * qemu-img itself refuses to make it smaller). The guest sees the new size at its next boot.
   *
   * @throws InputError for a bad path or size.
   * @throws QemuImgError when qemu-img fails (e.g. the new size is smaller than the current one).
   */
  async resize(path: string, sizeMiB: number): Promise<void> {
    const p = assertAbsolutePath(path, 'image path');
    const mib = assertSizeMiB(sizeMiB, 'image size');
    await runCommand(this.binary, ['resize', '-q', '-f', 'qcow2', p, `${mib}M`], this.opts('resize'), makeError);
  }

  /**
   * Reads an image's header with `qemu-img info --output=json --force-share` (works on images in use by a
   * running guest). Does not follow the backing chain.
   *
   * @param path absolute path of the image.
   * @param format if given (one of {@link IMAGE_FORMATS}), qemu-img does not probe: `-f <format>`.
   * @throws InputError for a bad path or format.
   * @throws QemuImgError when qemu-img fails (e.g. no such file) or prints something that is not the JSON expected.
   */
  async info(path: string, format?: string): Promise<ImageInfo> {
    const p = assertAbsolutePath(path, 'image path');
    const args = ['info', '--output=json', '--force-share'];
    if (format !== undefined) args.push('-f', assertImageFormat(format));
    args.push(p);
    const out = await runCommand(this.binary, args, this.opts(args[0]), makeError);
    return parseImageInfo(out.stdout, this.binary, args);
  }

  /**
   * Full, independent copy of `src` into a new image `dst` of format `format`: `qemu-img convert [-f <sourceFormat>]
   * -O <format> <src> <dst>`. The copy has no backing file (backing chains of `src` are flattened).
   *
   * @throws InputError for bad paths or formats.
   * @throws ConflictError when `dst` already exists.
   * @throws QemuImgError when qemu-img fails or times out; no partial `dst` is left behind.
   */
  async convert(src: string, dst: string, format: string, options: ConvertOptions = {}): Promise<void> {
    const s = assertAbsolutePath(src, 'source image path');
    const d = assertAbsolutePath(dst, 'destination image path');
    const fmt = assertImageFormat(format, 'destination image format');
    const args = ['convert', '-q'];
    if (options.sourceFormat !== undefined) args.push('-f', assertImageFormat(options.sourceFormat, 'source image format'));
    args.push('-O', fmt, s, d);
    await assertAbsent(d);
    await this.runCreating(d, args, this.convertTimeoutSeconds);
  }

  /**
   * Internal qcow2 snapshots of one image (decision record 026): `qemu-img snapshot -c|-a|-d <name> <path>`. The
   * image must not be in use by a running guest (qemu-img takes the image's write lock and fails otherwise).
   *
   * @param op `create` (`-c`), `apply` (`-a`: the image's content becomes the snapshot's), `delete` (`-d`).
   * @param name a snapshot name of {@link SNAPSHOT_NAME_PATTERN} (starts with a letter, so it can never be taken for
   *   a numeric snapshot id nor an option).
   * @throws InputError for a bad path or name; QemuImgError when qemu-img fails (no such snapshot, image locked).
   */
  async snapshot(op: 'create' | 'apply' | 'delete', path: string, name: string): Promise<void> {
    const p = assertAbsolutePath(path, 'image path');
    const n = assertSnapshotName(name);
    const flag = { create: '-c', apply: '-a', delete: '-d' }[op];
    if (!flag) throw new InputError(`invalid snapshot operation ${JSON.stringify(String(op))}`);
    // `qemu-img snapshot` has no -f: it probes the format. Safe here: the images are qcow2 files the agent created, and a
    // guest writes only inside them, never their header (probing is unsafe only for raw images).
    await runCommand(this.binary, ['snapshot', '-q', flag, n, p], this.opts('snapshot'), makeError);
  }

  /**
   * The internal snapshots of a qcow2 image, oldest first, from `qemu-img info --output=json --force-share`.
   * @throws InputError for a bad path; QemuImgError when qemu-img fails.
   */
  async snapshots(path: string): Promise<ImageSnapshot[]> {
    const p = assertAbsolutePath(path, 'image path');
    const args = ['info', '--output=json', '--force-share', '-f', 'qcow2', p];
    const out = await runCommand(this.binary, args, this.opts(args[0]), makeError);
    return parseImageSnapshots(out.stdout);
  }

  /**
   * Points a qcow2 overlay at another copy of its backing image without touching its data (an offline migration:
   * the template has another path on this host): `qemu-img rebase -u -q -f qcow2 -b <backingPath> -F <format> <image>`.
   * The caller guarantees the new backing file has the same content (same template).
   *
   * @throws InputError for bad paths or formats; QemuImgError when qemu-img fails.
   */
  async rebase(image: string, backingPath: string, backingFormat: string): Promise<void> {
    const p = assertAbsolutePath(image, 'image path');
    const b = assertAbsolutePath(backingPath, 'backing image path');
    const fmt = assertImageFormat(backingFormat, 'backing image format');
    await runCommand(this.binary, ['rebase', '-u', '-q', '-f', 'qcow2', '-b', b, '-F', fmt, p], this.opts('rebase'), makeError);
  }

  /** Runs a qemu-img command that creates `output`; removes `output` if the command fails. */
  private async runCreating(output: string, args: string[], timeoutSeconds: number): Promise<void> {
    try {
      await runCommand(this.binary, args, this.opts(args[0], timeoutSeconds), makeError);
    } catch (err) {
      await rm(output, { force: true }).catch(() => undefined);
      throw err;
    }
  }
}

/**
 * Names of internal snapshots (decision record 026): a letter, then letters, digits, `.`, `_`, `-`; 1–64 characters.
 * The leading letter keeps a name from being read as a snapshot id (qemu-img's `-a 1` matches id 1) or an option.
 */
export const SNAPSHOT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

/** Returns `name` when it matches {@link SNAPSHOT_NAME_PATTERN}; throws {@link InputError} otherwise. */
export function assertSnapshotName(name: string): string {
  if (typeof name !== 'string' || !SNAPSHOT_NAME_PATTERN.test(name)) {
    throw new InputError(`invalid snapshot name ${JSON.stringify(String(name).slice(0, 80))}: need a letter, then letters, digits, '.', '_' or '-' (at most 64)`);
  }
  return name;
}

/** One internal snapshot of an image. */
export interface ImageSnapshot {
  /** qemu's numeric id (as text). */
  id: string;
  name: string;
  /** When it was taken, ISO 8601. */
  createdAt: string;
  /** Bytes of saved guest memory (0 for our disk-only snapshots of stopped VMs). */
  vmStateBytes: number;
}

/** The `snapshots` of a `qemu-img info --output=json` answer (none: `[]`). @throws QemuImgError when it is not JSON. */
export function parseImageSnapshots(json: string): ImageSnapshot[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new QemuImgError('qemu-img info: output is not JSON', 'qemu-img', [], 0, '', false, { cause });
  }
  const list = (raw as { snapshots?: unknown } | null)?.snapshots;
  if (!Array.isArray(list)) return [];
  return list.map((x: Record<string, unknown>) => ({
    id: String(x.id ?? ''),
    name: String(x.name ?? ''),
    createdAt: new Date(Number(x['date-sec'] ?? 0) * 1000 + Math.floor(Number(x['date-nsec'] ?? 0) / 1e6)).toISOString(),
    vmStateBytes: Number(x['vm-state-size'] ?? 0),
  }));
}

/** Largest disk the agent creates or grows to, in MiB (16 TiB). */
export const MAX_DISK_MIB = 16 * 1024 * 1024;

/** `n` when it is an integer number of MiB from 1 to {@link MAX_DISK_MIB}. @throws InputError otherwise. */
function assertSizeMiB(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_DISK_MIB) throw new InputError(`invalid ${what}: ${String(n)} MiB (need an integer 1–${MAX_DISK_MIB})`);
  return n;
}

/** Throws {@link ConflictError} when something exists at `p` (a file, a directory or a dangling symlink). */
async function assertAbsent(p: string): Promise<void> {
  try {
    await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  throw new ConflictError(`refusing to overwrite existing file ${p}`);
}

/**
 * Parses the JSON of `qemu-img info --output=json` into an {@link ImageInfo}.
 *
 * @throws QemuImgError when the text is not JSON or lacks `format`/`virtual-size`.
 */
export function parseImageInfo(json: string, file = 'qemu-img', args: readonly string[] = []): ImageInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new QemuImgError(`${file} info: output is not JSON`, file, args, 0, '', false, { cause });
  }
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o.format !== 'string' || typeof o['virtual-size'] !== 'number') {
    throw new QemuImgError(`${file} info: output lacks format or virtual-size`, file, args, 0, '', false);
  }
  const info: ImageInfo = {
    format: o.format,
    virtualSizeBytes: o['virtual-size'],
    actualSizeBytes: typeof o['actual-size'] === 'number' ? o['actual-size'] : 0,
  };
  if (typeof o['backing-filename'] === 'string') info.backingFilename = o['backing-filename'];
  if (typeof o['backing-filename-format'] === 'string') info.backingFormat = o['backing-filename-format'];
  const specific = o['format-specific'] as { data?: Record<string, unknown> } | undefined;
  const dataFile = specific?.data?.['data-file'];
  if (typeof dataFile === 'string') info.dataFile = dataFile;
  return info;
}
