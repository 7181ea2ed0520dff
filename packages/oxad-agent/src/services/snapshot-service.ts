/**
 * Disk snapshots of a VM (decision record 026): qcow2 internal snapshots, one of the same name in every disk image
 * of the VM (system overlay and data disks), taken, reverted and deleted only while the domain is shut off, under
 * the provisioning's per-VM lock so no action of the same VM runs meanwhile. The snapshots live inside the images,
 * so keep-disks, backups' source images and the migration's copies carry them without any code of their own.
 */
import { ConflictError, describeError, NotFoundError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { assertSnapshotName, type ImageSnapshot } from '../adapters/qemu-img.js';

/** The qemu-img calls the snapshots need (implemented by `QemuImg`). */
export interface SnapshotImages {
  snapshot(op: 'create' | 'apply' | 'delete', path: string, name: string): Promise<void>;
  snapshots(path: string): Promise<ImageSnapshot[]>;
}

/** One snapshot of a VM as `snapshot_list` answers it. */
export interface VmSnapshot {
  name: string;
  /** ISO 8601, from the system disk. */
  createdAt: string;
  /** Disk image names that hold it (every disk of the VM for a complete snapshot). */
  disks: string[];
  /** False when some disk of the VM lacks it (a data disk added after the snapshot, or a half-failed create). */
  complete: boolean;
}

/** What {@link SnapshotService} needs besides the images. */
export interface SnapshotServiceDeps {
  images: SnapshotImages;
  /** The VM's disk images, system disk first (`VmStore.diskImages`). */
  vms: { diskImages(vmUuid: string): Promise<string[]> };
  /** The domain's state; undefined when there is no such domain (`Virsh.domState`). */
  domains: { domState(name: string): Promise<string | undefined> };
  /** The provisioning's per-VM lock (`AgentProvisioningService.exclusive`). */
  lock: { exclusive<T>(vmUuid: string, task: () => Promise<T>): Promise<T> };
  domainPrefix: string;
  logger: Logger;
}

/** Creates, lists, reverts and deletes the internal snapshots of a VM's disks (see the module comment). */
export class SnapshotService {
  constructor(private readonly deps: SnapshotServiceDeps) {}

  /**
   * Takes snapshot `name` of every disk of the VM. A disk that fails undoes the snapshots already taken.
   * @returns the snapshot as {@link list} shows it.
   * @throws InputError for a bad uuid or name; NotFoundError when the VM has no domain or folder here; ConflictError
   *   when the domain is not shut off or a disk already holds a snapshot of that name; QemuImgError otherwise.
   */
  async create(vmUuid: string, name: string): Promise<VmSnapshot> {
    assertSnapshotName(name);
    return this.underLock(vmUuid, async (uuid, disks) => {
      for (const d of disks) {
        if ((await this.deps.images.snapshots(d)).some((s) => s.name === name)) throw new ConflictError(`VM ${uuid} already has a snapshot named ${name}`);
      }
      const done: string[] = [];
      try {
        for (const d of disks) {
          await this.deps.images.snapshot('create', d, name);
          done.push(d);
        }
      } catch (err) {
        for (const d of done) {
          await this.deps.images.snapshot('delete', d, name).catch((e: unknown) => this.deps.logger.error('undoing a snapshot failed', { vmUuid: uuid, disk: d, snapshot: name, error: describeError(e) }));
        }
        throw err;
      }
      this.deps.logger.info('snapshot created', { vmUuid: uuid, snapshot: name, disks: disks.length });
      return (await this.listDisks(disks)).find((s) => s.name === name)!;
    });
  }

  /**
   * The VM's snapshots, oldest first (by the system disk's order). Allowed while the VM runs (read with
   * `--force-share`).
   * @throws InputError for a bad uuid; NotFoundError when the VM has no folder here.
   */
  async list(vmUuid: string): Promise<VmSnapshot[]> {
    const uuid = vmUuid.toLowerCase();
    return this.listDisks(await this.deps.vms.diskImages(uuid));
  }

  /**
   * Sets every disk of the VM back to snapshot `name` (what was written since is lost; the snapshot stays).
   * @throws InputError, NotFoundError (VM, or a snapshot missing from some disk: nothing is changed then),
   *   ConflictError (the domain is not shut off), QemuImgError.
   */
  async revert(vmUuid: string, name: string): Promise<VmSnapshot> {
    assertSnapshotName(name);
    return this.underLock(vmUuid, async (uuid, disks) => {
      const snap = (await this.listDisks(disks)).find((s) => s.name === name);
      if (!snap) throw new NotFoundError(`VM ${uuid} has no snapshot named ${name}`);
      if (!snap.complete) throw new ConflictError(`snapshot ${name} of VM ${uuid} is not on every disk (only ${snap.disks.join(', ')}): refusing a partial revert`);
      for (const d of disks) await this.deps.images.snapshot('apply', d, name);
      this.deps.logger.warn('VM reverted to a snapshot', { vmUuid: uuid, snapshot: name, disks: disks.length });
      return snap;
    });
  }

  /**
   * Deletes snapshot `name` from every disk of the VM that holds it.
   * @returns the disk image names it was removed from.
   * @throws InputError, NotFoundError (VM, or no disk holds the snapshot), ConflictError (not shut off), QemuImgError.
   */
  async delete(vmUuid: string, name: string): Promise<{ name: string; disks: string[] }> {
    assertSnapshotName(name);
    return this.underLock(vmUuid, async (uuid, disks) => {
      const snap = (await this.listDisks(disks)).find((s) => s.name === name);
      if (!snap) throw new NotFoundError(`VM ${uuid} has no snapshot named ${name}`);
      for (const d of disks) {
        if (snap.disks.includes(baseName(d))) await this.deps.images.snapshot('delete', d, name);
      }
      this.deps.logger.info('snapshot deleted', { vmUuid: uuid, snapshot: name });
      return { name, disks: snap.disks };
    });
  }

  /** Runs `task` under the VM's lock once the domain is known to be shut off. */
  private underLock<T>(vmUuid: string, task: (uuid: string, disks: string[]) => Promise<T>): Promise<T> {
    const uuid = vmUuid.toLowerCase();
    return this.deps.lock.exclusive(uuid, async () => {
      const disks = await this.deps.vms.diskImages(uuid);
      const domain = `${this.deps.domainPrefix}${uuid}`;
      const state = await this.deps.domains.domState(domain);
      if (state === undefined) throw new NotFoundError(`no domain ${domain} on this host`);
      if (state !== 'shut off') {
        throw new ConflictError(`VM ${uuid} is ${state}: snapshots are taken, reverted and deleted only on a stopped VM (stop it first; decision record 026)`);
      }
      return task(uuid, disks);
    });
  }

  private async listDisks(disks: string[]): Promise<VmSnapshot[]> {
    const perDisk = await Promise.all(disks.map(async (d) => ({ disk: baseName(d), snaps: await this.deps.images.snapshots(d) })));
    const byName = new Map<string, VmSnapshot>();
    for (const { disk, snaps } of perDisk) {
      for (const s of snaps) {
        const e = byName.get(s.name) ?? { name: s.name, createdAt: s.createdAt, disks: [], complete: false };
        e.disks.push(disk);
        byName.set(s.name, e);
      }
    }
    const out = [...byName.values()];
    for (const e of out) e.complete = e.disks.length === disks.length;
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
