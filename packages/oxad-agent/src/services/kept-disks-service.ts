/**
 * The disks of VMs deleted with keep-disks (decision record 017: `<storageRoot>/kept-disks/<vm uuid>[-n]/`), listed
 * and purged for the operator (`list_kept_disks`, `purge_kept_disks`; decision record 021). Sizes come from each
 * image's header (`qemu-img info --force-share`), in MiB rounded up.
 */
import { describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import path from 'node:path';
import type { ImageSizeReader, KeptDiskFolders } from './ports.js';

/** One disk image of a kept-disks folder. Sizes in MiB, rounded up; absent when the header could not be read. */
export interface KeptDiskFile {
  /** File name in the folder (`disk.qcow2`, `data-vdb.qcow2`, …). */
  name: string;
  virtualSizeMiB?: number;
  actualSizeMiB?: number;
  /** Why the sizes are missing. */
  error?: string;
}

/** One kept-disks folder as `list_kept_disks` answers it. */
export interface KeptDisksEntry {
  /** The folder name: what {@link KeptDisksService.purge} takes. */
  id: string;
  vmUuid: string;
  /** The VM's name, `''` when it was not known at the delete. */
  vmName: string;
  /** ISO 8601 time of the delete that kept the disks. */
  keptAt: string;
  files: KeptDiskFile[];
  /** Sum of the files' actual sizes in MiB (what a purge frees). */
  actualSizeMiB: number;
}

const MIB = 1024 * 1024;

/** Lists and purges kept disks (see the module comment). */
export class KeptDisksService {
  constructor(
    private readonly folders: KeptDiskFolders,
    private readonly images: ImageSizeReader,
    private readonly log: Logger,
  ) {}

  /**
   * Every kept-disks folder, oldest first, with the virtual and actual size of each image. An image whose header
   * cannot be read is listed with an `error` instead of sizes.
   * @throws the file-system error when `kept-disks/` cannot be read.
   */
  async list(): Promise<KeptDisksEntry[]> {
    const out: KeptDisksEntry[] = [];
    for (const f of await this.folders.listKept()) {
      const files: KeptDiskFile[] = [];
      for (const file of f.files) {
        const name = path.basename(file);
        try {
          const info = await this.images.info(file, 'qcow2');
          files.push({ name, virtualSizeMiB: Math.ceil(info.virtualSizeBytes / MIB), actualSizeMiB: Math.ceil(info.actualSizeBytes / MIB) });
        } catch (err) {
          files.push({ name, error: describeError(err) });
        }
      }
      out.push({
        id: f.id, vmUuid: f.vmUuid, vmName: f.vmName ?? '', keptAt: f.keptAt.toISOString(), files,
        actualSizeMiB: files.reduce((sum, x) => sum + (x.actualSizeMiB ?? 0), 0),
      });
    }
    return out;
  }

  /**
   * Removes the kept-disks folder `id` and its images, and logs it.
   * @returns the id and the file names removed.
   * @throws InputError for an id that is not `<vm uuid>` or `<vm uuid>-<n>`; NotFoundError when no such folder exists.
   */
  async purge(id: string): Promise<{ id: string; files: string[] }> {
    const entry = (await this.folders.listKept()).find((f) => f.id === id);
    const dir = await this.folders.purgeKept(id);
    const files = (entry?.files ?? []).map((f) => path.basename(f));
    this.log.warn('kept disks purged', { id, folder: dir, files });
    return { id, files };
  }
}
