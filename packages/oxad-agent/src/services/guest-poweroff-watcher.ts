/**
 * A guest that powers itself off stays off after a host reboot (decision record 021, closing the known gap of 017).
 *
 * kvm-crm's `stop` and `hardStop` clear the domain's autostart mark before they stop it; a guest that runs
 * `poweroff` inside (or honours an ACPI power button pressed outside kvm-crm) is shut off by libvirt
 * (`<on_poweroff>destroy</on_poweroff>`) and used to keep the mark, so libvirtd would start it at the next host
 * boot against its user's wish. This watcher takes the libvirt lifecycle events of the agent's event stream and,
 * for a domain of ours that stopped with detail `Shutdown` (libvirt 9.0 prints `Stopped Shutdown` after a guest
 * power-off; a `virsh destroy` gives `Stopped Destroyed`), clears the mark (`virsh autostart --disable`) and logs it.
 *
 * Telling the guest's power-off from kvm-crm's own stop: both end in `Stopped Shutdown` (an ACPI shutdown is
 * carried out by the guest, libvirt reports both as "Finished after guest request"), but kvm-crm's stop has
 * already cleared the mark, so a domain still marked when it stops was not stopped through kvm-crm. The check runs
 * under the provisioning's per-VM lock and re-reads the domain first: a `start` that ran after the power-off (the
 * domain runs again, or is no longer shut off for reason `shutdown`) keeps its mark.
 *
 * Events of one domain are handled one at a time; `handle` never blocks the event stream and never throws.
 */
import { describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { UUID_PATTERN } from '@kvm-crm/shared/validation';
import type { LifecycleEvent } from '../adapters/libvirt-event-stream.js';
import { KeyedMutex } from './concurrency.js';
import type { AutostartDomains } from './ports.js';

/** Runs a task under the provisioning's lock of one VM (implemented by `AgentProvisioningService.exclusive`). */
export interface VmActionLock {
  exclusive<T>(vmUuid: string, task: () => Promise<T>): Promise<T>;
}

/** Options of {@link GuestPoweroffWatcher}. */
export interface GuestPoweroffWatcherOptions {
  /** Only domains whose name is `<prefix><vm uuid>` are ours. */
  domainPrefix: string;
  logger: Logger;
}

/** What the watcher did about one `Stopped Shutdown` event (tests, logs). */
export type PoweroffOutcome = 'cleared' | 'not-marked' | 'not-shut-off' | 'failed';

/** Clears the autostart mark of our domains whose guest powered itself off (see the module comment). */
export class GuestPoweroffWatcher {
  private readonly queues = new KeyedMutex();
  private readonly inFlight = new Set<Promise<PoweroffOutcome>>();
  private readonly log: Logger;

  constructor(
    private readonly domains: Pick<AutostartDomains, 'domStateReason' | 'autostart' | 'setAutostart'>,
    private readonly lock: VmActionLock,
    private readonly options: GuestPoweroffWatcherOptions,
  ) {
    this.log = options.logger;
  }

  /**
   * Takes one lifecycle event; for `Stopped Shutdown` of a domain of ours, queues the check (see the module
   * comment) and returns its promise (tests); undefined for every other event.
   * @throws nothing; the promise never rejects.
   */
  handle(event: LifecycleEvent): Promise<PoweroffOutcome> | undefined {
    if (event.event !== 'Stopped' || event.detail !== 'Shutdown') return undefined;
    if (!event.domain.startsWith(this.options.domainPrefix)) return undefined;
    const vmUuid = event.domain.slice(this.options.domainPrefix.length).toLowerCase();
    if (!UUID_PATTERN.test(vmUuid)) return undefined;
    const run = this.queues.run(event.domain, () => this.lock.exclusive(vmUuid, () => this.check(event.domain, vmUuid))).catch((err: unknown) => {
      this.log.error('autostart mark after a guest power-off not checked', { domain: event.domain, error: describeError(err) });
      return 'failed' as const;
    });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  /** Resolves when every queued check has finished (tests, agent stop). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private async check(domain: string, vmUuid: string): Promise<PoweroffOutcome> {
    const now = await this.domains.domStateReason(domain);
    if (!now || now.state !== 'shut off' || now.reason !== 'shutdown') return 'not-shut-off';
    if (!(await this.domains.autostart(domain))) return 'not-marked'; // stopped through kvm-crm: already cleared
    await this.domains.setAutostart(domain, false);
    this.log.warn('the guest powered itself off: autostart mark cleared, the VM will not come back after a host reboot', { domain, vmUuid });
    return 'cleared';
  }
}
