/**
 * The agent's VM storage layout (docs/architecture.md decision 3): one folder per VM, `<storageRoot>/vms/<vm uuid>/`,
 * holding its overlay disk, cloud-init seed ISO, serial console log and domain XML. This adapter is the only
 * code that builds these paths or creates, writes, lists and removes VM folders; the uuid is checked here
 * (a UUID, so it can never climb out of `vms/`) and every path it hands out passes {@link assertAbsolutePath}.
 */
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError, NotFoundError } from '@kvm-crm/shared/errors';
import { assertPattern, UUID_PATTERN } from '@kvm-crm/shared/validation';
import type { KeptDiskFolder, KeptDiskFolders, VmFile, VmFiles, VmPaths } from '../services/ports.js';
import { assertAbsolutePath } from './safe-path.js';

/** File names inside a VM folder. */
const FILES: Readonly<Record<VmFile, string>> = { disk: 'disk.qcow2', seed: 'seed.iso', serialLog: 'console.log', domainXml: 'domain.xml', serialSocket: 'console.sock' };

/** Most data disks per VM (vdb … vdq). */
export const MAX_DATA_DISKS = 16;

/** Guest device of data disk `index` (0 → `vdb`, 1 → `vdc`, …). @throws InputError outside 0–{@link MAX_DATA_DISKS}-1. */
export function dataDiskDevice(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_DATA_DISKS) throw new InputError(`data disk index ${String(index)} out of range (at most ${MAX_DATA_DISKS} data disks)`);
  return `vd${String.fromCharCode(0x62 + index)}`;
}

/** Disk images in a VM folder: the system disk and `data-vdX.qcow2`; what {@link VmStore.keepDisks} keeps. */
const DISK_FILE_PATTERN = /^(disk|data-vd[b-z])\.qcow2$/;

/**
 * The id of a kept-disks folder: its name, `<vm uuid>` or `<vm uuid>-<n>` (n from 1), lower case. Nothing else can
 * name one, so an id can never climb out of `kept-disks/` or name a file in it.
 */
export const KEPT_DISKS_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:-[1-9][0-9]{0,5})?$/;

/** The record {@link VmStore.keepDisks} writes beside the kept disks: `kept.json`. */
const KEPT_RECORD = 'kept.json';

/** The folders of the agent's VMs, `<root>/<vm uuid>/` with `root` = `<storageRoot>/vms`. */
export class VmStore implements VmFiles, KeptDiskFolders {
  /** Absolute path of the folder holding every VM folder. */
  readonly root: string;
  /** Absolute path of `<storageRoot>/kept-disks`, where {@link keepDisks} moves the disks of deleted VMs. */
  readonly keptRoot: string;

  /**
   * @param storageRoot the agent's storage root; VM folders live in `<storageRoot>/vms/` (resolved against the
   *   working folder if relative; the configuration loader already makes it absolute).
   */
  constructor(storageRoot: string) {
    this.root = path.resolve(storageRoot, 'vms');
    this.keptRoot = path.resolve(storageRoot, 'kept-disks');
  }

  /** Creates `<storageRoot>/vms` (mode 0755, parents too) when missing. @throws the file-system error. */
  async ensureRoot(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o755 });
  }

  /**
   * The folder of VM `vmUuid`: `<root>/<vmUuid>`, the uuid taken as given (callers pass it lower-cased).
   * @throws InputError when `vmUuid` is not a UUID, or the path is not a clean absolute path (control characters).
   */
  pathOf(vmUuid: string): string {
    return assertAbsolutePath(path.join(this.root, assertPattern(vmUuid, UUID_PATTERN, 'VM uuid')), 'VM folder');
  }

  /** The files of VM `vmUuid` (see {@link VmPaths}). @throws InputError when `vmUuid` is not a UUID. */
  paths(vmUuid: string): VmPaths {
    const dir = this.pathOf(vmUuid);
    return {
      dir,
      disk: path.join(dir, FILES.disk),
      seed: path.join(dir, FILES.seed),
      serialLog: path.join(dir, FILES.serialLog),
      domainXml: path.join(dir, FILES.domainXml),
      serialSocket: path.join(dir, FILES.serialSocket),
    };
  }

  /**
   * Up to `maxBytes` bytes of the VM's serial console log from byte `offset` on, and the file's size now. A log
   * that does not exist yet reads as empty (size 0); an offset past the end (the log was truncated by a new
   * domain start) reads nothing.
   * @throws InputError for a bad uuid or offset; NotFoundError when the VM has no folder; other file-system errors.
   */
  async readSerialLog(vmUuid: string, offset: number, maxBytes: number): Promise<{ data: Buffer; size: number }> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InputError('offset must be a non-negative integer');
    if (!(await this.exists(vmUuid))) throw new NotFoundError(`no VM ${vmUuid} on this host`);
    let handle;
    try {
      handle = await open(this.paths(vmUuid).serialLog, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { data: Buffer.alloc(0), size: 0 };
      throw err;
    }
    try {
      const { size } = await handle.stat();
      const length = Math.max(0, Math.min(maxBytes, size - offset));
      const data = Buffer.alloc(length);
      const { bytesRead } = length ? await handle.read(data, 0, length, offset) : { bytesRead: 0 };
      return { data: data.subarray(0, bytesRead), size };
    } finally {
      await handle.close();
    }
  }

  /**
   * True when the folder of VM `vmUuid` holds `detached-domain.xml`: its domain was undefined for a migration that
   * has not ended (decision 025); the folder must then be kept. @throws InputError for a bad uuid.
   */
  async isDetached(vmUuid: string): Promise<boolean> {
    return stat(path.join(this.pathOf(vmUuid), 'detached-domain.xml')).then(() => true, () => false);
  }

  /** True when the folder of VM `vmUuid` exists (false on any stat error). @throws InputError for a bad uuid. */
  async exists(vmUuid: string): Promise<boolean> {
    const dir = this.pathOf(vmUuid);
    try {
      await stat(dir);
      return true;
    } catch {
      return false; // ENOENT, or unreadable: either way there is no folder we could use
    }
  }

  /**
   * Creates the folder of VM `vmUuid` (mode 0755; `<root>` too when missing) and returns its path.
   * @throws InputError for a bad uuid; the file-system error otherwise.
   */
  async create(vmUuid: string): Promise<string> {
    const dir = this.pathOf(vmUuid);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    return dir;
  }

  /**
   * The data disk `index` of VM `vmUuid`: `<vm folder>/data-<device>.qcow2` (0 → `data-vdb.qcow2`).
   * @throws InputError for a bad uuid or an index outside 0–{@link MAX_DATA_DISKS}-1.
   */
  dataDiskPath(vmUuid: string, index: number): string {
    return path.join(this.pathOf(vmUuid), `data-${dataDiskDevice(index)}.qcow2`);
  }

  /**
   * Writes `content` (UTF-8) to one of the VM's files (e.g. `domainXml` → `<vm folder>/domain.xml`) with `mode`
   * (default 0644) and returns the file's path. The folder must exist ({@link create}).
   * @throws InputError for a bad uuid; the file-system error otherwise.
   */
  async writeFile(vmUuid: string, file: VmFile, content: string, mode = 0o644): Promise<string> {
    const target = this.paths(vmUuid)[file];
    await writeFile(target, content, { mode });
    return target;
  }

  /**
   * The disk images in the folder of VM `vmUuid`, system disk first, then the data disks in device order
   * (`disk.qcow2`, `data-vdb.qcow2`, …); the same files keep-disks keeps, snapshots cover and backups copy.
   * @throws InputError for a bad uuid; NotFoundError when the VM has no folder; other file-system errors.
   */
  async diskImages(vmUuid: string): Promise<string[]> {
    const dir = this.pathOf(vmUuid);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no VM ${vmUuid} on this host`);
      throw err;
    }
    const disks = names.filter((e) => DISK_FILE_PATTERN.test(e)).sort((a, b) => (a === 'disk.qcow2' ? -1 : b === 'disk.qcow2' ? 1 : a.localeCompare(b)));
    return disks.map((e) => assertAbsolutePath(path.join(dir, e), 'disk image path'));
  }

  /**
   * The names of the entries in `<root>`, as read (VM uuids, and whatever else someone put there).
   * @throws the file-system error (ENOENT when `<root>` does not exist).
   */
  async list(): Promise<string[]> {
    return readdir(this.root);
  }

  /**
   * Removes the folder of VM `vmUuid` and everything in it; nothing happens when it does not exist.
   * @throws InputError for a bad uuid; the file-system error otherwise.
   */
  async remove(vmUuid: string): Promise<void> {
    await rm(this.pathOf(vmUuid), { recursive: true, force: true });
  }

  /**
   * Moves the folder of VM `vmUuid` out of `vms/` to `<storageRoot>/kept-disks/<vm uuid>[-<n>]/` (one rename, so
   * neither the start-up reconciler's debris sweep nor a later create of the same uuid can touch it), then removes
   * every entry in it but the disk images (`disk.qcow2`, `data-vd?.qcow2`), and writes `kept.json` there
   * (`{vmUuid, vmName?, keptAt}`, read back by {@link listKept}). Returns the new folder, or undefined when the VM
   * has no folder.
   * @param info.vmName the VM's name, when the caller knows it (kept for `list_kept_disks`).
   * @throws InputError for a bad uuid; the file-system error otherwise.
   */
  async keepDisks(vmUuid: string, info: { vmName?: string } = {}): Promise<string | undefined> {
    const dir = this.pathOf(vmUuid);
    if (!(await this.exists(vmUuid))) return undefined;
    await mkdir(this.keptRoot, { recursive: true, mode: 0o755 });
    let target = path.join(this.keptRoot, vmUuid);
    for (let n = 1; await stat(target).then(() => true, () => false); n++) target = path.join(this.keptRoot, `${vmUuid}-${n}`);
    await rename(dir, target);
    for (const e of await readdir(target)) if (!DISK_FILE_PATTERN.test(e)) await rm(path.join(target, e), { recursive: true, force: true });
    const record = { vmUuid, ...(info.vmName ? { vmName: info.vmName } : {}), keptAt: new Date().toISOString() };
    await writeFile(path.join(target, KEPT_RECORD), JSON.stringify(record) + '\n', { mode: 0o644 });
    return target;
  }

  /**
   * The folders in `<storageRoot>/kept-disks/` (oldest first), each with its disk images (absolute paths, sorted) and
   * what `kept.json` says. A folder without a readable `kept.json` (kept before it existed) takes its VM uuid from
   * its name and its time from the folder's modification time. Entries whose name is not a kept-disks id are
   * skipped. No `kept-disks/` yet: `[]`.
   * @throws the file-system error.
   */
  async listKept(): Promise<KeptDiskFolder[]> {
    let names: string[];
    try {
      names = await readdir(this.keptRoot);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: KeptDiskFolder[] = [];
    for (const id of names.filter((n) => KEPT_DISKS_ID_PATTERN.test(n)).sort()) {
      const dir = path.join(this.keptRoot, id);
      let st;
      try {
        st = await stat(dir);
      } catch {
        continue; // purged meanwhile
      }
      if (!st.isDirectory()) continue;
      const record = await readFile(path.join(dir, KEPT_RECORD), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => ({} as Record<string, unknown>));
      const keptAt = typeof record.keptAt === 'string' && !Number.isNaN(Date.parse(record.keptAt)) ? new Date(record.keptAt) : st.mtime;
      const files = (await readdir(dir)).filter((e) => DISK_FILE_PATTERN.test(e)).sort().map((e) => path.join(dir, e));
      out.push({
        id, dir, vmUuid: id.slice(0, 36), keptAt, files,
        ...(typeof record.vmName === 'string' && record.vmName ? { vmName: record.vmName } : {}),
      });
    }
    return out.sort((a, b) => a.keptAt.getTime() - b.keptAt.getTime() || a.id.localeCompare(b.id));
  }

  /**
   * Removes the kept-disks folder `id` (see {@link KEPT_DISKS_ID_PATTERN}) and everything in it; returns its path.
   * @throws InputError for an id that is not a kept-disks id (checked before any path is built); NotFoundError
   *   when there is no such folder; the file-system error otherwise.
   */
  async purgeKept(id: string): Promise<string> {
    if (typeof id !== 'string' || !KEPT_DISKS_ID_PATTERN.test(id)) {
      throw new InputError(`invalid kept-disks id ${JSON.stringify(String(id).slice(0, 80))}: expected <vm uuid> or <vm uuid>-<n>, lower case`);
    }
    const dir = assertAbsolutePath(path.join(this.keptRoot, id), 'kept-disks folder');
    if (path.dirname(dir) !== this.keptRoot) throw new InputError('kept-disks id outside kept-disks/');
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new NotFoundError(`no kept disks ${id} on this host`);
    await rm(dir, { recursive: true, force: true });
    return dir;
  }
}
