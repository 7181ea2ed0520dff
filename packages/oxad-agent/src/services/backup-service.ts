/**
 * Full backups of a stopped VM into a backup directory on this host, and their restore (decision record 026).
 *
 * A backup is a folder `<dir>/<vm uuid>/<UTC stamp>/` holding:
 * - every disk image of the VM flattened to a standalone qcow2 (`qemu-img convert`: the template's blocks are
 *   copied in, internal snapshots are not), so it restores on any host, with or without the template;
 * - `seed.iso` (the cloud-init seed: hostname, addresses, keys) and `domain.xml` (`virsh dumpxml --inactive`);
 * - `vm.json`: {@link BackupDefinition}, what the restore needs to define the VM again, plus the manager's record;
 * - `SHA256SUMS` (`sha256sum` format) over all of the above, verified before a restore touches anything.
 * It is written as `<stamp>.partial/` and renamed when complete, so a crash never leaves a folder that looks whole.
 *
 * Backup directories are confined to the agent's configured `backupRoots` (after resolving symlinks); a restore
 * reads only from there too. A backup directory on NFS mounted on several hosts makes restores on another host
 * possible (the tests use one directory that every agent of the machine sees).
 */
import { copyFile, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConflictError, describeError, InputError, NotFoundError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { UUID_PATTERN, assertPattern } from '@kvm-crm/shared/validation';
import { assertAbsolutePath } from '../adapters/safe-path.js';
import { hashFile } from '../adapters/transfer-store.js';
import { BACKUP_DISK_PATTERN, BACKUP_FORMAT, compareStamps, exists, folderBytes, readDefinition, xmlDomainType } from './backup-folder.js';
import { parseDomainDefinition, type DomainDefinition } from '../domain/domain-definition.js';
import { renderDomainXml, validateDomainMetadata, type DomainNic } from '../domain/domain-xml.js';
import type { ImageInfo } from '../adapters/qemu-img.js';

export { BACKUP_FORMAT } from './backup-folder.js';

/** Name of a complete backup folder: the UTC time it was taken, `YYYYMMDDTHHMMSSZ`, with `-n` when taken twice in a second. */
export const BACKUP_STAMP_PATTERN = /^\d{8}T\d{6}Z(?:-[1-9]\d{0,3})?$/;
/** Largest manager record stored in a backup, as JSON. */
export const MAX_RECORD_BYTES = 64 * 1024;

/** `vm.json` of a backup. Memory in MiB. */
export interface BackupDefinition extends DomainDefinition {
  format: typeof BACKUP_FORMAT;
  vmUuid: string;
  vmName: string;
  /** ISO 8601. */
  backedUpAt: string;
  /** The domain type on the source host (`kvm`/`qemu`); the restore uses its own host's. */
  domainType: string;
  /** Disk image names, system disk first. */
  disks: string[];
  /** The manager's record of the VM (name, sizes, NICs with IPs, guest options), opaque to the agent. */
  record?: Record<string, unknown>;
}

/** A backup as `list_backups` answers it. Sizes in bytes. */
export interface BackupEntry {
  /** Absolute path of the backup folder: what `restore_backup` takes. */
  path: string;
  vmUuid: string;
  vmName: string;
  backedUpAt: string;
  disks: string[];
  sizeBytes: number;
}

/** What {@link BackupService} needs. */
export interface BackupServiceDeps {
  images: {
    convert(src: string, dst: string, format: string, options?: { sourceFormat?: string }): Promise<void>;
    info(path: string, format?: string): Promise<ImageInfo>;
  };
  vms: {
    paths(vmUuid: string): { dir: string; disk: string; seed: string; serialLog: string; domainXml: string };
    exists(vmUuid: string): Promise<boolean>;
    create(vmUuid: string): Promise<string>;
    remove(vmUuid: string): Promise<void>;
    diskImages(vmUuid: string): Promise<string[]>;
  };
  domains: {
    domState(name: string): Promise<string | undefined>;
    dumpXml(name: string, options?: { inactive?: boolean }): Promise<string>;
    define(xmlFilePath: string): Promise<void>;
    undefine(name: string): Promise<void>;
  };
  bridgeExists(name: string): Promise<boolean>;
  /** The provisioning's per-VM lock (`AgentProvisioningService.exclusive`). */
  lock: { exclusive<T>(vmUuid: string, task: () => Promise<T>): Promise<T> };
  /** Absolute folders under which backups may be written and read. None: backups are refused. */
  backupRoots: string[];
  domainPrefix: string;
  domainType: 'kvm' | 'qemu';
  /** libvirt network for a NIC whose bridge is missing on this host. */
  fallbackNetwork: string;
  logger: Logger;
  now?: () => Date;
}

/** Result of {@link BackupService.backup}. Sizes in bytes, time in ms. */
export interface BackupResult extends BackupEntry {
  /** Backup folders removed by the retention (`keep`). */
  removed: string[];
  elapsedMs: number;
}

/** Result of {@link BackupService.restore}. */
export interface RestoreResult {
  vmUuid: string;
  vmName: string;
  domain: string;
  /** Bytes copied into the VM folder. */
  bytes: number;
  elapsedMs: number;
  /** Notes (bridges replaced by the fallback network). */
  notes: string[];
  record?: Record<string, unknown>;
}

/** Backs VMs up into backup directories and restores them (see the module comment). */
export class BackupService {
  constructor(private readonly deps: BackupServiceDeps) {}

  /**
   * Backs up stopped VM `vmUuid` into `<dir>/<vm uuid>/<stamp>/`, then, with `keep`, removes the oldest complete
   * backups of that VM in `dir` beyond the newest `keep`.
   * @param dir absolute folder under a backup root (created when missing).
   * @param options.record the manager's record of the VM, stored in `vm.json` (at most 64 KiB as JSON).
   * @throws InputError for a bad uuid, dir (outside every backup root), keep or record; NotFoundError when the VM
   *   has no domain or folder here; ConflictError when the domain is not shut off; QemuImgError or a file-system
   *   error (the partial folder is removed).
   */
  async backup(vmUuid: string, dir: string, options: { keep?: number; record?: Record<string, unknown> } = {}): Promise<BackupResult> {
    const uuid = assertPattern(vmUuid, UUID_PATTERN, 'VM uuid').toLowerCase();
    if (options.keep !== undefined && (!Number.isSafeInteger(options.keep) || options.keep < 1 || options.keep > 1000)) throw new InputError('keep must be an integer from 1 to 1000');
    if (options.record !== undefined && Buffer.byteLength(JSON.stringify(options.record)) > MAX_RECORD_BYTES) throw new InputError(`the VM record is larger than ${MAX_RECORD_BYTES} bytes`);
    const target = await this.confine(dir, { create: true });
    return this.deps.lock.exclusive(uuid, async () => {
      const started = Date.now();
      const domain = `${this.deps.domainPrefix}${uuid}`;
      const state = await this.deps.domains.domState(domain);
      if (state === undefined) throw new NotFoundError(`no domain ${domain} on this host`);
      if (state !== 'shut off') throw new ConflictError(`VM ${uuid} is ${state}: backups are taken of a stopped VM only (stop it first; decision record 026)`);
      const disks = await this.deps.vms.diskImages(uuid);
      const xml = await this.deps.domains.dumpXml(domain, { inactive: true });
      const def = parseDomainDefinition(xml);
      const vmDir = path.join(target, uuid);
      await mkdir(vmDir, { recursive: true, mode: 0o755 });
      const stamp = await this.freeStamp(vmDir);
      const partial = path.join(vmDir, `${stamp}.partial`);
      const final = path.join(vmDir, stamp);
      await mkdir(partial, { mode: 0o750 });
      try {
        const names: string[] = [];
        for (const d of disks) {
          const name = path.basename(d);
          await this.deps.images.convert(d, path.join(partial, name), 'qcow2', { sourceFormat: 'qcow2' });
          names.push(name);
        }
        const seed = this.deps.vms.paths(uuid).seed;
        const extra: string[] = [];
        if (await exists(seed)) {
          await copyFile(seed, path.join(partial, 'seed.iso'));
          extra.push('seed.iso');
        }
        await writeFile(path.join(partial, 'domain.xml'), xml, { mode: 0o640 });
        const definition: BackupDefinition = {
          format: BACKUP_FORMAT, vmUuid: uuid, vmName: def.metadata.vmName, backedUpAt: this.now().toISOString(), domainType: xmlDomainType(xml),
          disks: names, ...def, ...(options.record ? { record: options.record } : {}),
        };
        await writeFile(path.join(partial, 'vm.json'), `${JSON.stringify(definition, null, 2)}\n`, { mode: 0o640 });
        const all = [...names, ...extra, 'domain.xml', 'vm.json'];
        const sums: string[] = [];
        for (const f of all) sums.push(`${(await hashFile(path.join(partial, f))).sha256}  ${f}`);
        await writeFile(path.join(partial, 'SHA256SUMS'), `${sums.join('\n')}\n`, { mode: 0o640 });
        await rename(partial, final);
        const sizeBytes = await folderBytes(final, [...all, 'SHA256SUMS']);
        const removed = options.keep !== undefined ? await this.prune(vmDir, options.keep) : [];
        const elapsedMs = Date.now() - started;
        this.deps.logger.info('VM backed up', { vmUuid: uuid, backup: final, sizeBytes, elapsedMs, removed });
        return { path: final, vmUuid: uuid, vmName: definition.vmName, backedUpAt: definition.backedUpAt, disks: names, sizeBytes, removed, elapsedMs };
      } catch (err) {
        await rm(partial, { recursive: true, force: true }).catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * The complete backups under `dir` (default: every backup root), oldest first per VM; `vmUuid` filters.
   * Folders without a readable `vm.json` are skipped (and logged).
   * @throws InputError for a dir outside every backup root or a bad uuid.
   */
  async list(options: { dir?: string; vmUuid?: string } = {}): Promise<BackupEntry[]> {
    const filter = options.vmUuid !== undefined ? assertPattern(options.vmUuid, UUID_PATTERN, 'VM uuid').toLowerCase() : undefined;
    const dirs = options.dir !== undefined ? [await this.confine(options.dir)] : await this.roots();
    const out: BackupEntry[] = [];
    for (const d of dirs) await this.scan(d, 0, filter, out);
    return out.sort((a, b) => a.vmUuid.localeCompare(b.vmUuid) || a.backedUpAt.localeCompare(b.backedUpAt));
  }

  /**
   * Verifies backup `backupPath` (every SHA-256 of `SHA256SUMS`, and that every disk is a standalone qcow2) and
   * defines the VM from it on this host with the same UUID, name, MACs and seed (so the same addresses), memory
   * and vCPUs, with this host's paths, domain type and bridges (a missing bridge: the fallback network, noted).
   * The VM is left stopped. Nothing is changed when a check fails; a failure after the copy started removes the
   * folder and the domain again.
   * @throws InputError for a path outside every backup root, or a backup whose files or definition are invalid;
   *   ConflictError for a checksum mismatch (corrupted backup), or when the VM already exists on this host;
   *   NotFoundError when the folder is not a backup.
   */
  async restore(backupPath: string): Promise<RestoreResult> {
    const started = Date.now();
    const dir = await this.confine(backupPath);
    const sums = await this.verify(dir);
    const def = await readDefinition(dir);
    for (const f of [...def.disks, 'vm.json']) if (!sums.has(f)) throw new InputError(`backup ${dir}: ${f} is not in SHA256SUMS`);
    const uuid = def.vmUuid;
    return this.deps.lock.exclusive(uuid, async () => {
      const domain = `${this.deps.domainPrefix}${uuid}`;
      if ((await this.deps.domains.domState(domain)) !== undefined) throw new ConflictError(`VM ${uuid} still exists on this host (domain ${domain}): delete it before restoring it`);
      if (await this.deps.vms.exists(uuid)) throw new ConflictError(`the folder of VM ${uuid} already exists on this host`);
      for (const d of def.disks) {
        const info = await this.deps.images.info(path.join(dir, d), 'qcow2');
        if (info.backingFilename !== undefined || info.dataFile !== undefined) throw new InputError(`backup ${dir}: ${d} is not a standalone image (it names another file)`);
      }
      const notes: string[] = [];
      const nics: DomainNic[] = [];
      for (const [i, nic] of def.nics.entries()) {
        if (nic.bridge !== undefined && !(await this.deps.bridgeExists(nic.bridge))) {
          nics.push({ mac: nic.mac, network: this.deps.fallbackNetwork });
          notes.push(`eth${i}: bridge ${nic.bridge} does not exist on this host, attached to libvirt network ${this.deps.fallbackNetwork}`);
        } else nics.push(nic);
      }
      let defined = false;
      let bytes = 0;
      try {
        await this.deps.vms.create(uuid);
        const paths = this.deps.vms.paths(uuid);
        const copied: string[] = [];
        for (const d of def.disks) {
          const to = path.join(paths.dir, d);
          await copyFile(path.join(dir, d), to);
          bytes += (await stat(to)).size;
          copied.push(to);
        }
        if (sums.has('seed.iso')) {
          await copyFile(path.join(dir, 'seed.iso'), paths.seed);
          bytes += (await stat(paths.seed)).size;
        }
        const xml = renderDomainXml({
          name: domain, uuid, title: def.vmName, domainType: this.deps.domainType, memoryMiB: def.memoryMiB, maxMemoryMiB: def.maxMemoryMiB, vcpus: def.vcpus,
          diskPath: copied[0]!, ...(copied.length > 1 ? { dataDisks: copied.slice(1) } : {}), seedIsoPath: paths.seed, serialLogPath: paths.serialLog, nics,
          metadata: def.metadata,
        });
        await writeFile(paths.domainXml, xml, { mode: 0o644 });
        await this.deps.domains.define(paths.domainXml);
        defined = true;
      } catch (err) {
        if (defined) await this.deps.domains.undefine(domain).catch((e: unknown) => this.deps.logger.error('cleanup: undefine failed', { error: describeError(e) }));
        await this.deps.vms.remove(uuid).catch((e: unknown) => this.deps.logger.error('cleanup: removing the VM folder failed', { error: describeError(e) }));
        throw err;
      }
      const elapsedMs = Date.now() - started;
      this.deps.logger.warn('VM restored from a backup', { vmUuid: uuid, backup: dir, bytes, elapsedMs, notes });
      return { vmUuid: uuid, vmName: def.vmName, domain, bytes, elapsedMs, notes, ...(def.record ? { record: def.record } : {}) };
    });
  }

  /**
   * Reads the definition of backup `backupPath` after verifying the checksum of `vm.json` only (what the manager
   * needs before a restore: the VM's identity and its record; the restore verifies every file, so the disks are
   * not hashed twice).
   * @throws as {@link restore}'s checks.
   */
  async inspect(backupPath: string): Promise<BackupDefinition & { path: string }> {
    const dir = await this.confine(backupPath);
    if (!(await this.verify(dir, 'vm.json')).has('vm.json')) throw new InputError(`backup ${dir}: vm.json is not in SHA256SUMS`);
    return { ...(await readDefinition(dir)), path: dir };
  }

  /**
   * Checks every line of `SHA256SUMS` (with `only`, hashes just that file but still checks the format of every line);
   * returns the names it covers. @throws ConflictError on a mismatch.
   */
  private async verify(dir: string, only?: string): Promise<Set<string>> {
    let text: string;
    try {
      text = await readFile(path.join(dir, 'SHA256SUMS'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${dir} is not a backup (no SHA256SUMS)`);
      throw err;
    }
    const names = new Set<string>();
    for (const line of text.split('\n').filter(Boolean)) {
      const m = /^([0-9a-f]{64}) {2}([A-Za-z0-9._-]{1,64})$/.exec(line);
      if (!m || !(BACKUP_DISK_PATTERN.test(m[2]!) || ['seed.iso', 'domain.xml', 'vm.json'].includes(m[2]!))) throw new InputError(`backup ${dir}: malformed SHA256SUMS line ${JSON.stringify(line.slice(0, 100))}`);
      if (only !== undefined && m[2] !== only) {
        names.add(m[2]!);
        continue;
      }
      let actual: string;
      try {
        actual = (await hashFile(path.join(dir, m[2]!))).sha256;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ConflictError(`backup ${dir} is incomplete: ${m[2]} is missing`);
        throw err;
      }
      if (actual !== m[1]) throw new ConflictError(`backup ${dir} is corrupted: the SHA-256 of ${m[2]} is ${actual}, SHA256SUMS says ${m[1]}`);
      names.add(m[2]!);
    }
    return names;
  }

  /** The real path of `dir` when it lies in (or is) a backup root; with `create`, made first (mode 0750). */
  private async confine(dir: string, options: { create?: boolean } = {}): Promise<string> {
    const p = assertAbsolutePath(dir, 'backup directory');
    const roots = await this.roots();
    if (roots.length === 0) throw new InputError('this agent has no backup roots configured (agent option backupRoots)');
    const lexicalOk = this.deps.backupRoots.some((r) => p === r || p.startsWith(`${r}/`)) || roots.some((r) => p === r || p.startsWith(`${r}/`));
    if (!lexicalOk) throw new InputError(`backup directory ${p} is not under a backup root of this agent (${this.deps.backupRoots.join(', ')})`);
    if (options.create) await mkdir(p, { recursive: true, mode: 0o750 });
    let real: string;
    try {
      real = await realpath(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no backup directory ${p} on this host`);
      throw err;
    }
    if (!roots.some((r) => real === r || real.startsWith(`${r}/`))) throw new InputError(`backup directory ${p} resolves to ${real}, outside every backup root`);
    return real;
  }

  private async roots(): Promise<string[]> {
    const out: string[] = [];
    for (const r of this.deps.backupRoots) {
      try {
        out.push(await realpath(assertAbsolutePath(r, 'backup root')));
      } catch (err) {
        this.deps.logger.warn('backup root unusable', { root: r, error: describeError(err) });
      }
    }
    return out;
  }

  private async scan(dir: string, depth: number, filter: string | undefined, out: BackupEntry[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // vanished or unreadable: nothing to list there
    }
    if (entries.some((e) => e.isFile() && e.name === 'SHA256SUMS') && BACKUP_STAMP_PATTERN.test(path.basename(dir))) {
      try {
        const def = await readDefinition(dir);
        if (filter && def.vmUuid !== filter) return;
        const files = [...def.disks, 'domain.xml', 'vm.json', 'SHA256SUMS', ...(entries.some((e) => e.name === 'seed.iso') ? ['seed.iso'] : [])];
        out.push({ path: dir, vmUuid: def.vmUuid, vmName: def.vmName, backedUpAt: def.backedUpAt, disks: def.disks, sizeBytes: await folderBytes(dir, files) });
      } catch (err) {
        this.deps.logger.warn('backup folder skipped', { dir, error: describeError(err) });
      }
      return;
    }
    if (depth >= 4) return;
    for (const e of entries) if (e.isDirectory() && !e.name.endsWith('.partial')) await this.scan(path.join(dir, e.name), depth + 1, filter, out);
  }

  /** Removes the oldest complete backups in `vmDir` beyond the newest `keep`; returns their paths. */
  private async prune(vmDir: string, keep: number): Promise<string[]> {
    const stamps = (await readdir(vmDir)).filter((n) => BACKUP_STAMP_PATTERN.test(n)).sort(compareStamps);
    const removed: string[] = [];
    for (const n of stamps.slice(0, Math.max(0, stamps.length - keep))) {
      const p = path.join(vmDir, n);
      await rm(p, { recursive: true, force: true });
      removed.push(p);
    }
    return removed;
  }

  private async freeStamp(vmDir: string): Promise<string> {
    const base = this.now().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
    const taken = new Set(await readdir(vmDir));
    for (let n = 0; n < 1000; n++) {
      const s = n === 0 ? base : `${base}-${n}`;
      if (!taken.has(s) && !taken.has(`${s}.partial`)) return s;
    }
    throw new ConflictError(`too many backups of one VM in one second in ${vmDir}`);
  }

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }
}
