/**
 * The agent's side effects as small interfaces that the services depend on: libvirt domains, disk images, the
 * seed ISO, bridges, VM folders and the manager's status endpoint. Real implementations live in `adapters/`
 * (`Virsh`, `QemuImg`, `writeSeedIso`, `VmStore`, `XmlRpcStatusReporter`); unit tests pass in-memory fakes.
 */

/**
 * A domain state as `virsh domstate` prints it. The known values are listed; anything else libvirt may add later
 * is passed through as-is.
 */
export type DomainState =
  | 'running'
  | 'idle'
  | 'blocked'
  | 'paused'
  | 'in shutdown'
  | 'shut off'
  | 'crashed'
  | 'pmsuspended'
  | 'no state'
  | (string & {});

/** The {@link DomainState}s of a domain whose guest runs (must be destroyed before undefine; can be rebooted). */
export const RUNNING_DOMAIN_STATES: ReadonlySet<string> = new Set<string>(['running', 'paused', 'blocked', 'in shutdown', 'pmsuspended']);

/** One domain of a libvirt listing: name, libvirt UUID and `virsh domstate` text. */
export interface DomainListEntry {
  name: string;
  uuid: string;
  state: string;
}

/** The libvirt operations the provisioning needs (implemented by `Virsh`). Memory in MiB. */
export interface DomainControl {
  define(xmlFilePath: string): Promise<void>;
  start(name: string): Promise<void>;
  shutdown(name: string): Promise<void>;
  destroy(name: string): Promise<void>;
  reboot(name: string): Promise<void>;
  undefine(name: string): Promise<void>;
  setConfigMemory(name: string, memoryMiB: number): Promise<void>;
  setLiveMemory(name: string, memoryMiB: number): Promise<void>;
  setConfigVcpus(name: string, vcpus: number): Promise<void>;
  maxMemoryMiB(name: string): Promise<number>;
  /** Sets only the boot memory of the persistent definition (`<currentMemory>`); the ceiling stays. */
  setConfigCurrentMemory(name: string, memoryMiB: number): Promise<void>;
  /** The persistent definition's ceiling (`<memory>`) and boot size (`<currentMemory>`), MiB. */
  configMemory(name: string): Promise<{ maxMiB: number; currentMiB: number }>;
  /** Marks the domain to start with libvirtd (host boot), or clears the mark (decision 017). */
  setAutostart(name: string, enabled: boolean): Promise<void>;
  /** The domain's state; undefined when there is no such domain. */
  domState(name: string): Promise<DomainState | undefined>;
}

/** The libvirt calls the start-up reconciler needs (implemented by `Virsh`). */
export interface ReconcilerDomains {
  listAll(): Promise<DomainListEntry[]>;
  dumpXml(name: string, options?: { inactive?: boolean }): Promise<string>;
  domState(name: string): Promise<string | undefined>;
  destroy(name: string): Promise<void>;
  undefine(name: string): Promise<void>;
}

/**
 * The libvirt calls behind "VMs come back after a host reboot" and "a guest that powers itself off stays off"
 * (decision record 021; implemented by `Virsh`).
 */
export interface AutostartDomains {
  /** State and libvirt's reason (`virsh domstate --reason`); undefined when there is no such domain. */
  domStateReason(name: string): Promise<{ state: string; reason: string } | undefined>;
  /** True when the domain is marked autostart (`virsh dominfo`). */
  autostart(name: string): Promise<boolean>;
  /** Sets or clears the autostart mark (`virsh autostart [--disable]`). */
  setAutostart(name: string, enabled: boolean): Promise<void>;
  /** Starts a shut-off domain (`virsh start`). */
  start(name: string): Promise<void>;
}

/** The libvirt listing the monitoring needs (implemented by `Virsh.listAll`). */
export interface DomainInventory {
  /** Every domain on the connection with its libvirt UUID and `virsh domstate` text. */
  listAll(): Promise<DomainListEntry[]>;
}

/** Reads a domain's XML (implemented by `Virsh.dumpXml`); throws a `NotFoundError` when there is no such domain. */
export interface DomainXmlReader {
  dumpXml(name: string): Promise<string>;
}

/** Arguments of `QemuImg.createOverlay`. */
export interface CreateOverlayArgs {
  /** Absolute path of the backing (template) image; stored as-is in the overlay header. */
  backingPath: string;
  /** Format of the backing image, `qcow2` or `raw`; always written into the header (`-F`). */
  backingFormat: string;
  /** Absolute path of the qcow2 overlay to create; must not exist yet. */
  overlayPath: string;
  /**
   * Virtual size of the overlay in MiB, at least the backing image's (the caller checks; qemu-img would make an
   * overlay smaller than its backing file). Default: the backing image's size. Saves a `qemu-img resize` (issue #14).
   */
  sizeMiB?: number;
}

/** The disk-image operations of the provisioning (implemented by `QemuImg`); sizes in MiB, paths absolute. */
export interface DiskImages {
  /** Creates a qcow2 overlay over a template image. */
  createOverlay(args: CreateOverlayArgs): Promise<void>;
  /** Full, independent copy of `src` (format `options.sourceFormat`) into a new image `dst` of format `format`. */
  convert(src: string, dst: string, format: string, options?: { sourceFormat?: string }): Promise<void>;
  /** Creates an empty qcow2 volume of `sizeMiB`. */
  createVolume(path: string, sizeMiB: number): Promise<void>;
  /** Grows a qcow2 image to `sizeMiB` (never shrinks). */
  resize(path: string, sizeMiB: number): Promise<void>;
}

/** Reads an image's header (implemented by `QemuImg.info`); sizes in bytes. */
export interface ImageSizeReader {
  /** @throws when the image cannot be read (`qemu-img info` fails). */
  info(path: string, format?: string): Promise<{ virtualSizeBytes: number; actualSizeBytes: number }>;
}

/** Host side effects of the provisioning besides the VM folders. */
export interface HostPorts {
  domains: DomainControl;
  /** Overlays, full copies, data volumes, growing (implemented by `QemuImg`). */
  images: DiskImages;
  /** Writes a cloud-init NoCloud ISO holding `files` (name → content) to `isoPath` (adapters/seed-iso.ts). */
  writeSeedIso(files: Record<string, string>, isoPath: string): Promise<void>;
  /** True when a Linux bridge of that name exists on this host. */
  bridgeExists(name: string): Promise<boolean>;
}

/** Files of one VM: its folder and the absolute paths of what it holds. */
export interface VmPaths {
  dir: string;
  disk: string;
  seed: string;
  serialLog: string;
  domainXml: string;
  /** The unix socket QEMU listens on for the serial console (decision record 027). */
  serialSocket: string;
}

/**
 * The guest's serial console as a byte stream (decision record 027; implemented by `SerialConsoleSockets`).
 */
export interface SerialConsolePort {
  /**
   * Connects to the running VM's serial console.
   * @throws NotFoundError (no such VM here), ConflictError (not running, no console socket, not listening).
   */
  connect(vmUuid: string): Promise<import('@kvm-crm/shared/console').ConsoleEndpoint>;
}

/** The files of a VM folder, by role (the keys of {@link VmPaths} besides `dir`). */
export type VmFile = Exclude<keyof VmPaths, 'dir'>;

/**
 * The VM folders `<storageRoot>/vms/<vm uuid>/` (implemented by `VmStore`). Every method validates the uuid and
 * throws an InputError for one that is not a UUID; file-system errors pass through.
 */
export interface VmFiles {
  /** The folder of a VM. */
  pathOf(vmUuid: string): string;
  /** The files of a VM. */
  paths(vmUuid: string): VmPaths;
  /** True when the VM's folder exists. */
  exists(vmUuid: string): Promise<boolean>;
  /** Creates the VM's folder (and `vms/`); returns its path. */
  create(vmUuid: string): Promise<string>;
  /** Absolute path of data disk `index` (0 → `vdb`) in the VM's folder. @throws InputError for an index outside 0–15. */
  dataDiskPath(vmUuid: string, index: number): string;
  /** Writes one of the VM's files (mode default 0644); returns its path. */
  writeFile(vmUuid: string, file: VmFile, content: string, mode?: number): Promise<string>;
  /** The VM's disk images, system disk first (`disk.qcow2`, `data-vdb.qcow2`, …). @throws NotFoundError without a folder. */
  diskImages(vmUuid: string): Promise<string[]>;
  /** Entry names in `vms/` (not only UUIDs). @throws ENOENT when `vms/` does not exist. */
  list(): Promise<string[]>;
  /** Removes the VM's folder and its content; no error when it is already gone. */
  remove(vmUuid: string): Promise<void>;
  /**
   * Moves the VM's folder out of `vms/` (to `<storageRoot>/kept-disks/`) keeping only its disk images; returns the
   * new folder, undefined when the VM has no folder.
   */
  keepDisks(vmUuid: string, info?: { vmName?: string }): Promise<string | undefined>;
  /** True when the VM's folder holds the XML of a domain detached for its migration (decision 025). Optional. */
  isDetached?(vmUuid: string): Promise<boolean>;
}

/** One folder of `<storageRoot>/kept-disks/`: the disks of a VM deleted with keep-disks. */
export interface KeptDiskFolder {
  /** The folder name, `<vm uuid>` or `<vm uuid>-<n>`: what `purge_kept_disks` takes. */
  id: string;
  /** Absolute path of the folder. */
  dir: string;
  vmUuid: string;
  /** The VM's name when it was known at the delete. */
  vmName?: string;
  /** When the disks were kept (the delete). */
  keptAt: Date;
  /** Absolute paths of the disk images in the folder, sorted. */
  files: string[];
}

/** The kept-disks folders (implemented by `VmStore`). */
export interface KeptDiskFolders {
  /** Every kept-disks folder, oldest first. */
  listKept(): Promise<KeptDiskFolder[]>;
  /** Removes one folder by id; returns its path. @throws InputError for a bad id, NotFoundError when absent. */
  purgeKept(id: string): Promise<string>;
}

/**
 * What a status document is, for the StatusOutbox's delivery order (decision 038): `progress` (ONGOING and any
 * status that keeps the full order; the default), `result` (a create's or start's SUCCESS, see `terminalStatusKind`: it may overtake the
 * libvirt events queued after the status queued before it, i.e. those its own action caused) or `event` (a
 * libvirt lifecycle event).
 */
export type StatusKind = 'progress' | 'result' | 'event';

/** Where statuses go; implemented over XML-RPC by `XmlRpcStatusReporter`, by the StatusOutbox, and in memory in unit tests. */
export interface StatusReporter {
  /**
   * Delivers `rspecXml` to `callbackUrl`. Resolves true once the manager accepted it (the StatusOutbox: once it is
   * durably queued), false when every attempt failed (the failure is logged). `kind` (default `progress`) matters
   * only to the StatusOutbox's order; other reporters deliver at once and ignore it.
   */
  report(callbackUrl: string, rspecXml: string, kind?: StatusKind): Promise<boolean>;
}

/** One delivery attempt of a status document. Implemented over XML-RPC by `XmlRpcStatusReporter.sendOnce`. */
export interface StatusSender {
  /** Resolves when the manager accepted the document. @throws on any failure (an `XmlRpcFaultError` for a refusal). */
  sendOnce(callbackUrl: string, rspecXml: string): Promise<void>;
}

/** Queues a status document durably (`StatusOutbox.enqueue`); `label` is free text for the logs. */
export type StatusQueue = (callbackUrl: string, rspecXml: string, label?: string) => Promise<void>;

/** The libvirt calls a migration needs. */
export interface MigrationDomains {
  exists(name: string): Promise<boolean>;
  domState(name: string): Promise<string | undefined>;
  dumpXml(name: string, options?: { inactive?: boolean }): Promise<string>;
  define(xmlFilePath: string): Promise<void>;
  undefine(name: string): Promise<void>;
}

/** The qemu-img calls a migration needs. */
export interface MigrationImages {
  convert(src: string, dst: string, format: string, options?: { sourceFormat?: string }): Promise<void>;
  rebase(image: string, backingPath: string, backingFormat: string): Promise<void>;
}
