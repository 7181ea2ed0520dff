/**
 * The template catalogue: `<storageRoot>/templates/<name>/template.json` plus the disk image it names
 * (docs/architecture.md decision 3). A template is validated with `qemu-img info` before first use: allowed format,
 * no backing file, no external data file. Names from the wire never become paths unchecked.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { describeError, InputError, NotFoundError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { assertPattern, TEMPLATE_NAME_PATTERN } from '@kvm-crm/shared/validation';
import type { ImageInfo } from '../adapters/qemu-img.js';

/** What `template.json` holds. */
export interface TemplateMetadata {
  name: string;
  /** Disk file name inside the template folder. */
  disk: string;
  /** `qcow2` or `raw`. */
  format: 'qcow2' | 'raw';
  operatingSystemType?: string;
  operatingSystemDistribution?: string;
  operatingSystemVersion?: string;
  /** Smallest guest memory the template boots with, in MiB. */
  minMemoryMiB?: number;
  /**
   * How a VM's disk is made from the template: `overlay` (default: a qcow2 overlay with the template as its
   * backing file, O(1)) or `full` (an independent qcow2 copy, `qemu-img convert`; slower, but the VM no longer
   * depends on the template file).
   */
  clone?: 'overlay' | 'full';
  description?: string;
}

/** A resolved, validated template. */
export interface Template {
  metadata: TemplateMetadata;
  /** Absolute, symlink-free path of the disk image inside the catalogue. */
  diskPath: string;
  /** Size of the image file in bytes. */
  sizeBytes: number;
  /** Guest-visible size in bytes. */
  virtualSizeBytes: number;
}

/** The only thing the catalogue needs from qemu-img. */
export interface ImageInspector {
  info(path: string, format?: string): Promise<ImageInfo>;
}

const FORMATS = new Set(['qcow2', 'raw']);

/** Lists and resolves the templates of `<storageRoot>/templates` (see the module comment); caches validations. */
export class TemplateCatalogue {
  private readonly validated = new Map<string, { key: string; info: ImageInfo }>();

  /**
   * @param dir catalogue folder (`<storageRoot>/templates`).
   * @param images validates template images (`QemuImg`).
   * @param logger where {@link list} reports what it skips; without one, skips are not logged (unit tests).
   */
  constructor(
    readonly dir: string,
    private readonly images: ImageInspector,
    private readonly logger?: Logger,
  ) {}

  /**
   * Resolves an OCF `hd-origin-path` (`<template>` or `<template>/<file>`) to a validated template.
   * @throws InputError for a malformed reference, a path escaping the catalogue, a bad template.json, or an image
   *   that fails validation; NotFoundError when the template does not exist.
   */
  async resolve(reference: string): Promise<Template> {
    const parts = reference.split('/');
    if (parts.length > 2) throw new InputError(`invalid template reference ${JSON.stringify(reference.slice(0, 80))}`);
    const name = assertPattern(parts[0], TEMPLATE_NAME_PATTERN, 'template name');
    const file = parts[1] === undefined ? undefined : assertPattern(parts[1], TEMPLATE_NAME_PATTERN, 'template file name');
    const metadata = await this.readMetadata(name);
    if (file !== undefined && file !== metadata.disk) throw new NotFoundError(`template ${name} has no disk ${file} (it has ${metadata.disk})`);
    let diskPath: string;
    try {
      diskPath = await this.confine(path.join(this.dir, name, metadata.disk), `template ${name}`);
    } catch (err) {
      // realpath's ENOENT would carry the host path into the FAILED description sent to the clearinghouse.
      if (err instanceof InputError) throw err;
      throw new NotFoundError(`template ${name}: disk ${metadata.disk} is missing`);
    }
    const st = await stat(diskPath);
    if (!st.isFile()) throw new InputError(`template ${name}: ${metadata.disk} is not a regular file`);
    const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
    let cached = this.validated.get(diskPath);
    if (!cached || cached.key !== key) {
      const info = await this.images.info(diskPath, metadata.format);
      if (info.format !== metadata.format) throw new InputError(`template ${name}: image format is ${info.format}, template.json says ${metadata.format}`);
      if (info.backingFilename) throw new InputError(`template ${name}: image has a backing file; templates must be self-contained`);
      if (info.dataFile) throw new InputError(`template ${name}: image has an external data file; not allowed`);
      cached = { key, info };
      this.validated.set(diskPath, cached);
    }
    return { metadata, diskPath, sizeBytes: st.size, virtualSizeBytes: cached.info.virtualSizeBytes };
  }

  /**
   * Names of the templates with a readable, well-formed template.json (for `list_vm_templates`, §4.2), sorted by
   * name. An unreadable catalogue folder gives `[]` and broken templates are left out, each logged as a warning.
   * @throws nothing.
   */
  async list(): Promise<TemplateMetadata[]> {
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch (err) {
      this.logger?.warn('template catalogue not readable: no templates listed', { dir: this.dir, error: describeError(err) });
      return [];
    }
    const out: TemplateMetadata[] = [];
    for (const e of entries.sort()) {
      if (!TEMPLATE_NAME_PATTERN.test(e)) continue;
      try {
        out.push(await this.readMetadata(e));
      } catch (err) {
        // a broken entry is skipped, like the original's unreadable params.cfg (docs/ocf-protocol.md §4.2)
        this.logger?.warn('template skipped', { template: e, reason: describeError(err) });
      }
    }
    return out;
  }

  private async readMetadata(name: string): Promise<TemplateMetadata> {
    const file = path.join(this.dir, name, 'template.json');
    let raw: string;
    try {
      raw = await readFile(await this.confine(file, `template ${name}`), 'utf8');
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new NotFoundError(`no template ${JSON.stringify(name)} in the catalogue`);
    }
    let m: Partial<TemplateMetadata>;
    try {
      m = JSON.parse(raw) as Partial<TemplateMetadata>;
    } catch {
      throw new InputError(`template ${name}: template.json is not valid JSON`);
    }
    if (typeof m.disk !== 'string' || !TEMPLATE_NAME_PATTERN.test(m.disk)) throw new InputError(`template ${name}: template.json needs a plain "disk" file name`);
    if (typeof m.format !== 'string' || !FORMATS.has(m.format)) throw new InputError(`template ${name}: format must be qcow2 or raw`);
    if (m.clone !== undefined && m.clone !== 'overlay' && m.clone !== 'full') throw new InputError(`template ${name}: clone must be "overlay" or "full"`);
    return { ...m, name, disk: m.disk, format: m.format } as TemplateMetadata;
  }

  /** Resolves symlinks and checks the result stays inside the catalogue. @throws InputError otherwise. */
  private async confine(p: string, what: string): Promise<string> {
    const root = await realpath(this.dir);
    const real = await realpath(p);
    if (real !== root && !real.startsWith(root + path.sep)) throw new InputError(`${what}: path escapes the template catalogue`);
    return real;
  }
}
