/**
 * The OCF VT-AM rspec document model (docs/ocf-protocol.md §6.2).
 *
 * Conventions, chosen so that parse → serialise reproduces what the original generateDS bindings emit:
 * - An optional field that is `undefined` is absent on the wire. Empty elements (`<x></x>`, `<x/>`) parse as
 *   `undefined` (§6.1 rule 6), so they disappear on re-serialisation, exactly like the original.
 * - Text is kept verbatim (no trimming, §6.1 rule 10). `NONE` placeholders are kept as the string `"NONE"`;
 *   use {@link isPlaceholder} before treating a field as a value (§9 item 4).
 * - Containers that can be present-but-empty (`<interfaces/>`, `<resources/>`) are arrays; `undefined` means
 *   absent, `[]` means an empty container.
 */

/** The rspec XML namespace (docs/ocf-protocol.md §6.1). Agents emit it as the default namespace; the manager does not. */
export const RSPEC_NAMESPACE = 'http://www.fp7-ofelia.eu/CF/vt_am/rspec';

/** Provisioning action types (docs/ocf-protocol.md §6.3). */
export const PROVISIONING_ACTION_TYPES = ['create', 'start', 'stop', 'hardStop', 'reboot', 'delete', 'modify'] as const;
export type ProvisioningActionType = (typeof PROVISIONING_ACTION_TYPES)[number];

/** Action status values used on the wire (docs/ocf-protocol.md §6.3). */
export type ActionStatus = 'ONGOING' | 'SUCCESS' | 'FAILED';

/** Root document: exactly one of `query` or `response` in practice. */
export interface Rspec {
  query?: Query;
  response?: Response;
}

export interface Query {
  provisioning?: ActionList;
  monitoring?: ActionList;
  /** A plain string element in the original binding; never used (§6.2). */
  information?: string;
}

export interface Response {
  provisioning?: ActionList;
  monitoring?: ActionList;
  information?: InformationResponse;
}

/** `<provisioning>` / `<monitoring>`: a list of actions (every one is processed, §9 item 9 is not reproduced). */
export interface ActionList {
  actions: Action[];
}

/** `<action type=… id=…>` (attribute order on output: type, then id; §6.1 rule 3). */
export interface Action {
  /** Provisioning type (create …) or `listActiveVMs`. Absent in agent responses (§6.6). */
  type?: string;
  /** Action UUID, or `callback` for libvirt events (§6.8). */
  id?: string;
  server?: Server;
  status?: string;
  description?: string;
}

/** The fields {@link Server} and {@link ServerInformation} share (§6.2); they differ in the spelling of the VM element. */
export interface ServerFields {
  name?: string;
  id?: string;
  uuid?: string;
  operatingSystemType?: string;
  operatingSystemVersion?: string;
  operatingSystemDistribution?: string;
  virtualizationType?: string;
  /**
   * kvm-crm extension (issue 10): the host's size as its agent reported it, under the names of the original's
   * `VTServer` model fields (docs/ocf-behaviour.md B1) in this document's spelling, each after `virtualization-type`:
   * `<number-of-cpus>` logical CPUs (`numberOfCPUs`), `<cpu-frequency>` MHz (`CPUFrequency`), `<memory>` MiB
   * (`memory`, the original's MB), `<disc-space-gb>` GiB of the agent's storage root (`discSpaceGB`). Integers;
   * absent when unknown. OCF peers ignore unknown elements (as they do `vcpus`).
   */
  numberOfCpus?: number;
  cpuFrequency?: number;
  memory?: number;
  discSpaceGb?: number;
  interfaces?: Interface[];
  /** Empty complex type in the schema; kept only as presence. */
  status?: string;
}

/** server-type, used inside actions (§6.2). */
export interface Server extends ServerFields {
  /** `<virtual-machines>` elements (plural spelling, one element per VM, §6.2). */
  virtualMachines: VirtualMachine[];
}

/** `<information><resources>`: the `listResources` payload (§6.7). */
export interface InformationResponse {
  /** `undefined`: no `<resources>` element; `[]`: `<resources/>`. */
  resources?: ServerInformation[];
}

/** server-information-type (§6.2): like {@link Server}, but VMs are `<virtual-machine>` (singular). */
export interface ServerInformation extends ServerFields {
  /** `<virtual-machine>` elements (singular spelling). */
  virtualMachines: VirtualMachine[];
}

/** virtual-machine-type (§6.2). */
export interface VirtualMachine {
  name?: string;
  uuid?: string;
  status?: string;
  projectId?: string;
  projectName?: string;
  sliceId?: string;
  sliceName?: string;
  operatingSystemType?: string;
  operatingSystemVersion?: string;
  operatingSystemDistribution?: string;
  serverId?: string;
  virtualizationType?: string;
  xenConfiguration?: XenConfiguration;
}

/** `<xen-configuration>`, reused unchanged by KVM (§6.9). */
export interface XenConfiguration {
  hdSetupType?: string;
  /** Disk size in MiB; must be an integer on the wire (§6.1 rule 8). */
  hdSizeMb?: number;
  /** Template reference, e.g. `debian7/debian7.img`. */
  hdOriginPath?: string;
  configurator?: string;
  virtualizationSetupType?: string;
  /** Guest memory in MiB; must be an integer on the wire (§6.1 rule 8). */
  memoryMb?: number;
  /**
   * kvm-crm extension: number of virtual CPUs (create and modify). Not in the OCF schema; OCF peers ignore unknown
   * elements (§6.1 rule 10) and never send it. Emitted after `memory-mb`, only when set.
   */
  vcpus?: number;
  /**
   * kvm-crm extension `<max-memory-mb>`: the memory in MiB the guest may grow to while it runs (the domain's
   * `<memory>`; `memory-mb` is then the boot size, `<currentMemory>`). Create and modify. Emitted after `vcpus`,
   * only when set.
   */
  maxMemoryMb?: number;
  interfaces?: Interface[];
  users?: User[];
  /**
   * kvm-crm extension `<data-disks><disk size-mb="N"/>…</data-disks>`: extra empty qcow2 volumes, attached in
   * order as vdb, vdc, … (create). `undefined`: no element; `[]`: `<data-disks/>`. Emitted after `users`.
   */
  dataDisks?: DataDisk[];
  /**
   * kvm-crm extension `<ssh-keys><key>ssh-ed25519 AAAA… comment</key>…</ssh-keys>`: OpenSSH public keys written
   * into the guest's cloud-init user-data (create): for every user of `users`, or for the image's default user
   * when there is none. OCF has no element for keys. Emitted after `data-disks`.
   */
  sshKeys?: string[];
  /**
   * kvm-crm extension `<hostname>tdh-m01.tdh.internal</hostname>` (create): the guest's host name for cloud-init
   * (`local-hostname`, `hostname`/`fqdn`); absent: the VM name. From a manifest's `hostname` (decision 024).
   * Emitted after `ssh-keys`, only when set.
   */
  hostname?: string;
  /**
   * kvm-crm extension `<keep-disks>true</keep-disks>` (delete only): the VM's disk images stay in its folder on
   * the host; the domain, seed and other files go. Emitted last, only when set.
   */
  keepDisks?: boolean;
}

/** One kvm-crm data disk (`<disk size-mb="…"/>` inside `<data-disks>`). */
export interface DataDisk {
  /** Size in MiB (attribute `size-mb`, an integer). */
  sizeMb?: number;
}

/** `<interface ismgmt=…>` (§6.2). `switchId` is the libvirt bridge name for KVM agents (§6.5.1). */
export interface Interface {
  ismgmt?: boolean;
  name?: string;
  mac?: string;
  ip?: string;
  mask?: string;
  gw?: string;
  dns1?: string;
  dns2?: string;
  switchId?: string;
  switchPort?: string;
}

export interface User {
  name?: string;
  password?: string;
}

/** True for values that are absent or the `NONE` placeholder (docs/ocf-protocol.md §9 item 4). */
export function isPlaceholder(value: string | undefined): value is undefined {
  return value === undefined || value === 'NONE' || value === '';
}

/** `value` unless it is a placeholder (absent, empty or `NONE`), else `undefined`. */
export function valueOrUndefined(value: string | undefined): string | undefined {
  return isPlaceholder(value) ? undefined : value;
}
