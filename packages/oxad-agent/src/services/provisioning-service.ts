/**
 * The agent's provisioning: runs each action of a query and reports ONGOING, then exactly one of SUCCESS or
 * FAILED with a reason, to the query's callback URL (docs/ocf-protocol.md §7.2, docs/architecture.md decisions 1, 5, 6).
 *
 * Unlike the original agent: a create that fails cleans up and reports one FAILED (no SUCCESS from the cleanup
 * first, §9 item 12); modify and unknown types get FAILED, not silence (§9 item 13); an unsupported
 * virtualization type fails only its own action (§7.2 step 1); a VM's actions run one at a time, and at most
 * `maxConcurrentActions` actions run on the host.
 *
 * Durability (decision 6): the `reporter` given by the agent is the StatusOutbox (services/status-outbox.ts), whose
 * `report` resolves true once the status is *durably queued*, not delivered. So the rule "an action runs only
 * after its ONGOING is sent" is now "only after its ONGOING is durably queued": a manager that is down does not
 * hold actions back, and the outbox delivers ONGOING before the terminal status (order per callback URL). With
 * `journal`, each action is recorded in `<storageRoot>/journal/` before its ONGOING is queued and removed after its
 * terminal status is queued, so that the StartupReconciler can finish or fail it after a crash.
 */
import { ConflictError, describeError, InputError, NotFoundError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import {
  isPlaceholder,
  provisioningStatusResponse,
  serialiseRspec,
  type Action,
  type ActionStatus,
  type VirtualMachine as RspecVm,
} from '@kvm-crm/shared/rspec';
import {
  ACTION_ID_PATTERN,
  assertPattern,
  BRIDGE_NAME_PATTERN,
  MAC_PATTERN,
  netmaskToPrefix,
  UUID_PATTERN,
  VM_NAME_PATTERN,
} from '@kvm-crm/shared/validation';
import { MAX_DISK_MIB } from '../adapters/qemu-img.js';
import { markAutostart, startDomain } from './start-domain.js';
import type { VmIdentityResolver } from './vm-identity.js';
import { MAX_DATA_DISKS, VmStore } from '../adapters/vm-store.js';
import { renderSeedFiles, type SeedNic } from '../domain/cloud-init-seed.js';
import { MAX_UNIX_SOCKET_PATH_BYTES, renderDomainXml, type DomainNic } from '../domain/domain-xml.js';
import { diskGrowth, seedUsers } from './create-guest-options.js';
import { modifyDomain } from './modify-domain.js';
import type { ActionJournal } from './action-journal.js';
import type { TemplateCatalogue } from '../templates/template-catalogue.js';
import { KeyedMutex, Semaphore } from './concurrency.js';
import { NO_AGENT_METRICS, type AgentActionMetrics } from './metrics-ports.js';
import { RUNNING_DOMAIN_STATES as RUNNING_STATES, type DomainState, type HostPorts, type StatusKind, type StatusReporter, type VmFiles, type VmPaths } from './ports.js';

/** Options of {@link AgentProvisioningService}. */
export interface AgentProvisioningOptions {
  /** `<storageRoot>/vms/<vm uuid>/` holds each VM's files (through {@link vms}, by default a `VmStore` here). */
  storageRoot: string;
  /** The VM folders; default `new VmStore(storageRoot)`. */
  vms?: VmFiles;
  domainPrefix: string;
  domainType: 'kvm' | 'qemu';
  vcpus: number;
  maxConcurrentActions: number;
  stopGraceSeconds: number;
  fallbackNetwork: string;
  logger: Logger;
  /** In-progress journal; absent in unit tests that do not need it. */
  journal?: ActionJournal;
  /** Action counters and durations (decision record 028). Default: counts nothing. */
  metrics?: AgentActionMetrics;
  /** Told the identity of each domain a create is about to define, and of a define that failed (VmIdentityResolver). */
  identities?: Pick<VmIdentityResolver, 'remember' | 'forget'>;
}

/**
 * Runs provisioning actions (create, start, stop, hardStop, reboot, delete, modify) in the background and reports
 * their statuses (see the module comment). Errors of an action become its FAILED status; nothing is thrown to the
 * caller of {@link submit} except for an action without a valid id.
 */
export class AgentProvisioningService {
  private readonly vmLocks = new KeyedMutex();
  private readonly slots: Semaphore;
  private readonly log: Logger;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly vms: VmFiles;

  constructor(
    private readonly host: HostPorts,
    private readonly templates: TemplateCatalogue,
    private readonly reporter: StatusReporter,
    private readonly options: AgentProvisioningOptions,
  ) {
    this.slots = new Semaphore(options.maxConcurrentActions);
    this.log = options.logger;
    this.vms = options.vms ?? new VmStore(options.storageRoot);
  }

  /** The libvirt domain name of a VM: `<prefix><vm uuid>`. */
  domainName(vmUuid: string): string {
    return `${this.options.domainPrefix}${vmUuid.toLowerCase()}`;
  }

  /** Where a VM's files live (`<storageRoot>/vms/<vm uuid, lower case>/…`). @throws InputError when `vmUuid` is not a UUID. */
  vmPaths(vmUuid: string): VmPaths {
    return this.vms.paths(vmUuid.toLowerCase());
  }

  /**
   * Accepts the provisioning actions of a query and runs them in the background, in order per VM.
   * @throws InputError when an action has no valid id (its status could not be routed).
   */
  submit(callbackUrl: string, actions: Action[]): void {
    for (const a of actions) assertPattern(a.id, ACTION_ID_PATTERN, 'action id');
    for (const action of actions) {
      const vmKey = action.server?.virtualMachines[0]?.uuid?.toLowerCase() ?? `action:${action.id}`;
      const run = this.vmLocks.run(vmKey, () => this.slots.run(() => this.execute(callbackUrl, action)));
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }
  }

  /**
   * Runs `task` under the lock of VM `vmUuid` that orders its actions: it waits for the actions accepted before it
   * and the actions accepted after it wait for it (the guest power-off watcher, decision record 021).
   * @returns what `task` returns; its error passes through.
   */
  exclusive<T>(vmUuid: string, task: () => Promise<T>): Promise<T> {
    return this.vmLocks.run(vmUuid.toLowerCase(), task);
  }

  /** Resolves when every accepted action has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private async execute(callbackUrl: string, action: Action): Promise<void> {
    const actionId = action.id!;
    const log = this.log.child({ actionId, actionType: action.type });
    const journal = this.options.journal;
    if (journal) {
      const vmUuid = action.server?.virtualMachines[0]?.uuid;
      try {
        await journal.record({
          actionId, type: String(action.type ?? ''), callbackUrl, started: new Date().toISOString(),
          ...(vmUuid && UUID_PATTERN.test(vmUuid) ? { vmUuid: vmUuid.toLowerCase() } : {}),
        });
      } catch (err) {
        log.error('action not recorded in the journal: action not executed', { error: describeError(err) });
        await this.send(callbackUrl, actionId, 'FAILED', `the agent could not record the action: ${describeError(err)}`);
        return;
      }
    }
    if (!(await this.send(callbackUrl, actionId, 'ONGOING', ''))) {
      log.error('status not queued: action not executed');
      await journal?.remove(actionId).catch(() => undefined);
      return;
    }
    const started = Date.now();
    let status: ActionStatus = 'SUCCESS';
    let description = '';
    try {
      description = (await this.perform(action, log)) ?? '';
    } catch (err) {
      status = 'FAILED';
      description = describeError(err);
    }
    log.log(status === 'SUCCESS' ? 'info' : 'warn', `action ${status}`, { ms: Date.now() - started, description });
    (this.options.metrics ?? NO_AGENT_METRICS).actionFinished(String(action.type ?? ''), status === 'SUCCESS' ? 'SUCCESS' : 'FAILED', (Date.now() - started) / 1000);
    if (await this.send(callbackUrl, actionId, status, description, terminalStatusKind(action.type, status))) {
      await journal?.remove(actionId).catch((err: unknown) => log.error('journal entry not removed', { error: describeError(err) }));
    } else log.error('terminal status not queued; the journal entry stays for the next start', { status });
  }

  private send(callbackUrl: string, actionId: string, status: ActionStatus, description: string, kind: StatusKind = 'progress'): Promise<boolean> {
    // ASCII only on the wire (docs/ocf-protocol.md §6.1 rule 9): never lose a status over a character.
    const ascii = description.replace(/[^\x20-\x7e\n\t]/g, '?').slice(0, 2000);
    return this.reporter.report(callbackUrl, serialiseRspec(provisioningStatusResponse({ actionId, status, description: ascii }), { dialect: 'agent' }), kind);
  }

  /** Runs one action; returns an optional detail for the SUCCESS description. @throws with the FAILED reason. */
  private async perform(action: Action, log: Logger): Promise<string | undefined> {
    const vm = action.server?.virtualMachines[0];
    if (!vm) throw new InputError('the action names no VM (server/virtual-machines)');
    if (vm.virtualizationType !== 'kvm') throw new InputError(`Virtualization type not supported by the agent: ${JSON.stringify(vm.virtualizationType ?? '')}`);
    const vmUuid = assertPattern(vm.uuid, UUID_PATTERN, 'VM uuid').toLowerCase();
    const name = this.domainName(vmUuid);
    switch (action.type) {
      case 'create':
        return this.create(action, vm, vmUuid, log);
      case 'start':
        return startDomain(this.host.domains, name, log);
      case 'stop':
        return this.stop(name);
      case 'hardStop':
        return this.hardStop(name);
      case 'reboot':
        return this.reboot(name, log);
      case 'delete':
        return this.delete(name, vmUuid, vm.xenConfiguration?.keepDisks === true, vm.name && VM_NAME_PATTERN.test(vm.name) ? vm.name : undefined);
      case 'modify':
        return this.modify(name, vm);
      default:
        throw new InputError(`Unknown action type ${JSON.stringify(action.type ?? '')}`);
    }
  }

  private async create(action: Action, vm: RspecVm, vmUuid: string, log: Logger): Promise<string | undefined> {
    const hostname = assertPattern(vm.name, VM_NAME_PATTERN, 'VM name');
    const projectId = assertPattern(vm.projectId, ACTION_ID_PATTERN, 'project-id');
    const sliceId = assertPattern(vm.sliceId, ACTION_ID_PATTERN, 'slice-id');
    const cfg = vm.xenConfiguration;
    if (!cfg?.hdOriginPath) throw new InputError('create needs xen-configuration/hd-origin-path (the template)');
    const memoryMiB = cfg.memoryMb;
    if (memoryMiB === undefined) throw new InputError('create needs xen-configuration/memory-mb');
    const maxMemoryMiB = cfg.maxMemoryMb;
    if (maxMemoryMiB !== undefined && maxMemoryMiB < memoryMiB) {
      throw new InputError(`max-memory-mb ${maxMemoryMiB} is below memory-mb ${memoryMiB}: the ceiling must be at least the boot memory`);
    }
    const template = await this.templates.resolve(cfg.hdOriginPath);
    if (template.metadata.minMemoryMiB && memoryMiB < template.metadata.minMemoryMiB) {
      throw new InputError(`template ${template.metadata.name} needs at least ${template.metadata.minMemoryMiB} MiB of memory, ${memoryMiB} MiB requested`);
    }
    const growToMiB = diskGrowth(cfg.hdSizeMb, template.virtualSizeBytes, template.metadata.name);
    const dataDisks = (cfg.dataDisks ?? []).map((d, i) => {
      if (d.sizeMb === undefined || !Number.isSafeInteger(d.sizeMb) || d.sizeMb < 1 || d.sizeMb > MAX_DISK_MIB) {
        throw new InputError(`data disk ${i + 1}: size-mb must be an integer from 1 to ${MAX_DISK_MIB}, got ${String(d.sizeMb ?? 'nothing')}`);
      }
      return d.sizeMb;
    });
    if (dataDisks.length > MAX_DATA_DISKS) throw new InputError(`${dataDisks.length} data disks asked, at most ${MAX_DATA_DISKS}`);
    const notes: string[] = [];
    const { users, defaultUserKeys } = seedUsers(cfg.users ?? [], cfg.sshKeys ?? [], notes);
    const seedNics: SeedNic[] = [];
    const domainNics: DomainNic[] = [];
    for (const [i, nic] of (cfg.interfaces ?? []).entries()) {
      const mac = assertPattern(nic.mac, MAC_PATTERN, `MAC of interface ${i}`).toLowerCase();
      const bridge = assertPattern(nic.switchId, BRIDGE_NAME_PATTERN, `switch-id (bridge) of interface ${i}`);
      const ifname = `eth${i}`;
      const seedNic: SeedNic = { name: ifname, mac };
      if (nic.ismgmt && !isPlaceholder(nic.ip)) {
        if (isPlaceholder(nic.mask)) throw new InputError(`interface ${i} has an IP address but no netmask`);
        const prefix = netmaskToPrefix(nic.mask);
        seedNic.addresses = [`${nic.ip}/${prefix}`];
        if (!isPlaceholder(nic.gw)) seedNic.gateway = nic.gw;
        const dns = [nic.dns1, nic.dns2].filter((d): d is string => !isPlaceholder(d));
        if (dns.length) seedNic.dns = dns;
      }
      seedNics.push(seedNic);
      if (await this.host.bridgeExists(bridge)) domainNics.push({ mac, bridge });
      else {
        domainNics.push({ mac, network: this.options.fallbackNetwork });
        notes.push(`${ifname}: bridge ${bridge} does not exist on this host, attached to libvirt network ${this.options.fallbackNetwork}`);
        log.warn('bridge missing, using the fallback network', { bridge, network: this.options.fallbackNetwork });
      }
    }
    const name = this.domainName(vmUuid);
    // Asked while the disk and seed are made (one virsh wait less, issue #14 goal 3), awaited before the define.
    const existing = this.host.domains.domState(name).then((state) => ({ state }), (error: unknown) => ({ error }));
    const paths = this.vmPaths(vmUuid);
    if (await this.vms.exists(vmUuid)) throw new ConflictError(`the folder of VM ${vmUuid} already exists on this host`);

    let defined = false;
    try {
      // Render the seed first: a key or user it refuses fails the create before any disk is written.
      const seed = renderSeedFiles({
        instanceId: vmUuid, hostname: cfg.hostname ?? hostname, nics: seedNics, ...(users.length ? { users } : {}), ...(defaultUserKeys.length ? { sshAuthorizedKeys: defaultUserKeys } : {}),
      });
      await this.vms.create(vmUuid);
      const full = template.metadata.clone === 'full';
      const systemDisk = async () => {
        if (full) {
          await this.host.images.convert(template.diskPath, paths.disk, 'qcow2', { sourceFormat: template.metadata.format });
          if (growToMiB !== undefined) await this.host.images.resize(paths.disk, growToMiB);
        } else {
          // The overlay is made at its final size: one qemu-img run instead of create + resize (issue #14 goal 3).
          await this.host.images.createOverlay({ backingPath: template.diskPath, backingFormat: template.metadata.format, overlayPath: paths.disk, ...(growToMiB !== undefined ? { sizeMiB: growToMiB } : {}) });
        }
      };
      // The seed ISO does not depend on the disk: both are made at once; the first failure fails the create, after
      // both have ended (the catch below then removes the folder with whatever they wrote).
      // The seed first: its file writes are queued before the disk's qemu-img is spawned (which holds the event loop).
      const [iso, disk] = await Promise.allSettled([this.host.writeSeedIso({ ...seed }, paths.seed), systemDisk()]);
      for (const r of [disk, iso]) if (r.status === 'rejected') throw r.reason;
      const dataDiskPaths: string[] = [];
      for (const [i, sizeMiB] of dataDisks.entries()) {
        const p = this.vms.dataDiskPath(vmUuid, i);
        await this.host.images.createVolume(p, sizeMiB);
        dataDiskPaths.push(p);
      }
      // Decision record 027: the serial console on a unix socket in the VM folder, unless the storage root is too
      // long for a socket path; then the serial log only, and a note says why there is no interactive console.
      const withSocket = Buffer.byteLength(paths.serialSocket) <= MAX_UNIX_SOCKET_PATH_BYTES;
      if (!withSocket) notes.push(`no interactive console: the socket path would be longer than ${MAX_UNIX_SOCKET_PATH_BYTES} bytes (shorten the agent's storage root); the serial log is kept`);
      const xml = renderDomainXml({
        name, uuid: vmUuid, title: hostname, domainType: this.options.domainType, memoryMiB, vcpus: cfg.vcpus ?? this.options.vcpus,
        ...(maxMemoryMiB !== undefined ? { maxMemoryMiB } : {}), ...(dataDiskPaths.length ? { dataDisks: dataDiskPaths } : {}),
        diskPath: paths.disk, ...(full ? {} : { backing: { path: template.diskPath, format: template.metadata.format } }),
        seedIsoPath: paths.seed, serialLogPath: paths.serialLog, ...(withSocket ? { serialSocketPath: paths.serialSocket } : {}), nics: domainNics,
        metadata: {
          vmUuid, vmName: hostname, projectId, sliceId, projectName: vm.projectName, sliceName: vm.sliceName,
          serverUuid: vm.serverId, actionId: action.id!, template: template.metadata.name,
        },
      });
      await this.vms.writeFile(vmUuid, 'domainXml', xml, 0o644);
      const found = await existing;
      if ('error' in found) throw found.error;
      if (found.state !== undefined) throw new ConflictError(`a domain for VM ${vmUuid} already exists on this host`);
      this.options.identities?.remember(name, { name: hostname, uuid: vmUuid }, vmUuid); // as the XML's metadata says
      await this.host.domains.define(paths.domainXml).catch((err: unknown) => {
        this.options.identities?.forget(name);
        throw err;
      });
      defined = true;
      return notes.join('; ') || undefined;
    } catch (err) {
      // Leave nothing behind: the domain we defined, and the folder we made (it did not exist before).
      if (defined) await this.host.domains.undefine(name).catch((e: unknown) => log.error('cleanup: undefine failed', { error: describeError(e) }));
      await this.vms.remove(vmUuid).catch((e: unknown) => log.error('cleanup: removing the VM folder failed', { error: describeError(e) }));
      throw err;
    }
  }

  private async state(name: string): Promise<DomainState> {
    const s = await this.host.domains.domState(name);
    if (s === undefined) throw new NotFoundError(`no domain ${name} on this host`);
    return s;
  }

  private async hardStop(name: string): Promise<string | undefined> {
    const s = await this.state(name);
    // Cleared first: a VM asked to be stopped must not come back at the next host boot, even if the stop fails.
    await this.host.domains.setAutostart(name, false);
    if (!RUNNING_STATES.has(s)) return 'already stopped';
    await this.host.domains.destroy(name);
    return undefined;
  }

  private async stop(name: string): Promise<string | undefined> {
    const s = await this.state(name);
    await this.host.domains.setAutostart(name, false); // see hardStop
    if (!RUNNING_STATES.has(s)) return 'already stopped';
    await this.host.domains.shutdown(name);
    const deadline = Date.now() + this.options.stopGraceSeconds * 1000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      if (!RUNNING_STATES.has((await this.host.domains.domState(name)) ?? 'shut off')) return undefined;
    }
    await this.host.domains.destroy(name);
    return `guest did not shut down within ${this.options.stopGraceSeconds} s; destroyed`;
  }

  private async reboot(name: string, log: Logger): Promise<string | undefined> {
    const s = await this.state(name);
    if (RUNNING_STATES.has(s)) {
      await this.host.domains.reboot(name);
      return undefined;
    }
    await this.host.domains.start(name);
    return ['was not running; started', await markAutostart(this.host.domains, name, log)].filter(Boolean).join('; ');
  }

  /**
   * modify (memory in MiB and/or vCPUs and/or the memory ceiling, from xen-configuration `memory-mb` / `vcpus` /
   * `max-memory-mb`): always written to the persistent definition (next start); memory is also changed live
   * through the balloon when the guest runs and the new size fits the maximum it was started with. A domain with a
   * ceiling (`<memory>` above `<currentMemory>`, set by `max-memory-mb`) keeps it when the new memory fits under
   * it; without one, memory sets both, as before. A new ceiling applies at the next start. The SUCCESS description
   * says which.
   */
  private async modify(name: string, vm: RspecVm): Promise<string> {
    return modifyDomain(this.host.domains, name, vm, async () => RUNNING_STATES.has(await this.state(name)));
  }

  /**
   * delete: destroys a running guest, undefines the domain and removes the VM's folder. With `keepDisks`
   * (xen-configuration `keep-disks`), the folder is first moved to `<storageRoot>/kept-disks/` with only its disk
   * images; the SUCCESS description says where.
   */
  private async delete(name: string, vmUuid: string, keepDisks: boolean, vmName?: string): Promise<string | undefined> {
    const s = await this.host.domains.domState(name);
    if (s === undefined && !(await this.vms.exists(vmUuid))) return 'already gone';
    if (s !== undefined && RUNNING_STATES.has(s)) await this.host.domains.destroy(name);
    // Disks move out before the undefine: an agent that dies in between leaves the domain, never lost disks.
    const kept = keepDisks ? await this.vms.keepDisks(vmUuid, vmName ? { vmName } : {}) : undefined;
    if (s !== undefined) await this.host.domains.undefine(name);
    if (!keepDisks) await this.vms.remove(vmUuid);
    return kept ? `disks kept on the host in kept-disks/${kept.split('/').at(-1)}` : undefined;
  }
}

/**
 * The outbox kind of an action's terminal status (decision 038): `result`, which may overtake the libvirt events
 * queued after the action's ONGOING, only for the SUCCESS of a `create` (its event: `Defined`) or a `start` (`Resumed`,
 * `Started`), whose events set the state the SUCCESS sets. Everything else keeps its place (`progress`): a FAILED,
 * or a delete/stop/reboot SUCCESS, arriving before its events would let them be applied after it (e.g. a failed
 * delete's `Stopped` turning the VM from failed to stopped; review of 2026-12-05).
 */
export function terminalStatusKind(actionType: string | undefined, status: ActionStatus): StatusKind {
  return status === 'SUCCESS' && (actionType === 'create' || actionType === 'start') ? 'result' : 'progress';
}
