/**
 * The agent's monitoring: answers the manager's `listActiveVMs` query (docs/ocf-protocol.md §4.2, §6.8, §7.3, example
 * §8.7–§8.8). For each action of `query/monitoring`, in order: `ONGOING`, then `SUCCESS` with one
 * `<virtual-machines><name/><uuid/></virtual-machines>` per running domain of this agent, or `FAILED` with the
 * reason. All messages go to the query's callback URL, in the agent dialect.
 *
 * Unlike the original agent (docs/ocf-behaviour.md A7): only domains named with our prefix are listed (not every
 * domain on the host), and they are named by VM name and VM uuid from our domain metadata; an action with a
 * missing or unknown type gets `FAILED` instead of an exception in a thread.
 */
import { describeError, InputError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import {
  LIST_ACTIVE_VMS,
  monitoringResponse,
  serialiseRspec,
  type Action,
  type MonitoredVm,
  type MonitoringResponseInput,
} from '@kvm-crm/shared/rspec';
import { ACTION_ID_PATTERN, assertPattern } from '@kvm-crm/shared/validation';
import type { DomainInventory, StatusReporter } from './ports.js';
import type { VmIdentity } from './vm-identity.js';

/** The FAILED text for a server virtualization type other than kvm or xen (§6.8 item 3, verbatim). */
export const UNSUPPORTED_VIRTUALIZATION_TYPE = 'Virtualization type not supported by the agent';

/**
 * Server virtualization types the agent answers for. `xen` is accepted as the original agent does (§6.8): the
 * manager sends the server's virtTech, and KVM servers registered as xen exist (§9 item 14).
 */
export const MONITORING_VIRTUALIZATION_TYPES: readonly string[] = ['kvm', 'xen'];

/** Names domains as VMs (implemented by `VmIdentityResolver`). */
export interface VmIdentityLookup {
  /** The VM behind a domain; undefined when the domain no longer exists. Throws when libvirt fails. */
  resolve(domainName: string, opts?: { libvirtUuid?: string }): Promise<VmIdentity | undefined>;
}

/** Options of {@link MonitoringService}. */
export interface MonitoringServiceOptions {
  /** Only domains whose name starts with this are reported (`<prefix><vm uuid>`). */
  domainPrefix: string;
  logger: Logger;
}

/** Answers `listActiveVMs` monitoring queries with this agent's running domains (see the module comment). */
export class MonitoringService {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: Logger;

  constructor(
    private readonly domains: DomainInventory,
    private readonly identities: VmIdentityLookup,
    private readonly reporter: StatusReporter,
    private readonly options: MonitoringServiceOptions,
  ) {
    this.log = options.logger;
  }

  /**
   * Accepts the monitoring actions of a query and answers them in the background, one after the other, on
   * `callbackUrl` (§4.2: `send` returns before any work).
   * @throws InputError when an action has no valid id (its status could not be routed); nothing is started then.
   */
  submit(callbackUrl: string, actions: readonly Action[]): void {
    for (const a of actions) assertPattern(a.id, ACTION_ID_PATTERN, 'action id');
    const run = (async () => {
      for (const action of actions) await this.execute(callbackUrl, action);
    })();
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  /** Resolves when every accepted action has been answered (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * The VMs of this agent whose domain is `running` (paused, crashed, in-shutdown and shut-off domains are not:
   * the manager marks every VM missing from the list `stopped`, §5.4), named by {@link VmIdentityLookup}; a domain
   * that vanishes meanwhile is skipped. In libvirt's listing order.
   * @throws when libvirt cannot be listed or a domain's XML cannot be read.
   */
  async listActiveVms(): Promise<MonitoredVm[]> {
    const vms: MonitoredVm[] = [];
    for (const d of await this.domains.listAll()) {
      if (d.state !== 'running' || !d.name.startsWith(this.options.domainPrefix)) continue;
      let identity: VmIdentity | undefined;
      try {
        identity = await this.identities.resolve(d.name, { libvirtUuid: d.uuid });
      } catch (err) {
        // A name virsh cannot be given safely (InputError): still ours by prefix, named by the domain.
        if (!(err instanceof InputError)) throw err;
        this.log.warn('domain XML not readable, naming the VM by its domain', { domain: d.name, error: describeError(err) });
        identity = { name: d.name, uuid: d.uuid.toLowerCase() };
      }
      if (identity) vms.push({ name: identity.name, uuid: identity.uuid });
    }
    return vms;
  }

  private async execute(callbackUrl: string, action: Action): Promise<void> {
    const actionId = action.id!;
    const log = this.log.child({ actionId, actionType: action.type });
    const virtualizationType = action.server?.virtualizationType;
    if (virtualizationType === undefined || !MONITORING_VIRTUALIZATION_TYPES.includes(virtualizationType)) {
      log.warn('monitoring refused', { virtualizationType });
      await this.send(callbackUrl, { status: 'FAILED', actionId, description: UNSUPPORTED_VIRTUALIZATION_TYPE });
      return;
    }
    if (action.type !== LIST_ACTIVE_VMS) {
      log.warn('unknown monitoring action type');
      await this.send(callbackUrl, { status: 'FAILED', actionId, description: `Unknown monitoring action type ${JSON.stringify(action.type ?? '')}` });
      return;
    }
    if (!(await this.send(callbackUrl, { status: 'ONGOING', actionId }))) {
      log.error('manager unreachable: monitoring not executed');
      return;
    }
    const started = Date.now();
    let vms: MonitoredVm[];
    try {
      vms = await this.listActiveVms();
    } catch (err) {
      const description = describeError(err);
      log.warn('listActiveVMs FAILED', { ms: Date.now() - started, description });
      await this.send(callbackUrl, { status: 'FAILED', actionId, description });
      return;
    }
    log.debug('listActiveVMs SUCCESS', { ms: Date.now() - started, vms: vms.length });
    await this.send(callbackUrl, { status: 'SUCCESS', actionId, vms });
  }

  private async send(callbackUrl: string, input: MonitoringResponseInput): Promise<boolean> {
    let xml: string;
    try {
      // ASCII only on the wire (docs/ocf-protocol.md §6.1 rule 9): never lose a status over a character.
      if (input.status === 'FAILED') input = { ...input, description: input.description.replace(/[^\x20-\x7e\n\t]/g, '?').slice(0, 2000) };
      xml = serialiseRspec(monitoringResponse(input), { dialect: 'agent' });
    } catch (err) {
      // A VM name or uuid that cannot go on the wire: report the failure instead of a broken list.
      this.log.error('monitoring response not serialisable', { actionId: input.actionId, error: describeError(err) });
      if (input.status !== 'SUCCESS') return false;
      return this.send(callbackUrl, { status: 'FAILED', actionId: input.actionId, description: `cannot serialise the VM list: ${describeError(err)}` });
    }
    return this.reporter.report(callbackUrl, xml);
  }
}
