/**
 * The agent's half of an offline migration (decision record 025). The manager drives the steps; each is one call:
 *
 * - source `export`: the VM's domain must be shut off; lists the files to copy (system disk, data disks, seed) with
 *   size and SHA-256, and the persistent domain XML; with `flatten`, first writes a standalone copy of the system
 *   disk (`qemu-img convert`, no backing file) into the ticket's folder;
 * - target `accept`: checks the ticket (ours as target, not expired), that the VM is not here yet, that the
 *   template resolves (unless flattened) and that the files fit on the storage file system; stores the ticket;
 * - target `receive` (the HTTPS endpoint, called by the source agent): one file under a stored ticket, from the
 *   source host's certificate only, checked for size and SHA-256 (transfer-store.ts);
 * - source `send`: pushes the files to the target in the background; `status` tells the bytes sent;
 * - target `import`: every file verified → moved into a new VM folder, overlay rebased onto the local template,
 *   domain XML rewritten (paths, bridges, domain type) and defined; same UUID, MACs, seed (so the same IP/hostname);
 * - source `release`: after the manager committed the move, undefines the domain and removes the VM folder;
 * - `abort` (either side): removes what the ticket made here (on a target also an imported domain and its folder).
 *
 * Every step is idempotent, so the manager may repeat it after a crash.
 */
import { chmod, mkdir, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ConflictError, InputError, NotFoundError, NotAllowedError, describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import {
  ticketBytes,
  validateTransferTicket,
  type TransferFile,
  type TransferTicket,
} from '@kvm-crm/shared/transfer-ticket';
import { BRIDGE_NAME_PATTERN, UUID_PATTERN, assertPattern } from '@kvm-crm/shared/validation';
import { hashFile, type TransferStore } from '../adapters/transfer-store.js';
import type { PushRequest } from '../adapters/transfer-client.js';
import type { VmStore } from '../adapters/vm-store.js';
import { parseDomainMetadata } from '../domain/domain-xml.js';
import { rewriteDomainXmlForHost } from '../domain/migrated-domain-xml.js';
import { dataDiskNames } from '../domain/migration-disks.js';
import type { MigrationDomains, MigrationImages } from './ports.js';

/** Everything the service uses, as narrow ports (tests pass fakes). */
export interface MigrationDeps {
  domains: MigrationDomains;
  images: MigrationImages;
  templates: { resolve(reference: string): Promise<{ diskPath: string; metadata: { format: string } }> };
  vms: Pick<VmStore, 'paths' | 'exists' | 'create' | 'remove' | 'pathOf'>;
  store: TransferStore;
  push(r: PushRequest, onBytes: (n: number) => void): Promise<void>;
  /** Runs `task` under the VM's provisioning lock (no action of the VM runs meanwhile). */
  exclusive<T>(vmUuid: string, task: () => Promise<T>): Promise<T>;
  /** The registered name this agent's certificate carries (its CN): a ticket names us by it. */
  ownName(): string;
  domainPrefix: string;
  domainType: 'kvm' | 'qemu';
  logger: Logger;
  /** Free bytes on the storage file system; default statfs of the VM root. */
  freeBytes?: () => Promise<number>;
}

/** What `export` answers. */
export interface ExportedVm {
  files: TransferFile[];
  /** The persistent domain XML on the source. */
  domainXml: string;
  /** The template the system disk is an overlay of, `''` when flattened. */
  template: string;
  /** The source's VM folder (the target replaces it in the XML). */
  sourceDir: string;
}

/** A send in progress or finished, on the source. */
export interface SendProgress {
  state: 'sending' | 'done' | 'failed' | 'unknown';
  bytes: number;
  totalBytes: number;
  error: string;
}

/**
 * The persistent XML of a domain detached for its migration, in its VM folder. The start-up reconciler keeps a
 * folder holding one even though no domain owns it (decision 025).
 */
export const DETACHED_XML = 'detached-domain.xml';

/** Extra space a target keeps free beyond the files: 256 MiB. */
const SPACE_MARGIN_BYTES = 256 * 1024 * 1024;

/** See the file comment. */
export class MigrationAgentService {
  private readonly sends = new Map<string, SendProgress>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly d: MigrationDeps) {}

  private domainName(vmUuid: string): string {
    return `${this.d.domainPrefix}${vmUuid}`;
  }

  /**
   * Source: the files of VM `vmUuid` and its domain XML for ticket `ticketId` (see the file comment).
   * @throws InputError for bad ids; NotFoundError when the VM is not here; ConflictError when its domain is not
   *   shut off; the qemu-img error of a flatten.
   */
  async exportVm(ticketId: string, vmUuidIn: string, flatten: boolean): Promise<ExportedVm> {
    const vmUuid = assertPattern(vmUuidIn, UUID_PATTERN, 'VM uuid').toLowerCase();
    const dir = this.d.store.dirOf(ticketId);
    return this.d.exclusive(vmUuid, async () => {
      const name = this.domainName(vmUuid);
      if (!(await this.d.domains.exists(name)) || !(await this.d.vms.exists(vmUuid))) throw new NotFoundError(`VM ${vmUuid} is not on this host`);
      const state = await this.d.domains.domState(name);
      if (state !== 'shut off') throw new ConflictError(`VM ${vmUuid} is ${state ?? 'in an unknown state'}; it must be shut off to migrate`);
      const domainXml = await this.d.domains.dumpXml(name, { inactive: true });
      const meta = parseDomainMetadata(domainXml);
      if (!meta) throw new ConflictError(`domain ${name} has no kvm-crm metadata`);
      const p = this.d.vms.paths(vmUuid);
      const names = ['disk.qcow2', ...dataDiskNames(domainXml, p.dir), 'seed.iso'];
      const files: TransferFile[] = [];
      for (const n of names) {
        let file = path.join(p.dir, n);
        if (n === 'disk.qcow2' && flatten) {
          const flat = this.d.store.fileOf(ticketId, n);
          await mkdir(dir, { recursive: true, mode: 0o700 });
          if (!(await this.d.store.has(ticketId, n))) await this.d.images.convert(file, flat, 'qcow2', { sourceFormat: 'qcow2' });
          file = flat;
        }
        files.push({ name: n, ...(await hashFile(file)) });
      }
      return { files, domainXml, template: flatten ? '' : meta.template, sourceDir: p.dir };
    });
  }

  /**
   * Target: checks and stores `ticketIn` (see the file comment). Accepting the same ticket twice is a no-op.
   * @throws InputError for a bad or expired ticket; NotAllowedError when it does not name this host as target;
   *   ConflictError when the VM is already here or the files do not fit; NotFoundError for a missing template.
   */
  async accept(ticketIn: unknown): Promise<{ ticketId: string; totalBytes: number }> {
    const t = validateTransferTicket(ticketIn);
    if (t.target !== this.d.ownName()) throw new NotAllowedError(`ticket names target ${t.target}; this host is ${this.d.ownName()}`);
    const existing = await this.d.store.load(t.id).catch(() => undefined);
    if (!existing) {
      if (await this.d.domains.exists(this.domainName(t.vmUuid))) throw new ConflictError(`VM ${t.vmUuid} already has a domain on ${t.target}`);
      if (await this.d.vms.exists(t.vmUuid)) throw new ConflictError(`VM ${t.vmUuid} already has a folder on ${t.target}`);
      if (t.template) await this.d.templates.resolve(t.template);
      const free = await (this.d.freeBytes ?? (() => freeBytesOf(this.d.store.root)))();
      const need = ticketBytes(t) + SPACE_MARGIN_BYTES;
      if (free < need) throw new ConflictError(`host ${t.target} has ${mib(free)} MiB free for the transfer, ${mib(need)} MiB needed`);
    }
    await this.d.store.save('target', t);
    return { ticketId: t.id, totalBytes: ticketBytes(t) };
  }

  /**
   * Target: receives file `name` of ticket `ticketId` from a peer whose verified agent certificate names `peerNames`.
   * @throws NotFoundError for a ticket this host never accepted (forged or aborted); NotAllowedError when the ticket
   *   expired, was imported already, or the peer is not its source host; InputError for a name the ticket does not
   *   list, or a size/checksum mismatch (nothing is kept); ConflictError when the file is already here.
   */
  async receive(ticketId: string, name: string, peerNames: string[], body: Readable): Promise<{ sha256: string; sizeBytes: number }> {
    const s = await this.d.store.load(ticketId);
    const t = s.ticket;
    if (s.role !== 'target') throw new NotAllowedError('this host is not the target of that ticket');
    if (Date.parse(t.expiresAt) <= Date.now()) throw new NotAllowedError(`transfer ticket ${ticketId.slice(0, 8)}… expired at ${t.expiresAt}`);
    if (s.importedAt) throw new NotAllowedError('the transfer of that ticket is finished');
    if (!peerNames.includes(t.source)) throw new NotAllowedError(`the ticket's source is ${t.source}; the caller's certificate names ${peerNames.join(', ') || 'nothing'}`);
    const f = t.files.find((x) => x.name === name);
    if (!f) throw new InputError(`the ticket lists no file ${JSON.stringify(name.slice(0, 80))}`);
    const r = await this.d.store.receive(ticketId, f, body);
    this.d.logger.info('transfer file received', { ticket: ticketId.slice(0, 8), vm: t.vmUuid, file: name, bytes: r.sizeBytes });
    return r;
  }

  /**
   * Source: starts pushing the ticket's files to the target agent at `targetUrl` (in the background, one file at a
   * time); a second call for a ticket that is sending or done changes nothing. Resolves at once.
   * @throws InputError for a bad or expired ticket; NotAllowedError when it does not name this host as source.
   */
  async send(ticketIn: unknown, targetUrl: string): Promise<SendProgress> {
    const t = validateTransferTicket(ticketIn);
    if (t.source !== this.d.ownName()) throw new NotAllowedError(`ticket names source ${t.source}; this host is ${this.d.ownName()}`);
    const cur = this.sends.get(t.id);
    if (cur && cur.state !== 'failed') return { ...cur };
    await this.d.store.save('source', t).catch(async (err: unknown) => {
      if (!(err instanceof ConflictError)) throw err;
    });
    const progress: SendProgress = { state: 'sending', bytes: 0, totalBytes: ticketBytes(t), error: '' };
    this.sends.set(t.id, progress);
    const vmDir = this.d.vms.paths(t.vmUuid).dir;
    const run = (async () => {
      try {
        for (const f of t.files) {
          const flat = f.name === 'disk.qcow2' && t.template === '';
          const file = flat ? this.d.store.fileOf(t.id, f.name) : path.join(vmDir, f.name);
          await this.d.push({ targetUrl, targetName: t.target, ticketId: t.id, name: f.name, path: file, sizeBytes: f.sizeBytes }, (n) => {
            progress.bytes += n;
          });
        }
        progress.state = 'done';
        this.d.logger.info('transfer sent', { ticket: t.id.slice(0, 8), vm: t.vmUuid, target: t.target, bytes: progress.bytes });
      } catch (err) {
        progress.state = 'failed';
        progress.error = describeError(err);
        this.d.logger.warn('transfer failed', { ticket: t.id.slice(0, 8), vm: t.vmUuid, target: t.target, error: progress.error });
      }
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return { ...progress };
  }

  /** Source: the progress of ticket `ticketId`'s send (`unknown` when this agent never sent it since its start). */
  status(ticketId: string): SendProgress {
    this.d.store.dirOf(ticketId);
    const p = this.sends.get(ticketId);
    return p ? { ...p } : { state: 'unknown', bytes: 0, totalBytes: 0, error: 'this agent has no send of that ticket (restarted?)' };
  }

  /**
   * Target: defines the VM from the received files (see the file comment). `bridges` maps each bridge of the source
   * domain to the bridge it gets here. Importing an imported ticket again is a no-op.
   * @throws NotFoundError for an unknown ticket; ConflictError when a file is missing or the VM is already here;
   *   InputError for a bad bridge map or a domain XML that is not the ticket's VM; the libvirt/qemu-img error (then
   *   the VM folder and any definition made are removed again, the received files are kept for a retry).
   */
  async importVm(ticketId: string, domainXml: string, sourceDir: string, bridges: Record<string, string>): Promise<{ domain: string }> {
    const s = await this.d.store.load(ticketId);
    const t = s.ticket;
    if (s.role !== 'target') throw new NotAllowedError('this host is not the target of that ticket');
    const name = this.domainName(t.vmUuid);
    if (s.importedAt) return { domain: name };
    for (const [from, to] of Object.entries(bridges)) {
      assertPattern(from, BRIDGE_NAME_PATTERN, 'bridge name');
      assertPattern(to, BRIDGE_NAME_PATTERN, 'bridge name');
    }
    const meta = parseDomainMetadata(domainXml);
    if (!meta || meta.vmUuid.toLowerCase() !== t.vmUuid) throw new InputError('the domain XML is not the ticket\'s VM');
    for (const f of t.files) if (!(await this.d.store.has(t.id, f.name))) throw new ConflictError(`${f.name} has not arrived yet`);
    return this.d.exclusive(t.vmUuid, async () => {
      if (await this.d.domains.exists(name)) throw new ConflictError(`VM ${t.vmUuid} already has a domain here`);
      if (await this.d.vms.exists(t.vmUuid)) throw new ConflictError(`VM ${t.vmUuid} already has a folder here`);
      const p = this.d.vms.paths(t.vmUuid);
      const template = t.template ? await this.d.templates.resolve(t.template) : undefined;
      let defined = false;
      try {
        await this.d.vms.create(t.vmUuid);
        for (const f of t.files) {
          await this.d.store.moveOut(t.id, f.name, path.join(p.dir, f.name));
          // Received as 0600; the qemu user must read the seed (never relabelled, see domain-xml.ts), like a create's files.
          await chmod(path.join(p.dir, f.name), 0o644);
        }
        if (template) await this.d.images.rebase(p.disk, template.diskPath, template.metadata.format);
        const xml = rewriteDomainXmlForHost(domainXml, {
          name, sourceDir, targetDir: p.dir, domainType: this.d.domainType, bridges,
          backing: template ? { path: template.diskPath, format: template.metadata.format } : undefined,
        });
        const file = path.join(p.dir, 'domain.xml');
        await writeFile(file, xml, { mode: 0o644 });
        await this.d.domains.define(file);
        defined = true;
        await this.d.store.markImported(t.id);
      } catch (err) {
        if (defined) await this.d.domains.undefine(name).catch(() => undefined);
        // Put the verified files back so a retried import needs no new copy.
        for (const f of t.files) {
          await rename(path.join(p.dir, f.name), this.d.store.fileOf(t.id, f.name)).catch(() => undefined);
        }
        await this.d.vms.remove(t.vmUuid);
        throw err;
      }
      this.d.logger.info('migrated VM defined', { vm: t.vmUuid, domain: name, source: t.source });
      return { domain: name };
    });
  }

  /**
   * Source: just before the target defines the VM, undefines our domain (only while shut off) and keeps its
   * persistent XML as `<vm folder>/detached-domain.xml`, so the VM is defined on one host at a time (a libvirt UUID
   * is unique per libvirtd, and a VM defined on two hosts could be started on both). The files stay until
   * {@link release}; {@link reattach} undoes this. Idempotent.
   * @throws ConflictError when the domain runs; NotFoundError when neither the domain nor a detached XML is here.
   */
  async detach(ticketId: string, vmUuidIn: string): Promise<{ detached: boolean }> {
    const vmUuid = assertPattern(vmUuidIn, UUID_PATTERN, 'VM uuid').toLowerCase();
    this.d.store.dirOf(ticketId);
    return this.d.exclusive(vmUuid, async () => {
      const name = this.domainName(vmUuid);
      const saved = path.join(this.d.vms.paths(vmUuid).dir, DETACHED_XML);
      if (!(await this.d.domains.exists(name))) {
        if (await stat(saved).then(() => true, () => false)) return { detached: true };
        throw new NotFoundError(`VM ${vmUuid} has neither a domain nor a detached definition here`);
      }
      const state = await this.d.domains.domState(name);
      if (state !== 'shut off') throw new ConflictError(`VM ${vmUuid} is ${state ?? 'unknown'} here; refusing to detach it`);
      const xml = await this.d.domains.dumpXml(name, { inactive: true });
      await writeFile(`${saved}.tmp`, xml, { mode: 0o644 });
      await rename(`${saved}.tmp`, saved);
      await this.d.domains.undefine(name);
      this.d.logger.info('VM detached for its migration', { vm: vmUuid, domain: name });
      return { detached: true };
    });
  }

  /**
   * Source: the rollback of {@link detach}: defines the domain again from `detached-domain.xml` when it is not
   * defined. Idempotent; nothing to do when the domain exists.
   * @throws NotFoundError when there is neither; the libvirt error of the define.
   */
  async reattach(ticketId: string, vmUuidIn: string): Promise<{ reattached: boolean }> {
    const vmUuid = assertPattern(vmUuidIn, UUID_PATTERN, 'VM uuid').toLowerCase();
    this.d.store.dirOf(ticketId);
    return this.d.exclusive(vmUuid, async () => {
      const name = this.domainName(vmUuid);
      const saved = path.join(this.d.vms.paths(vmUuid).dir, DETACHED_XML);
      if (await this.d.domains.exists(name)) {
        await rm(saved, { force: true });
        return { reattached: false };
      }
      if (!(await stat(saved).then(() => true, () => false))) throw new NotFoundError(`VM ${vmUuid} has no detached definition here`);
      await this.d.domains.define(saved);
      await rm(saved, { force: true });
      this.d.logger.info('VM re-attached after a failed migration', { vm: vmUuid, domain: name });
      return { reattached: true };
    });
  }

  /**
   * Source: after the manager committed the move, removes the VM here (domain undefined, folder removed) and the
   * ticket's folder. Idempotent.
   * @throws ConflictError when the domain runs (it must not: the VM lives on the target now).
   */
  async release(ticketId: string, vmUuidIn: string): Promise<{ removed: boolean }> {
    const vmUuid = assertPattern(vmUuidIn, UUID_PATTERN, 'VM uuid').toLowerCase();
    this.d.store.dirOf(ticketId);
    return this.d.exclusive(vmUuid, async () => {
      const name = this.domainName(vmUuid);
      let removed = false;
      if (await this.d.domains.exists(name)) {
        const state = await this.d.domains.domState(name);
        if (state !== 'shut off') throw new ConflictError(`VM ${vmUuid} is ${state ?? 'unknown'} here; refusing to remove the source copy`);
        await this.d.domains.undefine(name);
        removed = true;
      }
      if (await this.d.vms.exists(vmUuid)) {
        await this.d.vms.remove(vmUuid);
        removed = true;
      }
      await this.d.store.remove(ticketId);
      this.sends.delete(ticketId);
      return { removed };
    });
  }

  /**
   * Removes what ticket `ticketId` made on this host: the transfer folder (received or flattened files); on the
   * target of an imported ticket also the domain and VM folder (only while the domain is shut off). Idempotent;
   * an unknown ticket removes nothing.
   * @throws ConflictError when an imported domain runs.
   */
  async abort(ticketId: string): Promise<{ removed: string[] }> {
    const s = await this.d.store.load(ticketId).catch(() => undefined);
    const removed: string[] = [];
    if (s?.role === 'target' && s.importedAt) {
      const t = s.ticket;
      await this.d.exclusive(t.vmUuid, async () => {
        const name = this.domainName(t.vmUuid);
        if (await this.d.domains.exists(name)) {
          const state = await this.d.domains.domState(name);
          if (state !== 'shut off') throw new ConflictError(`VM ${t.vmUuid} runs here; refusing to remove it`);
          await this.d.domains.undefine(name);
          removed.push(`domain ${name}`);
        }
        if (await this.d.vms.exists(t.vmUuid)) {
          await this.d.vms.remove(t.vmUuid);
          removed.push(`folder of ${t.vmUuid}`);
        }
      });
    }
    this.sends.delete(ticketId);
    await this.d.store.remove(ticketId);
    removed.push('transfer files');
    return { removed };
  }

  /** Resolves when every background send has ended (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}

const mib = (n: number) => Math.ceil(n / (1024 * 1024));

async function freeBytesOf(p: string): Promise<number> {
  const dir = path.dirname(p);
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
