/**
 * Forwards libvirt lifecycle events of this agent's domains to the manager (docs/ocf-protocol.md §5.2, §6.8, §7.3,
 * example §8.9): `sendAsync` of `<action type="listActiveVMs" id="callback">`, status SUCCESS, one VM with name,
 * uuid and the OCF status of the event (domain/lifecycle-status.ts), in the agent dialect, to the configured
 * events URL (the manager's `/xmlrpc/agent`, with credentials).
 *
 * - Only domains whose name starts with our prefix are forwarded; events that map to no status are dropped.
 * - Events of one domain are handed on one at a time, in the order libvirt emitted them; different domains do not
 *   wait for each other. The reporter given by the agent is the durable StatusOutbox (services/status-outbox.ts):
 *   `report` resolves once the event is queued on disk, and the outbox retries its delivery until the manager
 *   accepts it, in order per URL.
 * - {@link EventForwarder.handle} never blocks: the stream and the provisioning never wait for a delivery. The VM's
 *   identity is looked up as soon as the event arrives (so a domain undefined right after is still named).
 * - At most `maxPending` events wait at once (manager down for long); beyond that new events are dropped and
 *   logged: the manager's periodic `listActiveVMs` corrects the states they would have carried.
 */
import { describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { libvirtEventResponse, serialiseRspec, type LibvirtEventVmStatus } from '@kvm-crm/shared/rspec';
import type { LifecycleEvent } from '../adapters/libvirt-event-stream.js';
import { ocfStatusForLifecycleEvent } from '../domain/lifecycle-status.js';
import { KeyedMutex } from './concurrency.js';
import type { StatusReporter } from './ports.js';
import type { VmIdentity } from './vm-identity.js';

/** Names domains as VMs (implemented by `VmIdentityResolver`). */
export interface EventVmIdentities {
  /** The VM behind an existing domain (`refresh` re-reads it); undefined when the domain does not exist. */
  resolve(domainName: string, opts?: { refresh?: boolean }): Promise<VmIdentity | undefined>;
  /** The VM behind a domain that was just undefined; forgets it. Never throws. */
  release(domainName: string): Promise<VmIdentity | undefined>;
  /** The identity implied by a domain name `<prefix><vm uuid>`, if it is one. */
  identityFromName(domainName: string): VmIdentity | undefined;
}

/** Options of {@link EventForwarder}. */
export interface EventForwarderOptions {
  /** Where events go: the manager's `/xmlrpc/agent` URL, with credentials (§5.2). */
  eventsUrl: string;
  /** Only domains whose name starts with this are forwarded. */
  domainPrefix: string;
  logger: Logger;
  /** Most events waiting for delivery at once; more are dropped. Default 1000. */
  maxPending?: number;
}

/** Filters, maps and forwards libvirt lifecycle events to the manager (see the module comment). */
export class EventForwarder {
  private readonly queues = new KeyedMutex();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: Logger;
  private readonly maxPending: number;
  private closed = false;
  private dropped = 0;

  constructor(
    private readonly identities: EventVmIdentities,
    private readonly reporter: StatusReporter,
    private readonly options: EventForwarderOptions,
  ) {
    this.log = options.logger;
    this.maxPending = options.maxPending ?? 1000;
  }

  /** Events accepted and not yet delivered (or given up). */
  get pending(): number {
    return this.inFlight.size;
  }

  /**
   * Takes one event from the stream: filters it, maps it and queues its delivery behind the earlier events of the
   * same domain. Returns at once.
   * @throws nothing.
   */
  handle(event: LifecycleEvent): void {
    if (this.closed || !event.domain.startsWith(this.options.domainPrefix)) return;
    const status = ocfStatusForLifecycleEvent(event.event, event.detail);
    const log = this.log.child({ domain: event.domain, event: event.event, detail: event.detail });
    if (status === undefined) {
      log.debug('libvirt event not forwarded');
      return;
    }
    if (this.inFlight.size >= this.maxPending) {
      this.dropped++;
      log.warn('libvirt event dropped: too many events waiting for delivery', { pending: this.inFlight.size, dropped: this.dropped });
      return;
    }
    const identity = this.identify(event).catch((err: unknown) => {
      log.warn('VM of the domain not readable, naming it by the domain name', { error: describeError(err) });
      return this.identities.identityFromName(event.domain);
    });
    const run = this.queues.run(event.domain, () => this.deliver(event, status, identity, log));
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  /** Resolves when every accepted event has been delivered or given up (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Stops accepting events, drops those still queued (the one being delivered finishes) and resolves when nothing
   * is in flight any more (agent stop).
   * @throws nothing.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  private identify(event: LifecycleEvent): Promise<VmIdentity | undefined> {
    if (event.event === 'Undefined') return this.identities.release(event.domain);
    return this.identities.resolve(event.domain, { refresh: event.event === 'Defined' }).then((found) => found ?? this.identities.identityFromName(event.domain));
  }

  private async deliver(event: LifecycleEvent, status: LibvirtEventVmStatus, identityPromise: Promise<VmIdentity | undefined>, log: Logger): Promise<void> {
    const identity = await identityPromise;
    if (this.closed) {
      log.warn('libvirt event dropped: agent stopping', { status });
      return;
    }
    if (!identity) {
      log.warn('libvirt event dropped: the VM of the domain is unknown', { status });
      return;
    }
    let xml: string;
    try {
      xml = serialiseRspec(libvirtEventResponse({ name: identity.name, uuid: identity.uuid, status }), { dialect: 'agent' });
    } catch (err) {
      log.error('libvirt event not serialisable', { error: describeError(err) });
      return;
    }
    const delivered = await this.reporter.report(this.options.eventsUrl, xml, 'event');
    if (delivered) log.info('libvirt event forwarded', { vmUuid: identity.uuid, status, at: event.timestamp });
    else log.error('libvirt event not delivered', { vmUuid: identity.uuid, status });
  }
}
