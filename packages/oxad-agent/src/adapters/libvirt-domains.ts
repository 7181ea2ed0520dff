/**
 * Persistent libvirt domains through the agent's long-lived libvirt connection (decision 041): the calls of
 * provisioning, monitoring and recovery (state, define, start, stop, undefine, autostart, listing) go through
 * {@link LibvirtConnection}; the rare ones (memory and vCPU changes, device updates, XML dumps, node facts) still
 * run `virsh` ({@link Virsh}). Errors are those of {@link Virsh}: DomainNotFoundError, DomainStateError, and
 * VirshError (here a {@link LibvirtVirshError}) for every other failure.
 */
import { assertAbsolutePath } from './safe-path.js';
import { LibvirtCallError, VIR_ERR, type LibvirtConnection } from './libvirt-connection.js';
import { assertDomainName, DomainNotFoundError, DomainStateError, Virsh, VirshError, type DomainStateWithReason, type DomainSummary, type VirshOptions } from './virsh.js';
import type { DomainState } from '../services/ports.js';

/** A libvirt call through the connection failed for a reason other than a missing domain or a wrong state. */
export class LibvirtVirshError extends VirshError {}

/**
 * {@link Virsh} whose frequent calls go through a {@link LibvirtConnection}. Same methods, same errors, same
 * timeouts (`timeoutSeconds`; `startStopTimeoutSeconds` for start, destroy and autostart).
 */
export class LibvirtDomains extends Virsh {

  /**
   * @param connection the open connection (its `open()` was awaited by the caller).
   * @param options as for {@link Virsh} (`uri` should be the connection's).
   */
  constructor(
    private readonly connection: LibvirtConnection,
    options: VirshOptions = {},
  ) {
    super(options);
  }

  /** Defines (or redefines) a persistent domain from a domain XML file (`virDomainDefineXML`). */
  override async define(xmlFilePath: string): Promise<void> {
    await this.call('define', { path: assertAbsolutePath(xmlFilePath, 'domain XML path') });
  }

  /** Starts a defined, shut-off domain (`virDomainCreate`, timeout `startStopTimeoutSeconds`). */
  override async start(name: string): Promise<void> {
    await this.callOn('start', name, {}, this.startStopTimeoutSeconds);
  }

  /** Asks the guest to power off with the ACPI power button (`virDomainShutdownFlags`). Returns at once. */
  override async shutdown(name: string): Promise<void> {
    await this.callOn('shutdown', name);
  }

  /** Stops the domain at once (`virDomainDestroy`, timeout `startStopTimeoutSeconds`). The definition stays. */
  override async destroy(name: string): Promise<void> {
    await this.callOn('destroy', name, {}, this.startStopTimeoutSeconds);
  }

  /** Asks the guest to reboot with the ACPI power button (`virDomainReboot`). Returns at once. */
  override async reboot(name: string): Promise<void> {
    await this.callOn('reboot', name);
  }

  /**
   * Removes the definition with its NVRAM, managed-save image and snapshot/checkpoint metadata
   * (`virDomainUndefineFlags`, as `virsh undefine --nvram --managed-save --snapshots-metadata
   * --checkpoints-metadata`). Never removes disks, seeds or logs.
   */
  override async undefine(name: string): Promise<void> {
    await this.callOn('undefine', name);
  }

  /** Sets or clears the autostart mark (`virDomainSetAutostart`, timeout `startStopTimeoutSeconds`, decision 037). */
  override async setAutostart(name: string, enabled: boolean): Promise<void> {
    await this.callOn('set-autostart', name, { enabled }, this.startStopTimeoutSeconds);
  }

  /** True when the domain is marked autostart (`virDomainGetAutostart`). */
  override async autostart(name: string): Promise<boolean> {
    return (await this.callOn('get-autostart', name)) === true;
  }

  /** The domain's state in virsh's words (`running`, `shut off`…); undefined when there is no such domain. */
  override async domState(name: string): Promise<DomainState | undefined> {
    return (await this.domStateReason(name))?.state;
  }

  /** State and reason in virsh's words (`{state: 'shut off', reason: 'destroyed'}`); undefined when no such domain. */
  override async domStateReason(name: string): Promise<DomainStateWithReason | undefined> {
    try {
      return (await this.callOn('domstate', name)) as DomainStateWithReason;
    } catch (err) {
      if (err instanceof DomainNotFoundError) return undefined;
      throw err;
    }
  }

  /** Every domain, running or not, with its lower-case UUID and state (`virConnectGetAllDomainStats`, one call). */
  override async listAll(): Promise<DomainSummary[]> {
    const rows = (await this.call('list-all', {})) as Array<{ name: string; uuid: string; state: string }>;
    return rows.map((r) => ({ name: r.name, uuid: r.uuid.toLowerCase(), state: r.state }));
  }

  private async callOn(op: string, name: string, args: Record<string, string | boolean> = {}, timeoutSeconds = this.timeoutSeconds): Promise<unknown> {
    assertDomainName(name);
    try {
      return await this.call(op, { name, ...args }, timeoutSeconds);
    } catch (err) {
      if (err instanceof LibvirtVirshError && err.cause instanceof LibvirtCallError) {
        if (err.cause.code === VIR_ERR.NO_DOMAIN) throw new DomainNotFoundError(name, err.stderr);
        if (err.cause.code === VIR_ERR.OPERATION_INVALID) throw new DomainStateError(`${op} ${name}: ${err.stderr}`, name, err.stderr);
      }
      throw err;
    }
  }

  private async call(op: string, args: Record<string, string | boolean>, timeoutSeconds = this.timeoutSeconds): Promise<unknown> {
    const started = performance.now();
    try {
      const value = await this.connection.call(op, args, timeoutSeconds);
      this.onCommand?.('libvirt', op, (performance.now() - started) / 1000, false);
      return value;
    } catch (err) {
      this.onCommand?.('libvirt', op, (performance.now() - started) / 1000, true);
      if (!(err instanceof LibvirtCallError)) throw err;
      const shown = [op, ...Object.values(args).map(String)];
      throw new LibvirtVirshError(err.message, 'libvirt', shown, undefined, err.detail, err.timedOut, { cause: err });
    }
  }
}
