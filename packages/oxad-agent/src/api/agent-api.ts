/**
 * The OCF agent methods (docs/ocf-protocol.md §4.2): `send`, `ping`, `pingAuth`, `list_vm_templates`,
 * `force_list_active_vms`, and the kvm-crm extensions `list_vm_templates_detailed`, `get_host_info`, `get_console_log`,
 * `list_kept_disks`, `purge_kept_disks`, `get_domain_xml`, `set_guest_hostname`,
 * `snapshot_create|list|revert|delete`, `backup_vm`, `list_backups`, `inspect_backup` and `restore_backup`. The shared agent password is a method argument, compared in constant time.
 */
import { samePassword } from './same-password.js';
import { AuthenticationError, InputError } from '@kvm-crm/shared/errors';
import { parseRspec } from '@kvm-crm/shared/rspec';
import { ACTION_ID_PATTERN, assertPattern, UUID_PATTERN } from '@kvm-crm/shared/validation';
import { parsePeerUrl, pingChallenge, stringParam, type XmlRpcMethod } from '@kvm-crm/shared/xmlrpc';
import type { TemplateCatalogue } from '../templates/template-catalogue.js';
import type { MonitoringService } from '../services/monitoring-service.js';
import type { AgentProvisioningService } from '../services/provisioning-service.js';
import type { GuestHostnameService } from '../services/guest-hostname-service.js';
import type { HostInventory } from '../services/host-inventory.js';
import type { VmStore } from '../adapters/vm-store.js';
import type { KeptDisksService } from '../services/kept-disks-service.js';
import type { SnapshotService } from '../services/snapshot-service.js';
import type { BackupService } from '../services/backup-service.js';

/** What the API needs to list running domains. */
export interface DomainLister {
  listAll(): Promise<Array<{ name: string; uuid: string; state: string }>>;
}


/** What {@link agentApi} calls; each is a narrow view of a service, so tests can pass fakes. */
export interface AgentApiDeps {
  /** The OCF shared agent password (§4.2). */
  password: string;
  provisioning: Pick<AgentProvisioningService, 'submit'>;
  monitoring: Pick<MonitoringService, 'submit'>;
  templates: Pick<TemplateCatalogue, 'list' | 'resolve'>;
  domains: DomainLister;
  domainPrefix: string;
  /** The host inventory behind `get_host_info`. */
  host: Pick<HostInventory, 'get'>;
  /** The VM folders behind `get_console_log`; absent: the method is not offered. */
  vmFiles?: Pick<VmStore, 'readSerialLog'>;
  /** The kept disks behind `list_kept_disks` and `purge_kept_disks`; absent: the methods are not offered. */
  keptDisks?: Pick<KeptDisksService, 'list' | 'purge'>;
  /** `virsh dumpxml` behind `get_domain_xml`; absent: the method is not offered. */
  domainXml?: { dumpXml(name: string): Promise<string> };
  /** The disk snapshots behind `snapshot_*` (decision record 026); absent: not offered. */
  snapshots?: Pick<SnapshotService, 'create' | 'list' | 'revert' | 'delete'>;
  /** The backups behind `backup_vm`, `list_backups`, `inspect_backup`, `restore_backup`; absent: not offered. */
  backups?: Pick<BackupService, 'backup' | 'list' | 'inspect' | 'restore'>;
  /** The seed rewrite behind `set_guest_hostname` (decision 024 §8); absent: not offered. */
  guestHostnames?: Pick<GuestHostnameService, 'setHostname'>;
}

/** Most bytes of serial log one `get_console_log` call returns: 64 KiB. */
export const CONSOLE_LOG_CHUNK_BYTES = 64 * 1024;

/**
 * The agent's XML-RPC methods, keyed by name (docs/ocf-protocol.md §4.2). Authenticated methods throw an
 * AuthenticationError (fault `Password mismatch`) for a wrong password.
 */
export function agentApi(deps: AgentApiDeps): Record<string, XmlRpcMethod> {
  const checkPassword = (p: unknown[], index: number) => {
    if (!samePassword(stringParam(p, index, 'password'), deps.password)) throw new AuthenticationError('Password mismatch');
  };
  const vmFiles = deps.vmFiles;
  const keptDisks = deps.keptDisks;
  const domainXml = deps.domainXml;
  const snapshots = deps.snapshots;
  const backups = deps.backups;
  const vmUuidParam = (p: unknown[], i: number) => assertPattern(stringParam(p, i, 'vmUuid'), UUID_PATTERN, 'VM uuid').toLowerCase();
  return {
    /**
     * `send(callBackUrl, amId, password, xml)` → `""` before any work (§4.2). The actions of `query/provisioning`
     * (§7.2) and of `query/monitoring` (`listActiveVMs`, §6.8, §7.3) run in the background, each part on its own;
     * every status goes to callBackUrl.
     * @throws fault `Password mismatch`; InputError for a bad callback URL, XML that does not parse, no query, a
     *   query with no action, or an action without a valid id (then nothing at all is started).
     */
    send: (p) => {
      checkPassword(p, 2);
      const callbackUrl = stringParam(p, 0, 'callBackUrl');
      parsePeerUrl(callbackUrl);
      const doc = parseRspec(stringParam(p, 3, 'xml'));
      if (!doc.query) throw new InputError('the document holds no query');
      const provisioning = doc.query.provisioning?.actions ?? [];
      const monitoring = doc.query.monitoring?.actions ?? [];
      if (provisioning.length === 0 && monitoring.length === 0) throw new InputError('the query holds no provisioning or monitoring action');
      // Validate both parts before starting either: a refused send starts nothing.
      for (const a of [...provisioning, ...monitoring]) assertPattern(a.id, ACTION_ID_PATTERN, 'action id');
      if (provisioning.length) deps.provisioning.submit(callbackUrl, provisioning);
      if (monitoring.length) deps.monitoring.submit(callbackUrl, monitoring);
      return '';
    },
    /** `ping(challenge)` → challenge, unauthenticated (§4.2). */
    ping: (p) => pingChallenge(p),
    /** `pingAuth(challenge, password)` → challenge. */
    pingAuth: (p) => {
      checkPassword(p, 1);
      return pingChallenge(p);
    },
    /** `list_vm_templates(password)` → names of the catalogue's templates (§4.2). */
    list_vm_templates: async (p) => {
      checkPassword(p, 0);
      return (await deps.templates.list()).map((t) => t.name);
    },
    /**
     * kvm-crm extension `list_vm_templates_detailed(password)` → `[{name, operatingSystemType,
     * operatingSystemDistribution, operatingSystemVersion, format, sizeBytes, virtualSizeBytes, minMemoryMiB,
     * description}]` for every template that passes validation (docs/compatibility.md).
     */
    list_vm_templates_detailed: async (p) => {
      checkPassword(p, 0);
      const out: Array<Record<string, string | number>> = [];
      for (const meta of await deps.templates.list()) {
        try {
          const t = await deps.templates.resolve(meta.name);
          const m = t.metadata;
          out.push({
            name: m.name, format: m.format, sizeBytes: t.sizeBytes, virtualSizeBytes: t.virtualSizeBytes,
            ...(m.operatingSystemType ? { operatingSystemType: m.operatingSystemType } : {}),
            ...(m.operatingSystemDistribution ? { operatingSystemDistribution: m.operatingSystemDistribution } : {}),
            ...(m.operatingSystemVersion ? { operatingSystemVersion: m.operatingSystemVersion } : {}),
            ...(m.minMemoryMiB ? { minMemoryMiB: m.minMemoryMiB } : {}),
            ...(m.description ? { description: m.description } : {}),
          });
        } catch {
          // a template whose image fails validation is not offered; the same error is the FAILED reason of a
          // create that names it (broken template.json files were already logged by list())
        }
      }
      return out;
    },
    /**
     * kvm-crm extension `get_host_info(password)` → a struct describing this host now (docs/compatibility.md):
     * `hostname`, `hypervisor` (`kvm`|`qemu`), `cpuModel`, `cpus`, `cpuSockets`, `cpuCoresPerSocket`,
     * `cpuThreadsPerCore`, `cpuFrequencyMHz`, `memoryTotalMiB`, `memoryFreeMiB` (MemAvailable),
     * `storageTotalMiB`, `storageFreeMiB`, `storageTotalGiB`, `storageFreeGiB` (file system of the storage root),
     * `libvirtVersion`, `qemuVersion`, `bridges` (names), and the OCF server fields `numberOfCPUs`, `CPUFrequency`
     * (MHz), `memory` (MiB), `discSpaceGB`. Every number is an `<int>`.
     * @throws fault `Password mismatch`; an UpstreamError when virsh or the host cannot be read.
     */
    get_host_info: async (p) => {
      checkPassword(p, 0);
      return { ...(await deps.host.get()) };
    },
    /**
     * kvm-crm extension `get_console_log(password, vmUuid, offset)` → `{data, offset, nextOffset, size}`: the VM's
     * serial console log from byte `offset` (an `<int>`) on, at most {@link CONSOLE_LOG_CHUNK_BYTES} bytes, as base64
     * in `data`; `nextOffset` is where the next call goes on, `size` the log's size now (a size below `offset`
     * means the log was started again). Read-only; for `vtctl vm console-log`.
     * @throws fault `Password mismatch`; InputError for a bad uuid or offset; NotFoundError for a VM with no folder here.
     */
    ...(vmFiles
      ? {
          get_console_log: async (p: unknown[]) => {
            checkPassword(p, 0);
            const vmUuid = assertPattern(stringParam(p, 1, 'vmUuid'), UUID_PATTERN, 'VM uuid').toLowerCase();
            const offset = p[2];
            if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new InputError('offset must be a non-negative integer');
            const { data, size } = await vmFiles.readSerialLog(vmUuid, offset, CONSOLE_LOG_CHUNK_BYTES);
            return { data: data.toString('base64'), offset, nextOffset: offset + data.length, size };
          },
        }
      : {}),
    ...(keptDisks
      ? {
          /**
           * kvm-crm extension `list_kept_disks(password)` → `[{id, vmUuid, vmName, keptAt, actualSizeMiB, files: [{name,
           * virtualSizeMiB, actualSizeMiB} | {name, error}]}]`: the folders of `<storageRoot>/kept-disks/` (disks of VMs
           * deleted with keep-disks), oldest first; sizes in MiB rounded up, `keptAt` ISO 8601, `vmName` `""` when
           * unknown (decision record 021).
           * @throws fault `Password mismatch`.
           */
          list_kept_disks: async (p: unknown[]) => {
            checkPassword(p, 0);
            return (await keptDisks.list()).map((e) => ({ ...e, files: e.files.map((f) => ({ ...f })) }));
          },
          /**
           * kvm-crm extension `purge_kept_disks(password, id)` → `{id, files: [name…]}`: removes the kept-disks folder
           * `id` (`<vm uuid>` or `<vm uuid>-<n>`, as `list_kept_disks` names it) and its images.
           * @throws fault `Password mismatch`; InputError for any other id (no path can be named); NotFoundError when
           *   there is no such folder.
           */
          purge_kept_disks: async (p: unknown[]) => {
            checkPassword(p, 0);
            return keptDisks.purge(stringParam(p, 1, 'id'));
          },
        }
      : {}),
    ...(deps.guestHostnames
      ? {
          /**
           * kvm-crm extension `set_guest_hostname(password, vmUuid, hostname)` → `{previous, instanceId, medium}`: rewrites the
           * VM's cloud-init seed with the new `local-hostname` (and user-data `hostname`/`fqdn`), keeping its instance
           * id; the guest takes the name at its next boot (decision 024 §8); `medium` says whether a running guest's
           * CD-ROM now holds the new seed (GuestHostnameService.setHostname). For `vtctl manifest sethostnames`.
           * @throws fault `Password mismatch`; InputError for a bad uuid or host name (shared GUEST_HOSTNAME_PATTERN);
           *   NotFoundError when the host has no such VM or seed.
           */
          set_guest_hostname: async (p: unknown[]) => {
            checkPassword(p, 0);
            const vmUuid = assertPattern(stringParam(p, 1, 'vmUuid'), UUID_PATTERN, 'VM uuid').toLowerCase();
            return deps.guestHostnames!.setHostname(vmUuid, stringParam(p, 2, 'hostname'));
          },
        }
      : {}),
    ...(domainXml
      ? {
          /**
           * kvm-crm extension `get_domain_xml(password, vmUuid)` → the libvirt domain XML of the VM's domain
           * (`virsh dumpxml`: the live definition when it runs, else the persistent one), as a string. Read-only; for
           * `vtctl manifest dumpxml` (decision 024).
           * @throws fault `Password mismatch`; InputError for a bad uuid; a not-found error when the host has no such domain.
           */
          get_domain_xml: async (p: unknown[]) => {
            checkPassword(p, 0);
            const vmUuid = assertPattern(stringParam(p, 1, 'vmUuid'), UUID_PATTERN, 'VM uuid').toLowerCase();
            return domainXml.dumpXml(`${deps.domainPrefix}${vmUuid}`);
          },
        }
      : {}),
    ...(snapshots
      ? {
          /**
           * kvm-crm extension `snapshot_create(password, vmUuid, name)` → `{name, createdAt, disks: [name…], complete}`:
           * a qcow2 internal snapshot of every disk of the stopped VM (decision record 026). Synchronous.
           * @throws fault `Password mismatch`; InputError (uuid, name), NotFoundError (VM), ConflictError (running, name taken).
           */
          snapshot_create: async (p: unknown[]) => {
            checkPassword(p, 0);
            return { ...(await snapshots.create(vmUuidParam(p, 1), stringParam(p, 2, 'name'))) };
          },
          /** `snapshot_list(password, vmUuid)` → `[{name, createdAt, disks, complete}]`, oldest first. */
          snapshot_list: async (p: unknown[]) => {
            checkPassword(p, 0);
            return (await snapshots.list(vmUuidParam(p, 1))).map((s) => ({ ...s }));
          },
          /** `snapshot_revert(password, vmUuid, name)` → the snapshot: every disk set back to it (VM stopped). */
          snapshot_revert: async (p: unknown[]) => {
            checkPassword(p, 0);
            return { ...(await snapshots.revert(vmUuidParam(p, 1), stringParam(p, 2, 'name'))) };
          },
          /** `snapshot_delete(password, vmUuid, name)` → `{name, disks}`: removed from every disk holding it (VM stopped). */
          snapshot_delete: async (p: unknown[]) => {
            checkPassword(p, 0);
            return snapshots.delete(vmUuidParam(p, 1), stringParam(p, 2, 'name'));
          },
        }
      : {}),
    ...(backups
      ? {
          /**
           * kvm-crm extension `backup_vm(password, vmUuid, {dir, keep?, record?})` → `{path, vmUuid, vmName, backedUpAt,
           * disks, sizeBytes, removed, elapsedMs}`: a full backup of the stopped VM into `<dir>/<uuid>/<stamp>/`
           * (decision record 026); `dir` must lie under a backup root of the agent; `keep` prunes the oldest.
           * Synchronous: answers when the copy and its checksums are written.
           */
          backup_vm: async (p: unknown[]) => {
            checkPassword(p, 0);
            const o = p[2];
            if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InputError('backup_vm: third parameter must be a struct {dir, keep?, record?}');
            const req = o as Record<string, unknown>;
            if (typeof req.dir !== 'string') throw new InputError('backup_vm: dir must be a string');
            if (req.keep !== undefined && typeof req.keep !== 'number') throw new InputError('backup_vm: keep must be an integer');
            if (req.record !== undefined && (req.record === null || typeof req.record !== 'object' || Array.isArray(req.record))) throw new InputError('backup_vm: record must be a struct');
            const r = await backups.backup(vmUuidParam(p, 1), req.dir, {
              ...(req.keep !== undefined ? { keep: req.keep as number } : {}), ...(req.record !== undefined ? { record: req.record as Record<string, unknown> } : {}),
            });
            return { ...r, disks: [...r.disks], removed: [...r.removed] };
          },
          /** `list_backups(password, {dir?, vmUuid?})` → `[{path, vmUuid, vmName, backedUpAt, disks, sizeBytes}]`. */
          list_backups: async (p: unknown[]) => {
            checkPassword(p, 0);
            const req = (p[1] && typeof p[1] === 'object' && !Array.isArray(p[1]) ? p[1] : {}) as Record<string, unknown>;
            const dir = typeof req.dir === 'string' && req.dir ? req.dir : undefined;
            const vmUuid = typeof req.vmUuid === 'string' && req.vmUuid ? req.vmUuid : undefined;
            return (await backups.list({ ...(dir ? { dir } : {}), ...(vmUuid ? { vmUuid } : {}) })).map((b) => ({ ...b, disks: [...b.disks] }));
          },
          /** `inspect_backup(password, path)` → `vm.json` of the backup, after its checksums were verified. */
          inspect_backup: async (p: unknown[]) => {
            checkPassword(p, 0);
            return JSON.parse(JSON.stringify(await backups.inspect(stringParam(p, 1, 'path')))) as unknown;
          },
          /**
           * `restore_backup(password, path)` → `{vmUuid, vmName, domain, bytes, elapsedMs, notes, record?}`: verifies the
           * backup and defines the VM on this host, stopped, with its identity. ConflictError when it exists here or
           * the backup is corrupted.
           */
          restore_backup: async (p: unknown[]) => {
            checkPassword(p, 0);
            return JSON.parse(JSON.stringify(await backups.restore(stringParam(p, 1, 'path')))) as unknown;
          },
        }
      : {}),
    /** `force_list_active_vms(password, vm_uuid | 'None')` → `{uuid: domain name}` of running domains (§4.2). */
    force_list_active_vms: async (p) => {
      checkPassword(p, 0);
      const filter = stringParam(p, 1, 'vm_uuid', 'None');
      if (filter !== 'None' && !UUID_PATTERN.test(filter)) throw new InputError('vm_uuid must be a UUID or None');
      const out: Record<string, string> = {};
      for (const d of await deps.domains.listAll()) {
        if (d.state !== 'running' || !d.name.startsWith(deps.domainPrefix)) continue;
        if (filter !== 'None' && d.uuid.toLowerCase() !== filter.toLowerCase()) continue;
        out[d.uuid] = d.name;
      }
      return out;
    },
  };
}
