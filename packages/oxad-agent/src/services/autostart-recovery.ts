/**
 * VMs that were running come back after a host reboot, agent side (decision record 021, completing 017).
 *
 * libvirtd starts the domains marked autostart once per host boot; it does not when only libvirtd restarts, when
 * its own autostart failed, or when the agent's host lost power in a way libvirtd did not see as a boot. So at its
 * start, after the start-up reconciliation (decision 010), the agent looks at each of ITS domains (name with its
 * prefix) that is shut off and still marked autostart, which is the "should run" mark: kvm-crm sets it on start
 * and clears it before every stop and hard stop, and the agent clears it when the guest powers itself off
 * (guest-poweroff-watcher.ts).
 *
 * | `virsh domstate --reason` of a shut-off, autostart domain | what the agent does |
 * |---|---|
 * | `shutdown`: the guest powered off (while the agent was down, so the watcher did not see it) | nothing; logged |
 * | `migrated`: the guest runs on another host now | nothing; logged |
 * | anything else: `unknown` (every inactive domain after a libvirtd restart or a host boot), `destroyed` (power cut, `virsh destroy`), `crashed`, `failed`, `saved`, … | `virsh start`, a log entry (warn), and a `Started` libvirt event for the manager |
 *
 * The `Started` event goes through the durable outbox to the events URL (docs/ocf-protocol.md §6.8, the same
 * document the event forwarder sends), so the manager sets the VM running even if the event stream had not yet
 * subscribed when the domain started; a second `Started` from the stream is applied idempotently by the manager.
 * Domains are started one after the other, each under the provisioning's lock of its VM (an action the manager
 * sends meanwhile, e.g. a stop, runs before or after it, never in between the check and the start); one failing to
 * start is logged and reported, the others go on.
 */
import { describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { libvirtEventResponse, serialiseRspec } from '@kvm-crm/shared/rspec';
import type { VmActionLock } from './guest-poweroff-watcher.js';
import type { AutostartDomains, StatusQueue } from './ports.js';

/** A domain of ours as the start-up reconciliation read it (a `KnownDomain`). */
export interface RecoveryCandidate {
  /** libvirt domain name (`<prefix><vm uuid>`). */
  name: string;
  /** libvirt UUID = VM uuid, lower case. */
  uuid: string;
  /** `virsh domstate` text at the reconciliation. */
  state: string;
  /** Our metadata, when readable: the VM's name for the event. */
  metadata?: { vmName?: string };
}

/** What happened to one domain that was shut off and marked autostart. */
export interface RecoveryOutcome {
  domain: string;
  vmUuid: string;
  /** libvirt's reason for the shut-off state (`unknown`, `destroyed`, `shutdown`, …). */
  reason: string;
  /** `started`; `left` (guest shut itself down, or migrated away); `failed` (`error` says why). */
  outcome: 'started' | 'left' | 'failed';
  error?: string;
  /** Milliseconds `virsh start` took (started only). */
  startMs?: number;
}

/** Reasons of a shut-off, autostart domain that the agent leaves shut off (see the module comment). */
export const LEAVE_SHUT_OFF_REASONS: ReadonlySet<string> = new Set(['shutdown', 'migrated']);

/** Options of {@link AutostartRecovery}. */
export interface AutostartRecoveryOptions {
  /** Only domains whose name starts with this are ours. */
  domainPrefix: string;
  /** The manager's `/xmlrpc/agent` URL for events; without it no event is queued (only logged). */
  eventsUrl?: string;
  logger: Logger;
  /** The provisioning's per-VM lock (`AgentProvisioningService`); absent in unit tests that do not need it. */
  lock?: VmActionLock;
}

/** Starts this agent's shut-off domains that are marked autostart (see the module comment). */
export class AutostartRecovery {
  private readonly log: Logger;

  constructor(
    private readonly domains: AutostartDomains,
    /** Queues a status document durably (the StatusOutbox); used for the `Started` events. */
    private readonly queue: StatusQueue,
    private readonly options: AutostartRecoveryOptions,
  ) {
    this.log = options.logger;
  }

  /**
   * Looks at every candidate of ours that was shut off at the reconciliation and starts those marked autostart
   * whose reason is not in {@link LEAVE_SHUT_OFF_REASONS}.
   * @returns one outcome per shut-off autostart domain (domains not marked autostart are not listed).
   * @throws nothing: every failure is logged and reported as `failed`.
   */
  async run(candidates: readonly RecoveryCandidate[]): Promise<RecoveryOutcome[]> {
    const outcomes: RecoveryOutcome[] = [];
    for (const d of candidates) {
      if (!d.name.startsWith(this.options.domainPrefix) || d.state !== 'shut off') continue;
      const outcome = this.options.lock ? await this.options.lock.exclusive(d.uuid, () => this.recover(d)) : await this.recover(d);
      if (outcome) outcomes.push(outcome);
    }
    if (outcomes.length) {
      this.log.info('autostart recovery done', {
        started: outcomes.filter((o) => o.outcome === 'started').length,
        left: outcomes.filter((o) => o.outcome === 'left').length,
        failed: outcomes.filter((o) => o.outcome === 'failed').length,
      });
    }
    return outcomes;
  }

  private async recover(d: RecoveryCandidate): Promise<RecoveryOutcome | undefined> {
    const log = this.log.child({ domain: d.name, vmUuid: d.uuid });
    let reason = '';
    try {
      if (!(await this.domains.autostart(d.name))) return undefined;
      const now = await this.domains.domStateReason(d.name);
      if (!now || now.state !== 'shut off') return undefined; // gone, or started by someone else meanwhile
      reason = now.reason;
      if (LEAVE_SHUT_OFF_REASONS.has(reason)) {
        log.info('domain marked autostart left shut off', { reason, why: reason === 'shutdown' ? 'the guest powered itself off' : 'the guest was migrated away' });
        return { domain: d.name, vmUuid: d.uuid, reason, outcome: 'left' };
      }
      const t0 = Date.now();
      await this.domains.start(d.name);
      const startMs = Date.now() - t0;
      log.warn('started a domain marked autostart that was shut off (host reboot, power loss or libvirtd restart)', { reason, startMs });
      await this.reportStarted(d, log);
      return { domain: d.name, vmUuid: d.uuid, reason, outcome: 'started', startMs };
    } catch (err) {
      log.error('domain marked autostart not started', { reason, error: describeError(err) });
      return { domain: d.name, vmUuid: d.uuid, reason, outcome: 'failed', error: describeError(err) };
    }
  }

  private async reportStarted(d: RecoveryCandidate, log: Logger): Promise<void> {
    if (!this.options.eventsUrl) return;
    try {
      const xml = serialiseRspec(libvirtEventResponse({ name: d.metadata?.vmName ?? d.name, uuid: d.uuid, status: 'Started' }), { dialect: 'agent' });
      await this.queue(this.options.eventsUrl, xml, `event Started ${d.uuid} (autostart recovery)`);
    } catch (err) {
      // The guest runs; the manager's periodic listActiveVMs sets it running without the event.
      log.error('Started event of a recovered domain not queued', { error: describeError(err) });
    }
  }
}
