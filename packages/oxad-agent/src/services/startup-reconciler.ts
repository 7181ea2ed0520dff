/**
 * Agent start-up reconciliation with libvirt (docs/architecture.md decision 6), run by `startAgent` before it listens:
 *
 * 1. **View.** Reads every libvirt domain (`virsh list --all`) and, for ours (name with our prefix), our
 *    `<metadata>` (`dumpxml --inactive`): the agent's view of its VMs is rebuilt from libvirt alone.
 * 2. **Half-done actions.** Each entry left in the in-progress journal is an action the agent died in:
 *    - `create`: when the VM's domain exists with our metadata naming that action id, the create got as far as
 *      `virsh define` (its last step) → SUCCESS. Otherwise the create is undone (a domain of that name without
 *      readable metadata is destroyed and undefined; the VM folder is removed unless a domain of another action owns
 *      it) → FAILED "agent restarted during the create".
 *    - `delete`: when the domain is gone, the delete is finished (folder removed) → SUCCESS; otherwise FAILED.
 *    - any other type → FAILED "agent restarted during <type>; the VM's state is <domstate>".
 *    The status is queued in the outbox first, then the journal entry is removed (a crash in between sends the
 *    status twice; the manager ignores a second terminal status).
 * 3. **Debris.** Every folder under `<storageRoot>/vms/` that no domain owns (a domain owns a folder when its libvirt
 *    UUID — which is the VM UUID — equals the folder name, whatever its name prefix) and no remaining journal entry
 *    references is removed and logged: the overlay, seed and log of a create that died before `define`.
 *
 * When libvirt cannot be listed, nothing is decided or removed: the journal stays for the next start.
 */
import { describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { provisioningStatusResponse, serialiseRspec, type ActionStatus } from '@kvm-crm/shared/rspec';
import { UUID_PATTERN } from '@kvm-crm/shared/validation';
import { parseDomainMetadata, type DomainMetadata } from '../domain/domain-xml.js';
import { VmStore } from '../adapters/vm-store.js';
import type { ActionJournal, JournalEntry } from './action-journal.js';
import { RUNNING_DOMAIN_STATES as RUNNING_STATES, type DomainListEntry, type ReconcilerDomains, type StatusQueue, type VmFiles } from './ports.js';

/** One of our domains as libvirt knows it. */
export interface KnownDomain {
  name: string;
  /** libvirt UUID (= VM UUID for domains we define), lower case. */
  uuid: string;
  state: string;
  /** Our metadata; undefined when absent or damaged (`metadataError` says why). */
  metadata?: DomainMetadata;
  metadataError?: string;
}

/** What one start-up reconciliation did. */
export interface ReconcileReport {
  /** Our domains (name with our prefix), as read at start. */
  domains: KnownDomain[];
  /** Journal entries finished: action id → status queued and why. */
  actions: Array<{ actionId: string; type: string; status: ActionStatus; description: string }>;
  /** VM folders removed as debris. */
  removedFolders: string[];
  /** Set when libvirt could not be read (nothing was decided). */
  error?: string;
}

/** Options of {@link StartupReconciler}. */
export interface StartupReconcilerOptions {
  /** The agent's storage root; VM folders are `<storageRoot>/vms/<vm uuid>/` (through {@link vms}). */
  storageRoot: string;
  /** The VM folders; default `new VmStore(storageRoot)`. */
  vms?: VmFiles;
  domainPrefix: string;
  logger: Logger;
}

/**
 * Reconciles the agent's view with libvirt once at start-up (see the module comment): finishes or fails the
 * actions left in the journal and removes the debris of failed creates.
 */
export class StartupReconciler {
  private readonly log: Logger;
  private readonly vms: VmFiles;

  constructor(
    private readonly domains: ReconcilerDomains,
    private readonly journal: ActionJournal,
    private readonly queue: StatusQueue,
    private readonly options: StartupReconcilerOptions,
  ) {
    this.log = options.logger;
    this.vms = options.vms ?? new VmStore(options.storageRoot);
  }

  /** Runs the three steps (see the module comment). @throws nothing: failures are logged and reported. */
  async run(): Promise<ReconcileReport> {
    const report: ReconcileReport = { domains: [], actions: [], removedFolders: [] };
    let all: DomainListEntry[];
    try {
      all = await this.domains.listAll();
    } catch (err) {
      report.error = `libvirt not readable: ${describeError(err)}`;
      this.log.error('start-up reconciliation skipped: libvirt not readable; half-done actions are left for the next start', { error: describeError(err) });
      return report;
    }
    for (const d of all) {
      if (!d.name.startsWith(this.options.domainPrefix)) continue;
      report.domains.push(await this.describe(d));
    }
    const byName = new Map(report.domains.map((d) => [d.name, d]));
    const ownedUuids = new Set(all.map((d) => d.uuid.toLowerCase()));

    let entries: JournalEntry[] = [];
    try {
      entries = await this.journal.list();
    } catch (err) {
      this.log.error('action journal not readable', { error: describeError(err) });
    }
    const kept = new Set<string>();
    for (const entry of entries) {
      const log = this.log.child({ actionId: entry.actionId, actionType: entry.type });
      let outcome: { status: ActionStatus; description: string };
      try {
        outcome = await this.finishEntry(entry, byName, ownedUuids, log);
      } catch (err) {
        log.error('half-done action not reconciled; left for the next start', { error: describeError(err) });
        if (entry.vmUuid) kept.add(entry.vmUuid);
        continue;
      }
      try {
        const xml = serialiseRspec(provisioningStatusResponse({ actionId: entry.actionId, status: outcome.status, description: outcome.description }), { dialect: 'agent' });
        await this.queue(entry.callbackUrl, xml, `action ${entry.actionId} ${outcome.status}`);
        await this.journal.remove(entry.actionId);
      } catch (err) {
        log.error('status of a half-done action not queued; left for the next start', { error: describeError(err) });
        if (entry.vmUuid) kept.add(entry.vmUuid);
        continue;
      }
      log.warn(`half-done action ended ${outcome.status} after an agent restart`, { description: outcome.description, vmUuid: entry.vmUuid });
      report.actions.push({ actionId: entry.actionId, type: entry.type, ...outcome });
    }

    report.removedFolders = await this.removeDebris(ownedUuids, kept);
    this.log.info('start-up reconciliation done', { domains: report.domains.length, actions: report.actions.length, removedFolders: report.removedFolders.length });
    return report;
  }

  private async describe(d: DomainListEntry): Promise<KnownDomain> {
    const known: KnownDomain = { name: d.name, uuid: d.uuid.toLowerCase(), state: d.state };
    try {
      const meta = parseDomainMetadata(await this.domains.dumpXml(d.name, { inactive: true }));
      if (meta) known.metadata = meta;
      else known.metadataError = 'no kvm-crm metadata';
    } catch (err) {
      known.metadataError = describeError(err);
    }
    return known;
  }

  private async finishEntry(entry: JournalEntry, byName: Map<string, KnownDomain>, ownedUuids: Set<string>, log: Logger): Promise<{ status: ActionStatus; description: string }> {
    const vmUuid = entry.vmUuid && UUID_PATTERN.test(entry.vmUuid) ? entry.vmUuid.toLowerCase() : undefined;
    if (!vmUuid) return { status: 'FAILED', description: `agent restarted during ${entry.type || 'the action'}` };
    const name = `${this.options.domainPrefix}${vmUuid}`;
    const domain = byName.get(name);
    const folder = this.vms.pathOf(vmUuid);

    if (entry.type === 'create') {
      if (domain?.metadata?.actionId === entry.actionId) {
        return { status: 'SUCCESS', description: 'the domain was defined; the agent restarted before reporting' };
      }
      if (domain && domain.metadata) {
        // Another action's domain (e.g. this create was refused as a duplicate): not ours to undo.
        return { status: 'FAILED', description: 'agent restarted during the create' };
      }
      if (domain) {
        log.warn('undoing a half-done create: removing a domain without readable metadata', { domain: name, why: domain.metadataError });
        // A destroy that fails (the guest stopped meanwhile) is not fatal: the undefine below decides.
        if (RUNNING_STATES.has(domain.state)) await this.domains.destroy(name).catch(() => undefined);
        await this.domains.undefine(name);
        byName.delete(name);
        ownedUuids.delete(domain.uuid);
      }
      if (!ownedUuids.has(vmUuid) && (await this.vms.exists(vmUuid))) {
        log.warn('undoing a half-done create: removing the VM folder', { folder });
        await this.vms.remove(vmUuid);
      }
      return { status: 'FAILED', description: 'agent restarted during the create; nothing of it was kept' };
    }

    const state = domain ? domain.state : await this.domains.domState(name);
    if (entry.type === 'delete' && state === undefined) {
      if (!ownedUuids.has(vmUuid)) await this.vms.remove(vmUuid);
      return { status: 'SUCCESS', description: 'the delete was finished after an agent restart' };
    }
    return { status: 'FAILED', description: `agent restarted during ${entry.type}; the VM's state is ${state ?? 'gone (no domain)'}` };
  }

  private async removeDebris(ownedUuids: Set<string>, kept: Set<string>): Promise<string[]> {
    const removed: string[] = [];
    let names: string[];
    try {
      names = await this.vms.list();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.error('VM folders not listable', { error: describeError(err) });
      return removed;
    }
    for (const name of names) {
      const key = name.toLowerCase();
      if (ownedUuids.has(key) || kept.has(key)) continue;
      if (!UUID_PATTERN.test(name)) {
        this.log.warn('unexpected entry in the VM folder left alone', { name });
        continue;
      }
      // Decision 025: a VM detached for a migration has no domain here until the manager re-attaches or releases it.
      if (await this.vms.isDetached?.(name)) {
        this.log.warn('kept the folder of a VM detached for its migration', { vm: name });
        continue;
      }
      const dir = this.vms.pathOf(name);
      try {
        await this.vms.remove(name);
        removed.push(dir);
        this.log.warn('removed the folder of a VM that no domain owns (debris of a failed create)', { folder: dir });
      } catch (err) {
        this.log.error('debris folder not removed', { folder: dir, error: describeError(err) });
      }
    }
    return removed;
  }
}
