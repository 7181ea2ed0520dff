/**
 * Snapshots, backups and restores of VMs for the operator (decision record 026), through the VM's host agent.
 * Synchronous admin calls: each answers with the result or fails with the reason (the agent's fault), nothing is
 * queued. A restore recreates the VM's rows (same uuid, name, project, sizes, guest options, NICs with the same MAC
 * and IP, their address slots) in one transaction before the agent defines the VM, and removes them again when the
 * agent fails; it refuses while a VM with that uuid exists (one identity, never two VMs with it), and when the VM
 * does not fit its host: the same capacity check, row lock and message as a create pinned to that host (decision
 * record 019).
 */
import { ConflictError, describeError, InputError, NotFoundError, UpstreamError, UUID_PATTERN, isIpv4, type Logger } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { Server } from '../db/entities/server.js';
import type { VirtualMachine } from '../db/entities/virtual-machine.js';
import { ServerRepository } from '../repositories/server-repository.js';
import { VmRepository, type NewVm } from '../repositories/vm-repository.js';
import type { InventoryService } from './inventory-service.js';
import { IpamService } from './ipam-service.js';
import type { AgentGateway } from './ports.js';
import { BackupTargetService } from './backup-target-service.js';
import { dataDisksMiB } from './migration/migration-service.js';
import type { PlacementService } from './placement/placement-service.js';

/** Snapshot names (the agent checks them again): a letter, then letters, digits, `.`, `_`, `-`; at most 64. */
export const SNAPSHOT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

/** The VM fields a backup records (`record` in its `vm.json`); never the callback URL (it may hold credentials). */
const RECORD_FIELDS = [
  'uuid', 'name', 'projectId', 'projectName', 'sliceId', 'sliceName', 'operatingSystemType', 'operatingSystemVersion', 'operatingSystemDistribution',
  'memoryMb', 'vcpus', 'hdSizeMb', 'maxMemoryMb', 'dataDisksMb', 'sshKeys', 'guestUsers', 'guestHostname', 'hdOriginPath', 'hdSetupType', 'virtualizationSetupType',
] as const;
const NIC_FIELDS = ['name', 'position', 'isMgmt', 'mac', 'ip', 'netmask', 'gateway', 'dns1', 'dns2', 'bridge'] as const;

/**
 * The manager's record of `vm` as a backup stores it: the {@link RECORD_FIELDS}, the NICs and the server's name;
 * null values left out (XML-RPC has no null).
 */
export function vmRecord(vm: VirtualMachine, serverName: string): Record<string, unknown> {
  const out: Record<string, unknown> = { server: serverName };
  for (const k of RECORD_FIELDS) if (vm[k] !== null && vm[k] !== undefined) out[k] = vm[k];
  out.interfaces = [...(vm.interfaces ?? [])]
    .sort((a, b) => a.position - b.position)
    .map((n) => Object.fromEntries(NIC_FIELDS.filter((k) => n[k] !== null && n[k] !== undefined).map((k) => [k, n[k]])));
  return out;
}

/** A backup as `backup.list` shows it (sizes in bytes). */
export interface BackupRow {
  host: string;
  path: string;
  vmUuid: string;
  vmName: string;
  backedUpAt: string;
  disks: string[];
  sizeBytes: number;
}

/** Snapshots, backups and restores (see the module comment). */
export class VmBackupService {
  private readonly ipam = new IpamService();
  /** The registry of named backup targets that `backup` and `list` resolve (`backup.target.*` admin methods). */
  readonly targets: BackupTargetService;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly inventory: InventoryService,
    private readonly agents: AgentGateway,
    /** The capacity check of a restore (a create pinned to the restore's host). */
    private readonly placement: PlacementService,
    private readonly log: Logger,
  ) {
    this.targets = new BackupTargetService(tx, inventory);
  }

  /**
   * A snapshot verb on VM `ref` (uuid or unique name) through its host's agent.
   * @returns `{vm, host, ...the agent's answer}` (`snapshots: [...]` for `list`).
   * @throws InputError for a bad name; NotFoundError/ConflictError for the VM reference; the agent's fault (VM
   *   running, name taken, no such snapshot) as XmlRpcFaultError; UpstreamError when the agent cannot be reached.
   */
  async snapshot(op: 'create' | 'list' | 'revert' | 'delete', ref: string, name?: string): Promise<Record<string, unknown>> {
    if (op !== 'list' && (name === undefined || !SNAPSHOT_NAME_PATTERN.test(name))) {
      throw new InputError(`invalid snapshot name ${JSON.stringify(String(name ?? '').slice(0, 80))}: need a letter, then letters, digits, '.', '_' or '-' (at most 64)`);
    }
    const { vm, server } = await this.vmAndServer(ref);
    if (!this.agents.snapshot) throw new UpstreamError('this manager cannot take snapshots');
    const r = await this.agents.snapshot(server, op, vm.uuid, op === 'list' ? undefined : name);
    return op === 'list' ? { vm: vm.uuid, name: vm.name, host: server.name, snapshots: r } : { vm: vm.uuid, vmName: vm.name, host: server.name, ...(r as object) };
  }

  /**
   * Backs up stopped VM `ref` into `to` on its host, keeping the newest `keep`: `to` is a folder (a string) or
   * `{target}`, a named backup target resolved on the VM's host ({@link BackupTargetService.pathOn}). Either way
   * the folder must lie under a backup root of the host's agent, which refuses it otherwise (its fault passes on).
   * @returns the agent's answer (`path`, `sizeBytes`, `elapsedMs`, `removed`, …) with `host` (and `target`).
   * @throws as {@link snapshot}; InputError for a keep below 1; NotFoundError for an unknown target;
   *   ConflictError for a target pinned to another host than the VM's.
   */
  async backup(ref: string, to: string | { target: string }, keep?: number): Promise<Record<string, unknown>> {
    if (keep !== undefined && (!Number.isSafeInteger(keep) || keep < 1 || keep > 1000)) throw new InputError('keep must be an integer from 1 to 1000');
    if (typeof to === 'string' && !to.startsWith('/')) throw new InputError(`backup directory ${JSON.stringify(to.slice(0, 120))} must be an absolute path on the VM's host`);
    const { vm, server } = await this.vmAndServer(ref);
    const dir = typeof to === 'string' ? to : await this.targets.pathOn(to.target, server);
    if (!this.agents.backups) throw new UpstreamError('this manager cannot take backups');
    const r = (await this.agents.backups(server, 'backup_vm', [vm.uuid, { dir, ...(keep !== undefined ? { keep } : {}), record: vmRecord(vm, server.name) }])) as Record<string, unknown>;
    this.log.info('VM backed up', { vm: vm.uuid, host: server.name, path: r.path, sizeBytes: r.sizeBytes, elapsedMs: r.elapsedMs });
    return { host: server.name, ...(typeof to === 'string' ? {} : { target: to.target }), ...r };
  }

  /**
   * The backups the agents see: of host `host` (default: every enabled non-legacy host, asked in turn; one that
   * cannot be reached is reported in `errors`), in `dir` (default: each agent's backup roots), of VM `vm` (uuid;
   * default all). A backup in a shared directory shows once per host that sees it. `target` (not with `dir`)
   * looks in that named target's folder, on its pinned host only if it has one.
   * @throws InputError for a bad vm or `dir` with `target`; NotFoundError for an unknown target or host;
   *   ConflictError when `host` is not the host a target is pinned to.
   */
  async list(options: { host?: string; dir?: string; vm?: string; target?: string } = {}): Promise<{ backups: BackupRow[]; errors: Array<{ host: string; error: string }> }> {
    if (options.vm !== undefined && !UUID_PATTERN.test(options.vm)) throw new InputError('vm must be a VM uuid (the VM may no longer exist, so names are not resolved)');
    if (options.target !== undefined) {
      if (options.dir !== undefined) throw new InputError('give a target or a dir, not both');
      const t = await this.targets.resolve(options.target);
      if (t.host !== null && options.host !== undefined && (await this.inventory.getServer(this.tx.manager, options.host)).name !== t.host) {
        throw new ConflictError(`backup target ${options.target} is on host ${t.host} only, not on ${options.host}`);
      }
      const { target: _t, ...rest } = options;
      return this.list({ ...rest, dir: t.path, ...(t.host !== null ? { host: t.host } : {}) });
    }
    if (!this.agents.backups) throw new UpstreamError('this manager cannot list backups');
    const servers = options.host ? [await this.inventory.getServer(this.tx.manager, options.host)] : (await new ServerRepository(this.tx.manager).list()).filter((s) => !s.legacy);
    const backups: BackupRow[] = [];
    const errors: Array<{ host: string; error: string }> = [];
    for (const s of servers) {
      try {
        const rows = (await this.agents.backups(s, 'list_backups', [{ ...(options.dir ? { dir: options.dir } : {}), ...(options.vm ? { vmUuid: options.vm.toLowerCase() } : {}) }])) as BackupRow[];
        if (!Array.isArray(rows)) throw new UpstreamError(`agent of ${s.name}: list_backups did not answer a list`);
        for (const b of rows) backups.push({ host: s.name, path: b.path, vmUuid: b.vmUuid, vmName: b.vmName, backedUpAt: b.backedUpAt, disks: b.disks, sizeBytes: b.sizeBytes });
      } catch (err) {
        if (options.host) throw err;
        errors.push({ host: s.name, error: describeError(err) });
      }
    }
    return { backups, errors };
  }

  /**
   * Restores backup `path` (a folder as `backup.list` shows it, readable by `host`'s agent) on `host` (absent: the
   * original host if its agent can read the backup, else the first host whose agent can): same uuid,
   * name, MACs and IPs. The manager rows come first (addresses reserved: the IP must lie in an IPv4 range and the
   * MAC in a MAC range `host` subscribes to), then the agent verifies the checksums and defines the VM (stopped).
   * @throws ConflictError when a VM with that uuid exists (delete it first), the host is disabled or draining, the VM
   *   does not fit the host's capacity ("host kvm2 has 512 MiB free for VMs, 2048 MiB asked"), or an address is
   *   taken; InputError when
   *   an address lies in no range of `host` or the backup has no manager record; the agent's fault (corrupted
   *   backup: the rows are removed again).
   */
  async restore(path: string, host?: string): Promise<Record<string, unknown>> {
    if (!path.startsWith('/')) throw new InputError('the backup must be given as its absolute path (as `vtctl backup list` shows it)');
    if (!this.agents.backups) throw new UpstreamError('this manager cannot restore backups');
    const { server, def } = host !== undefined ? await this.inspectOn(await this.inventory.getServer(this.tx.manager, host), path) : await this.inspectAnywhere(path);
    const record = def.record;
    if (!record || typeof def.vmUuid !== 'string' || record.uuid !== def.vmUuid) throw new InputError(`backup ${path} holds no manager record of its VM (taken outside kvm-crm?): cannot restore it through the manager`);
    const uuid = def.vmUuid.toLowerCase();
    const row = newVmFromRecord(record, server);
    await this.tx.run(async (em) => {
      const existing = await new VmRepository(em).findByUuid(uuid);
      if (existing) {
        const on = await new ServerRepository(em).getById(existing.serverId);
        throw new ConflictError(`VM ${uuid} (${existing.name}) still exists on host ${on.name}: delete it before restoring its backup (a restore keeps the identity, so there can be only one)`);
      }
      // Capacity before addresses, as a create (action-store.ts): the server row stays locked on MySQL until the commit.
      await this.placement.place(em, server.uuid, { vcpus: row.vcpus, memoryMiB: row.memoryMb, diskMiB: (row.hdSizeMb ?? 0) + dataDisksMiB(row) });
      await this.reserveAddresses(em, server, uuid, row);
      await new VmRepository(em).createWithInterfaces(row);
    });
    let r: Record<string, unknown>;
    try {
      r = (await this.agents.backups(server, 'restore_backup', [path])) as Record<string, unknown>;
    } catch (err) {
      await this.tx.run(async (em) => {
        const vm = await new VmRepository(em).findByUuid(uuid);
        if (vm) await new VmRepository(em).deleteWithInterfaces(vm.id);
        await this.ipam.releaseAll(em, uuid);
      });
      throw err;
    }
    await this.tx.run(async (em) => {
      const vm = await new VmRepository(em).findByUuid(uuid);
      if (vm) await new VmRepository(em).setState(vm.id, 'created (stopped)', `restored from ${path}`.slice(0, 255));
    });
    this.log.warn('VM restored from a backup', { vm: uuid, host: server.name, path, bytes: r.bytes, elapsedMs: r.elapsedMs });
    const { record: _ignored, ...rest } = r;
    return { host: server.name, path, ...rest };
  }

  private async inspectOn(server: Server, path: string): Promise<{ server: Server; def: { vmUuid?: string; record?: Record<string, unknown> } }> {
    return { server, def: (await this.agents.backups!(server, 'inspect_backup', [path])) as { vmUuid?: string; record?: Record<string, unknown> } };
  }

  /**
   * Without `--host`: the backup's original host when its agent can read the backup, else the first enabled,
   * non-legacy host (in registration order) whose agent can.
   * @throws NotFoundError naming each host's refusal when none can read it.
   */
  private async inspectAnywhere(path: string): Promise<{ server: Server; def: { vmUuid?: string; record?: Record<string, unknown> } }> {
    const servers = (await new ServerRepository(this.tx.manager).list()).filter((s) => !s.legacy && s.enabled !== false);
    const readers: Array<{ server: Server; def: { vmUuid?: string; record?: Record<string, unknown> } }> = [];
    const refusals: string[] = [];
    for (const s of servers) {
      try {
        readers.push(await this.inspectOn(s, path));
      } catch (err) {
        refusals.push(`${s.name}: ${describeError(err)}`);
      }
    }
    const first = readers[0];
    if (!first) throw new NotFoundError(`no host can read backup ${path} (${refusals.join('; ') || 'no hosts'})`);
    return readers.find((r) => r.server.name === first.def.record?.server) ?? first;
  }

  private async vmAndServer(ref: string): Promise<{ vm: VirtualMachine; server: Server }> {
    const vms = new VmRepository(this.tx.manager);
    let vm: VirtualMachine | null | undefined;
    if (UUID_PATTERN.test(ref)) vm = await vms.findWithInterfaces(ref.toLowerCase());
    else {
      const named = await vms.findByName(ref);
      if (named.length > 1) throw new ConflictError(`${named.length} VMs are named ${ref}: ${named.map((v) => v.uuid).join(', ')}; give the uuid`);
      vm = named[0];
    }
    if (!vm) throw new NotFoundError(`no VM ${JSON.stringify(ref)}`);
    return { vm, server: await new ServerRepository(this.tx.manager).getById(vm.serverId) };
  }

  /**
   * Reserves each NIC's MAC in a MAC range and its IP in an IPv4 range that `server` subscribes to (IpamService).
   * MAC before IPv4, as a create allocates them (action-store.ts): on MySQL/MariaDB each takes its range row's lock,
   * and the opposite order would let a restore and a create on the same ranges deadlock.
   */
  private async reserveAddresses(em: EntityManager, server: Server, uuid: string, row: NewVm): Promise<void> {
    for (const nic of row.interfaces) {
      await this.ipam.reserveMac(em, server, uuid, nic.mac);
      if (nic.ip) await this.ipam.reserveIpv4(em, server, uuid, nic.ip);
    }
  }
}

/** The VM row a restore stores from a backup's record, on `server`, state `creating...`. @throws InputError for a malformed record. */
function newVmFromRecord(r: Record<string, unknown>, server: Server): NewVm {
  const str = (k: string, required = false): string | null => {
    const v = r[k];
    if (v === undefined || v === null || v === '') {
      if (required) throw new InputError(`backup record lacks ${k}`);
      return null;
    }
    if (typeof v !== 'string') throw new InputError(`backup record field ${k} is not a string`);
    return v;
  };
  const num = (k: string, required = false): number | null => {
    const v = r[k];
    if (v === undefined || v === null) {
      if (required) throw new InputError(`backup record lacks ${k}`);
      return null;
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new InputError(`backup record field ${k} is not an integer`);
    return v;
  };
  const nics = r.interfaces;
  if (!Array.isArray(nics) || nics.length > 32) throw new InputError('backup record interfaces must be a list');
  return {
    uuid: str('uuid', true)!.toLowerCase(), name: str('name', true)!, serverId: server.id, projectId: str('projectId', true)!, projectName: str('projectName'),
    sliceId: str('sliceId', true)!, sliceName: str('sliceName'), operatingSystemType: str('operatingSystemType'), operatingSystemVersion: str('operatingSystemVersion'),
    operatingSystemDistribution: str('operatingSystemDistribution'), memoryMb: num('memoryMb', true)!, vcpus: num('vcpus') ?? 1, hdSizeMb: num('hdSizeMb'),
    maxMemoryMb: num('maxMemoryMb'), dataDisksMb: str('dataDisksMb'), sshKeys: str('sshKeys'), guestUsers: str('guestUsers'), guestHostname: str('guestHostname'), keepDisksOnDelete: false,
    hdOriginPath: str('hdOriginPath', true)!, hdSetupType: str('hdSetupType') ?? 'file-image', virtualizationSetupType: str('virtualizationSetupType') ?? 'hvm',
    state: 'creating...', callbackUrl: '',
    interfaces: nics.map((x: Record<string, unknown>, i) => {
      if (!x || typeof x !== 'object' || typeof x.mac !== 'string' || typeof x.name !== 'string' || typeof x.bridge !== 'string') throw new InputError(`backup record interface ${i} is malformed`);
      if (x.ip !== undefined && (typeof x.ip !== 'string' || !isIpv4(x.ip))) throw new InputError(`backup record interface ${i} has a bad IP`);
      const opt = (k: string) => (typeof x[k] === 'string' ? (x[k] as string) : null);
      return {
        name: x.name, position: typeof x.position === 'number' ? x.position : i, isMgmt: x.isMgmt === true, mac: x.mac.toLowerCase(), ip: opt('ip'), netmask: opt('netmask'),
        gateway: opt('gateway'), dns1: opt('dns1'), dns2: opt('dns2'), bridge: x.bridge,
      };
    }),
  };
}
