/**
 * Adapter for `virsh`: persistent libvirt domains (docs/architecture.md decision 5). Every call is
 * `virsh -q -c <uri> <command> --domain <name> …` with an argv array and a timeout.
 */
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared/errors';
import { CommandFailedError, type CommandErrorFactory, type CommandObserver, runCommand, oneLine } from './run-command.js';
import type { DomainControl, DomainState, DomainXmlReader, ReconcilerDomains } from '../services/ports.js';
import { assertAbsolutePath } from './safe-path.js';

/**
 * Names we accept for a domain argument: a libvirt domain name that starts with a letter (so virsh can never
 * read it as a numeric domain ID or an option), 1–64 characters of `[A-Za-z0-9._-]`, or a UUID (looked up as such).
 */
export const DOMAIN_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
const UUID_ARG = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Returns `uri` when it looks like a libvirt connection URI (`scheme://…`, no blanks); throws {@link InputError}. */
export function assertLibvirtUri(uri: string): string {
  if (!/^[a-z][a-z0-9+]*:\/\/[^\s]*$/.test(uri)) throw new InputError(`invalid libvirt URI: ${JSON.stringify(uri)}`);
  return uri;
}

/** Returns `name` when it is a valid domain argument (see {@link DOMAIN_NAME_PATTERN}); throws {@link InputError}. */
export function assertDomainName(name: string): string {
  if (typeof name !== 'string' || !(DOMAIN_NAME_PATTERN.test(name) || UUID_ARG.test(name))) {
    throw new InputError(`invalid domain name: ${JSON.stringify(String(name).slice(0, 80))}`);
  }
  return name;
}

/** One row of {@link Virsh.listAll}. */
export interface DomainSummary {
  /** libvirt domain name. */
  name: string;
  /** libvirt domain UUID (lower case). */
  uuid: string;
  /** Current state, as {@link Virsh.domState} would report it. */
  state: DomainState;
}

/** Options of {@link Virsh}. */
export interface VirshOptions {
  /** libvirt connection URI; default `qemu:///system`. */
  uri?: string;
  /** Program to run; default `virsh` (looked up in PATH). */
  binary?: string;
  /** Timeout of each call in seconds, except `start` and `destroy`; default 30. */
  timeoutSeconds?: number;
  /** Timeout of `start`, `destroy` and `autostart` in seconds (they wait for a QEMU process, or behind one); default 300. */
  startStopTimeoutSeconds?: number;
  /** Told of each call's duration by sub-command (metrics, decision record 028). */
  onCommand?: CommandObserver;
}

/** `virsh` failed for a reason other than a missing domain or a wrong state (connection, XML, qemu error…). */
export class VirshError extends CommandFailedError {}

/** The domain does not exist on this libvirt connection. */
export class DomainNotFoundError extends NotFoundError {
  constructor(
    /** The name or UUID that was looked up. */
    readonly domain: string,
    /** The virsh error output. */
    readonly stderr: string,
  ) {
    super(`libvirt domain ${domain} not found`);
  }
}

/** libvirt refused the operation in the domain's current state (e.g. `destroy` of a domain that is shut off). */
export class DomainStateError extends ConflictError {
  constructor(
    message: string,
    /** The domain name. */
    readonly domain: string,
    /** The virsh error output. */
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** True when a virsh error output means "no such domain". */
export function isDomainNotFound(stderr: string): boolean {
  return /failed to get domain|Domain not found|no domain with matching (name|uuid|id)/i.test(stderr);
}

/** True when a virsh error output means "not valid in the current state" (VIR_ERR_OPERATION_INVALID). */
export function isInvalidState(stderr: string): boolean {
  return /Requested operation is not valid|domain is not running|domain is already (running|active)|Domain is already active/i.test(stderr);
}

const makeVirshError: CommandErrorFactory = (m, f, a, c, s, t, cause) => new VirshError(m, f, a, c, s, t, { cause });

/**
 * Persistent libvirt domains through `virsh`. Methods taking a domain name throw {@link DomainNotFoundError}
 * when it does not exist, {@link DomainStateError} when libvirt refuses the operation in the current state,
 * {@link VirshError} for every other failure (including timeouts) and {@link InputError} for a bad argument.
 * Nothing here ever removes storage.
 */
export class Virsh implements DomainControl, ReconcilerDomains, DomainXmlReader {
  /** The libvirt connection URI used for every call. */
  readonly uri: string;
  private readonly binary: string;
  /** Timeout of each call, seconds (subclasses use the same). */
  protected readonly timeoutSeconds: number;
  /** Timeout of start, destroy and autostart, seconds. */
  protected readonly startStopTimeoutSeconds: number;
  /** Told of each call's duration. */
  protected readonly onCommand: CommandObserver | undefined;

  /** @param options see {@link VirshOptions}. */
  constructor(options: VirshOptions = {}) {
    this.uri = options.uri ?? 'qemu:///system';
    assertLibvirtUri(this.uri);
    this.binary = options.binary ?? 'virsh';
    this.timeoutSeconds = options.timeoutSeconds ?? 30;
    this.startStopTimeoutSeconds = options.startStopTimeoutSeconds ?? 300;
    this.onCommand = options.onCommand;
  }

  /** `virsh version`: resolves with the raw text when libvirtd answers. @throws VirshError otherwise. */
  async version(): Promise<string> {
    return (await this.run(['version'])).stdout;
  }

  /**
   * Defines (or redefines) a persistent domain from a domain XML file: `virsh define --file <path>`.
   * @param xmlFilePath absolute path of the XML file.
   * @throws InputError for a bad path; VirshError when libvirt rejects the XML.
   */
  async define(xmlFilePath: string): Promise<void> {
    await this.run(['define', '--file', assertAbsolutePath(xmlFilePath, 'domain XML path')]);
  }

  /**
   * Changes a device of a running domain from a device XML file: `virsh update-device --domain <name> --file <path>
   * --live [--force]` (for a CD-ROM: a new medium, or none to eject; `--force` ejects even a tray the guest locked).
   * @throws InputError for a bad name or path; DomainNotFoundError; DomainStateError (not running); VirshError.
   */
  async updateDeviceLive(name: string, xmlFilePath: string, options: { force?: boolean } = {}): Promise<void> {
    await this.runOn(name, ['update-device', '--domain', name, '--file', assertAbsolutePath(xmlFilePath, 'device XML path'), '--live', ...(options.force ? ['--force'] : [])]);
  }

  /**
   * Starts a defined, shut-off domain: `virsh start` (timeout `startStopTimeoutSeconds`). A timeout kills virsh,
   * not libvirtd's start: the domain may still come up, so callers check its state after a VirshError.
   */
  async start(name: string): Promise<void> {
    await this.runOn(name, ['start', '--domain', name], this.startStopTimeoutSeconds);
  }

  /** Asks the guest to power off (ACPI power button): `virsh shutdown --mode acpi`. Returns at once. */
  async shutdown(name: string): Promise<void> {
    await this.runOn(name, ['shutdown', '--domain', name, '--mode', 'acpi']);
  }

  /** Stops the domain at once (power cut): `virsh destroy` (timeout `startStopTimeoutSeconds`). The definition stays. */
  async destroy(name: string): Promise<void> {
    await this.runOn(name, ['destroy', '--domain', name], this.startStopTimeoutSeconds);
  }

  /** Asks the guest to reboot (ACPI): `virsh reboot --mode acpi`. Returns at once. */
  async reboot(name: string): Promise<void> {
    await this.runOn(name, ['reboot', '--domain', name, '--mode', 'acpi']);
  }

  /**
   * Removes the domain definition (after {@link destroy} if it runs), with its NVRAM, managed-save image and
   * snapshot/checkpoint metadata: `virsh undefine --nvram --managed-save --snapshots-metadata
   * --checkpoints-metadata`. Never removes disks, seeds or logs.
   */
  async undefine(name: string): Promise<void> {
    await this.runOn(name, [
      'undefine',
      '--domain',
      name,
      '--nvram',
      '--managed-save',
      '--snapshots-metadata',
      '--checkpoints-metadata',
    ]);
  }

  /**
   * Sets the memory of the domain's persistent definition (next start): `virsh setmaxmem --config` then
   * `virsh setmem --config`, both in KiB. @throws InputError for a size outside 16 MiB–1 TiB.
   */
  async setConfigMemory(name: string, memoryMiB: number): Promise<void> {
    const kib = String(assertIntInRange(memoryMiB, 16, 1024 * 1024, 'memory (MiB)') * 1024);
    await this.runOn(name, ['setmaxmem', '--domain', name, '--size', kib, '--config']);
    await this.runOn(name, ['setmem', '--domain', name, '--size', kib, '--config']);
  }

  /**
   * Changes the running guest's memory through the balloon (`virsh setmem --live`, KiB); only up to the
   * maximum the guest was started with. @throws DomainStateError when libvirt refuses (e.g. above the maximum).
   */
  async setLiveMemory(name: string, memoryMiB: number): Promise<void> {
    const kib = String(assertIntInRange(memoryMiB, 16, 1024 * 1024, 'memory (MiB)') * 1024);
    await this.runOn(name, ['setmem', '--domain', name, '--size', kib, '--live']);
  }

  /** Sets the vCPUs of the persistent definition (next start): `setvcpus --config --maximum` then `--config`. */
  async setConfigVcpus(name: string, vcpus: number): Promise<void> {
    const n = String(assertIntInRange(vcpus, 1, 255, 'vCPUs'));
    await this.runOn(name, ['setvcpus', '--domain', name, '--count', n, '--config', '--maximum']);
    await this.runOn(name, ['setvcpus', '--domain', name, '--count', n, '--config']);
  }

  /**
   * Sets only the boot memory of the persistent definition (`<currentMemory>`, next start): `virsh setmem
   * --config`, KiB. The maximum (`<memory>`) stays; libvirt refuses a size above it.
   */
  async setConfigCurrentMemory(name: string, memoryMiB: number): Promise<void> {
    const kib = String(assertIntInRange(memoryMiB, 16, 1024 * 1024, 'memory (MiB)') * 1024);
    await this.runOn(name, ['setmem', '--domain', name, '--size', kib, '--config']);
  }

  /**
   * The persistent definition's memory in MiB: `maxMiB` (`<memory>`, the ceiling) and `currentMiB`
   * (`<currentMemory>`, the boot size), from `virsh dumpxml --inactive`.
   */
  async configMemory(name: string): Promise<{ maxMiB: number; currentMiB: number }> {
    const xml = await this.dumpXml(name, { inactive: true });
    const kib = (tag: string): number => {
      const m = new RegExp(`<${tag}(?: unit=['"]KiB['"])?>(\\d+)</${tag}>`).exec(xml);
      if (!m) throw new VirshError(`virsh dumpxml ${name}: no <${tag}> in KiB`, 'virsh', ['dumpxml', name], 0, '', false);
      return Number(m[1]);
    };
    return { maxMiB: Math.floor(kib('memory') / 1024), currentMiB: Math.floor(kib('currentMemory') / 1024) };
  }

  /**
   * Marks the domain to be started when libvirtd starts (host boot) or clears the mark: `virsh autostart
   * [--disable]` (decision 017). Persistent domains only. Timeout `startStopTimeoutSeconds`: libvirtd answers it
   * only once a start or destroy of the domain in progress let go of the domain (seen waiting > 30 s, decision 037).
   */
  async setAutostart(name: string, enabled: boolean): Promise<void> {
    await this.runOn(name, ['autostart', '--domain', name, ...(enabled ? [] : ['--disable'])], this.startStopTimeoutSeconds);
  }

  /** True when the domain is marked autostart (`virsh dominfo`, "Autostart: enable"). */
  async autostart(name: string): Promise<boolean> {
    const out = (await this.runOn(name, ['dominfo', '--domain', name])).stdout;
    const m = /^Autostart:\s+(\S+)/m.exec(out);
    if (!m) throw new VirshError(`virsh dominfo ${name}: no "Autostart" in the output`, 'virsh', ['dominfo', name], 0, '', false);
    return m[1] === 'enable';
  }

  /** `virsh nodeinfo`: the host's CPU topology, frequency and memory, as text (see `parseNodeInfo`). */
  async nodeInfo(): Promise<string> {
    return (await this.run(['nodeinfo'])).stdout;
  }

  /** The running guest's maximum memory in MiB (`virsh dominfo`, "Max memory"). */
  async maxMemoryMiB(name: string): Promise<number> {
    const out = (await this.runOn(name, ['dominfo', '--domain', name])).stdout;
    const m = /^Max memory:\s+(\d+) KiB/m.exec(out);
    if (!m) throw new VirshError(`virsh dominfo ${name}: no "Max memory" in the output`, 'virsh', ['dominfo', name], 0, '', false);
    return Math.floor(Number(m[1]) / 1024);
  }

  /**
   * The domain's state (`virsh domstate`), e.g. `'running'`, `'shut off'`, `'paused'`; undefined when no such
   * domain exists. @throws VirshError for any other failure.
   */
  async domState(name: string): Promise<DomainState | undefined> {
    try {
      return (await this.runOn(name, ['domstate', '--domain', name])).stdout.trim();
    } catch (err) {
      if (err instanceof DomainNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * The domain's state and the reason libvirt gives for it (`virsh domstate --reason`, printed as
   * `shut off (destroyed)`): e.g. `{state: 'shut off', reason: 'shutdown'}`; undefined when no such domain exists.
   * Reasons seen with libvirt 9.0 for a shut-off domain (decision record 021): `shutdown` after the guest powered
   * off (also through an ACPI `virsh shutdown`), `destroyed` after `virsh destroy`, `unknown` for every inactive
   * domain after a libvirtd restart. `reason` is `''` when virsh prints none.
   * @throws VirshError for any failure other than a missing domain.
   */
  async domStateReason(name: string): Promise<DomainStateWithReason | undefined> {
    try {
      return parseDomStateReason((await this.runOn(name, ['domstate', '--domain', name, '--reason'])).stdout);
    } catch (err) {
      if (err instanceof DomainNotFoundError) return undefined;
      throw err;
    }
  }

  /** True when a domain with this name (or UUID) is defined or running. */
  async exists(name: string): Promise<boolean> {
    return (await this.domState(name)) !== undefined;
  }

  /**
   * Every domain on the connection, running or not, with UUID and state, in two calls:
   * `virsh list --all --uuid --name` and `virsh domstats --state`. A domain that appears in between is looked up
   * with {@link domState}; one that vanishes in between is skipped.
   */
  async listAll(): Promise<DomainSummary[]> {
    const listed = parseUuidNameList((await this.run(['list', '--all', '--uuid', '--name'])).stdout);
    const states = parseDomStatsStates((await this.run(['domstats', '--state'])).stdout);
    const rows: DomainSummary[] = [];
    for (const { uuid, name } of listed) {
      let state: DomainState | undefined = states.get(name);
      if (state === undefined && DOMAIN_NAME_PATTERN.test(name)) state = await this.domState(name);
      if (state === undefined) state = await this.domState(uuid);
      if (state !== undefined) rows.push({ name, uuid, state });
    }
    return rows;
  }

  /**
   * The domain XML (`virsh dumpxml`): the live definition when it runs, else the persistent one; with
   * `inactive: true` always the persistent one.
   */
  async dumpXml(name: string, options: { inactive?: boolean } = {}): Promise<string> {
    const args = ['dumpxml', '--domain', name];
    if (options.inactive) args.push('--inactive');
    return (await this.runOn(name, args)).stdout;
  }

  /** Runs a virsh command about domain `name`, mapping "not found" and "invalid state" to typed errors. */
  private async runOn(name: string, args: string[], timeoutSeconds = this.timeoutSeconds): Promise<{ stdout: string }> {
    assertDomainName(name);
    try {
      return await this.run(args, timeoutSeconds);
    } catch (err) {
      if (err instanceof VirshError && !err.timedOut) {
        if (isDomainNotFound(err.stderr)) throw new DomainNotFoundError(name, err.stderr);
        if (isInvalidState(err.stderr)) {
          throw new DomainStateError(`${args[0]} ${name}: ${oneLine(err.stderr.replace(/^error:\s*/gim, ''))}`, name, err.stderr);
        }
      }
      throw err;
    }
  }

  /** Runs `virsh -q -c <uri> <args…>`, killed after `timeoutSeconds`. */
  private run(args: string[], timeoutSeconds = this.timeoutSeconds): Promise<{ stdout: string }> {
    const on = this.onCommand;
    const observe = on ? (seconds: number, failed: boolean) => on('virsh', args[0] ?? '', seconds, failed) : undefined;
    return runCommand(this.binary, ['-q', '-c', this.uri, ...args], { timeoutSeconds, ...(observe ? { observe } : {}) }, makeVirshError);
  }
}

/** libvirt's `virDomainState` codes, as `virsh domstats --state` prints them, and the text `domstate` prints. */
const STATE_BY_CODE: Record<string, DomainState> = {
  '0': 'no state',
  '1': 'running',
  '2': 'blocked',
  '3': 'paused',
  '4': 'in shutdown',
  '5': 'shut off',
  '6': 'crashed',
  '7': 'pmsuspended',
};

/** A domain state with libvirt's reason for it (see {@link Virsh.domStateReason}). */
export interface DomainStateWithReason {
  state: DomainState;
  /** libvirt's reason as virsh prints it (`shutdown`, `destroyed`, `unknown`, `booted`, …); `''` when none. */
  reason: string;
}

/** Parses `virsh domstate --reason` output (`shut off (destroyed)`; `running` without a reason). @throws nothing. */
export function parseDomStateReason(stdout: string): DomainStateWithReason {
  const text = stdout.trim();
  const m = /^(.*?)\s*\(([^()]*)\)$/.exec(text);
  return m ? { state: m[1]!, reason: m[2]! } : { state: text, reason: '' };
}

/** Parses `virsh list --uuid --name` output (`<uuid> <name>` per line) into rows with a lower-case UUID. */
export function parseUuidNameList(stdout: string): Array<{ uuid: string; name: string }> {
  const rows: Array<{ uuid: string; name: string }> = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*([0-9a-fA-F-]{36})\s+(.+?)\s*$/.exec(line);
    if (m && UUID_ARG.test(m[1]!)) rows.push({ uuid: m[1]!.toLowerCase(), name: m[2]! });
  }
  return rows;
}

/** Parses `virsh domstats --state` output into a map domain name → state text. */
export function parseDomStatsStates(stdout: string): Map<string, DomainState> {
  const states = new Map<string, DomainState>();
  let current: string | undefined;
  for (const line of stdout.split('\n')) {
    const dom = /^Domain: '(.*)'\s*$/.exec(line);
    if (dom) {
      current = dom[1];
      continue;
    }
    const st = /^\s+state\.state=(\d+)\s*$/.exec(line);
    if (st && current !== undefined) states.set(current, STATE_BY_CODE[st[1]!] ?? `state ${st[1]}`);
  }
  return states;
}

/** `n` when it is an integer in [min, max]. @throws InputError otherwise. */
function assertIntInRange(n: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(`${what} must be an integer from ${min} to ${max}`);
  return n;
}
