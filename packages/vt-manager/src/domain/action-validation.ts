/**
 * Pure checks of the provisioning actions a client sends (docs/ocf-protocol.md §2.2.1, §6.3–§6.5): the action header
 * (id, type), a create's VM, a lifecycle action's VM and a modify's resources. No I/O; every failure is an
 * InputError whose message goes back to the client as the action's FAILED reason.
 */
import {
  ACTION_ID_PATTERN,
  assertPattern,
  GUEST_HOSTNAME_PATTERN,
  InputError,
  PROVISIONING_ACTION_TYPES,
  TEMPLATE_NAME_PATTERN,
  UUID_PATTERN,
  VM_NAME_PATTERN,
  type Action,
  type ProvisioningActionType,
  type XenConfiguration,
} from '@kvm-crm/shared';

/** create, start, stop, hardStop, reboot, delete, modify. */
export type ActionType = ProvisioningActionType;

/** What a validated action header guarantees. */
export interface ActionHeader {
  id: string;
  type: ActionType;
}

/** An action whose header was validated ({@link validateActions}). */
export type ValidatedAction = Action & ActionHeader;

/** Guest memory limits, in MiB (inclusive). */
export const MEMORY_MIB_LIMITS = { min: 64, max: 1024 * 1024 } as const;
/** vCPU limits (inclusive). */
export const VCPU_LIMITS = { min: 1, max: 64 } as const;
/** hd-size-mb limits, in MiB (inclusive): a positive integer up to 16 TiB. */
export const HD_SIZE_MIB_LIMITS = { min: 1, max: 16 * 1024 * 1024 } as const;
/** hd-setup-type values (the XSD's enumeration, docs/ocf-protocol.md §6.3). */
export const HD_SETUP_TYPES = ['file-image', 'logical-volume-image', 'full-file-image'] as const;
/** virtualization-setup-type values (the XSD's enumeration, docs/ocf-protocol.md §6.3). */
export const VIRTUALIZATION_SETUP_TYPES = ['paravirtualization', 'hvm'] as const;
/**
 * Longest stored free-text field of a create, in characters (docs/security.md "Input limits"): the project and slice
 * names, and the operating system's type, version and distribution. Each must be printable ASCII (the OCF wire is
 * ASCII-only, docs/ocf-protocol.md §6.1 rule 9, so a stored non-ASCII value could never be served again).
 */
export const FREE_TEXT_MAX = { 'project-name': 255, 'slice-name': 255, 'operating-system-type': 64, 'operating-system-version': 64, 'operating-system-distribution': 64 } as const;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

const TEMPLATE = TEMPLATE_NAME_PATTERN.source.slice(1, -1);
/** hd-origin-path: `<template>` or `<template>/<file>` (validated before it reaches the agent). */
export const HD_ORIGIN_PATTERN = new RegExp(`^${TEMPLATE}(?:/${TEMPLATE})?$`);

/** A server reference that lets the manager place the VM: empty, `NONE` or `auto` (decision record 019). */
export const PLACE_ANYWHERE = /^(?:|NONE|auto)$/i;

/** Whether `type` is a provisioning action type. */
export function isActionType(type: string | undefined): type is ActionType {
  return (PROVISIONING_ACTION_TYPES as readonly string[]).includes(type ?? '');
}

/**
 * Checks every action's header: a valid, unique id and a supported type; at most `maxActions` actions (the
 * manager's `maxActionsPerMessage`, docs/security.md "Input limits").
 * @throws InputError when there is no action or more than `maxActions`, an id is invalid or repeated, or a type is
 *   unsupported.
 */
export function validateActions(actions: readonly Action[] | undefined, maxActions = Number.POSITIVE_INFINITY): ValidatedAction[] {
  if (!actions || actions.length === 0) throw new InputError('the document holds no provisioning query with actions');
  if (actions.length > maxActions) throw new InputError(`the message holds ${actions.length} actions; at most ${maxActions} per message`);
  const ids = new Set<string>();
  return actions.map((a) => {
    const id = assertPattern(a.id, ACTION_ID_PATTERN, 'action id');
    if (ids.has(id)) throw new InputError(`action id ${id} appears twice in the message`);
    ids.add(id);
    if (!isActionType(a.type)) throw new InputError(`unsupported action type ${JSON.stringify(a.type ?? '')} in action ${id}`);
    return { ...a, id, type: a.type };
  });
}

/** Guest memory in MiB. @throws InputError when absent or outside {@link MEMORY_MIB_LIMITS}. */
export function checkMemoryMiB(memoryMb: number | undefined): number {
  if (memoryMb === undefined || memoryMb < MEMORY_MIB_LIMITS.min || memoryMb > MEMORY_MIB_LIMITS.max) {
    throw new InputError(`memory-mb must be an integer from ${MEMORY_MIB_LIMITS.min} to ${MEMORY_MIB_LIMITS.max}`);
  }
  return memoryMb;
}

/** vCPUs. @throws InputError when outside {@link VCPU_LIMITS}. */
export function checkVcpus(vcpus: number): number {
  if (vcpus < VCPU_LIMITS.min || vcpus > VCPU_LIMITS.max) throw new InputError(`vcpus must be an integer from ${VCPU_LIMITS.min} to ${VCPU_LIMITS.max}`);
  return vcpus;
}

/**
 * A stored free-text field (absent: null): printable ASCII, at most {@link FREE_TEXT_MAX}[field] characters.
 * @throws InputError naming the field.
 */
export function checkFreeText(value: string | undefined | null, field: keyof typeof FREE_TEXT_MAX): string | null {
  if (value === undefined || value === null) return null;
  const max = FREE_TEXT_MAX[field];
  if (value.length > max || !PRINTABLE_ASCII.test(value)) throw new InputError(`${field} must be printable ASCII of at most ${max} characters`);
  return value;
}

/** hd-size-mb (absent: null). @throws InputError unless an integer within {@link HD_SIZE_MIB_LIMITS}. */
export function checkHdSizeMiB(value: number | undefined | null): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isSafeInteger(value) || value < HD_SIZE_MIB_LIMITS.min || value > HD_SIZE_MIB_LIMITS.max) {
    throw new InputError(`hd-size-mb must be an integer from ${HD_SIZE_MIB_LIMITS.min} to ${HD_SIZE_MIB_LIMITS.max}`);
  }
  return value;
}

/** Most data disks of one VM (vdb … vdq; the agent's limit). */
export const MAX_DATA_DISKS = 16;
/** Most SSH keys of one VM, and the longest key, in characters. */
export const SSH_KEY_LIMITS = { count: 16, length: 8192 } as const;
/** Most guest users of one VM. */
export const MAX_GUEST_USERS = 16;
/** A guest login name (the agent's cloud-init check, repeated here so a bad name is refused before anything is stored). */
export const GUEST_USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
/** An OpenSSH public key line: type, base64 blob, optional printable comment (the agent checks the blob strictly). */
const SSH_KEY_LINE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( [\x20-\x7e]*)?$/;

/** The guest options of a create that the agent gets besides the OCF fields (kvm-crm extensions and OCF users). */
export interface GuestOptions {
  /** `max-memory-mb`, at least the boot memory; null: none. */
  maxMemoryMb: number | null;
  /** Sizes in MiB of the data disks, in order (vdb, vdc, …). */
  dataDisksMb: number[];
  /** OpenSSH public key lines. */
  sshKeys: string[];
  /** Guest login names (OCF `<users>`; passwords are dropped, never stored). */
  guestUsers: string[];
  /** Guest host name (kvm-crm `<hostname>`, {@link GUEST_HOSTNAME_PATTERN}); null: the VM name. */
  guestHostname: string | null;
}

/**
 * Checks the guest options of a create's `xen-configuration`: `max-memory-mb` (within the memory limits, at least
 * `memoryMb`), data disks (at most {@link MAX_DATA_DISKS}, sizes as hd-size-mb), SSH keys (at most
 * {@link SSH_KEY_LIMITS}.count OpenSSH lines of printable ASCII) and OCF user names ({@link GUEST_USER_PATTERN}).
 * @throws InputError naming the first invalid field.
 */
export function checkGuestOptions(cfg: XenConfiguration | undefined, memoryMb: number): GuestOptions {
  let maxMemoryMb: number | null = null;
  if (cfg?.maxMemoryMb !== undefined) {
    maxMemoryMb = checkMemoryMiB(cfg.maxMemoryMb);
    if (maxMemoryMb < memoryMb) throw new InputError(`max-memory-mb ${maxMemoryMb} is below memory-mb ${memoryMb}`);
  }
  const disks = cfg?.dataDisks ?? [];
  if (disks.length > MAX_DATA_DISKS) throw new InputError(`${disks.length} data disks asked, at most ${MAX_DATA_DISKS}`);
  const dataDisksMb = disks.map((d, i) => {
    const size = d.sizeMb;
    if (size === undefined || !Number.isSafeInteger(size) || size < HD_SIZE_MIB_LIMITS.min || size > HD_SIZE_MIB_LIMITS.max) {
      throw new InputError(`data disk ${i + 1}: size-mb must be an integer from ${HD_SIZE_MIB_LIMITS.min} to ${HD_SIZE_MIB_LIMITS.max}`);
    }
    return size;
  });
  const keys = cfg?.sshKeys ?? [];
  if (keys.length > SSH_KEY_LIMITS.count) throw new InputError(`${keys.length} SSH keys given, at most ${SSH_KEY_LIMITS.count}`);
  const sshKeys = keys.map((k, i) => {
    const line = k.trim();
    if (line.length > SSH_KEY_LIMITS.length || !SSH_KEY_LINE.test(line)) throw new InputError(`SSH key ${i + 1} is not an OpenSSH public key line (type, base64 blob, comment)`);
    return line;
  });
  const users = cfg?.users ?? [];
  if (users.length > MAX_GUEST_USERS) throw new InputError(`${users.length} users given, at most ${MAX_GUEST_USERS}`);
  const guestUsers = users.map((u, i) => assertPattern(u.name, GUEST_USER_PATTERN, `user name ${i + 1}`));
  const guestHostname = cfg?.hostname === undefined ? null : assertPattern(cfg.hostname, GUEST_HOSTNAME_PATTERN, 'hostname');
  return { maxMemoryMb, dataDisksMb, sshKeys, guestUsers, guestHostname };
}

/** One of `allowed` (absent: `fallback`). @throws InputError naming the field and the allowed values. */
function checkEnum<T extends string>(value: string | undefined | null, allowed: readonly T[], field: string, fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new InputError(`${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** A create's VM, validated; uuids lower case, sizes in MiB. */
export interface CreateRequest extends GuestOptions {
  vmUuid: string;
  /** Null: no server named (absent, `NONE` or `auto`), the manager places the VM (decision record 019). */
  serverUuid: string | null;
  name: string;
  projectId: string;
  projectName: string | null;
  sliceId: string;
  sliceName: string | null;
  operatingSystemType: string | null;
  operatingSystemVersion: string | null;
  operatingSystemDistribution: string | null;
  memoryMb: number;
  vcpus: number;
  hdSizeMb: number | null;
  hdOriginPath: string;
  hdSetupType: string;
  virtualizationSetupType: string;
}

/**
 * Checks a create action: one VM, its uuid, name, project, slice, template, memory, vCPUs (default 1), server
 * (`server/uuid`, else the VM's `server-id`; none of them a UUID: placed by the manager), the stored free-text fields
 * ({@link checkFreeText}), hd-size-mb, hd-setup-type, virtualization-setup-type and the guest options
 * ({@link checkGuestOptions}).
 * @throws InputError naming the first invalid field.
 */
export function validateCreate(action: Action): CreateRequest {
  const server = action.server;
  const rvm = server?.virtualMachines[0];
  if (!server || !rvm) throw new InputError('create needs server/virtual-machines');
  if (server.virtualMachines.length > 1) throw new InputError('one create action must name exactly one VM');
  const vmUuid = assertPattern(rvm.uuid, UUID_PATTERN, 'VM uuid').toLowerCase();
  const name = assertPattern(rvm.name, VM_NAME_PATTERN, 'VM name');
  const projectId = assertPattern(rvm.projectId, ACTION_ID_PATTERN, 'project-id');
  const sliceId = assertPattern(rvm.sliceId, ACTION_ID_PATTERN, 'slice-id');
  const cfg = rvm.xenConfiguration;
  const hdOriginPath = assertPattern(cfg?.hdOriginPath, HD_ORIGIN_PATTERN, 'hd-origin-path (template)');
  const memoryMb = checkMemoryMiB(cfg?.memoryMb);
  const vcpus = checkVcpus(cfg?.vcpus ?? 1);
  const serverRef = [server.uuid, rvm.serverId].find((v) => v !== undefined && !PLACE_ANYWHERE.test(v));
  const serverUuid = serverRef === undefined ? null : assertPattern(serverRef, UUID_PATTERN, 'server uuid').toLowerCase();
  return {
    vmUuid, serverUuid, name, projectId, projectName: checkFreeText(rvm.projectName, 'project-name'), sliceId,
    sliceName: checkFreeText(rvm.sliceName, 'slice-name'),
    operatingSystemType: checkFreeText(rvm.operatingSystemType, 'operating-system-type'),
    operatingSystemVersion: checkFreeText(rvm.operatingSystemVersion, 'operating-system-version'),
    operatingSystemDistribution: checkFreeText(rvm.operatingSystemDistribution, 'operating-system-distribution'),
    memoryMb, vcpus, hdSizeMb: checkHdSizeMiB(cfg?.hdSizeMb), hdOriginPath, ...checkGuestOptions(cfg, memoryMb),
    hdSetupType: checkEnum(cfg?.hdSetupType, HD_SETUP_TYPES, 'hd-setup-type', 'file-image'),
    virtualizationSetupType: checkEnum(cfg?.virtualizationSetupType, VIRTUALIZATION_SETUP_TYPES, 'virtualization-setup-type', 'hvm'),
  };
}

/** The memory (MiB) and vCPUs a modify asks for; absent: unchanged. */
export interface RequestedResources {
  memoryMb?: number;
  vcpus?: number;
}

/**
 * Checks a start/stop/hardStop/reboot/delete/modify action: the VM uuid (lower-cased), for modify the requested
 * memory and/or vCPUs (at least one), for delete whether the disk images are kept (kvm-crm `keep-disks`).
 * @throws InputError naming the first invalid field.
 */
export function validateLifecycle(action: ValidatedAction): { vmUuid: string; requested: RequestedResources; keepDisks: boolean } {
  const rvm = action.server?.virtualMachines[0];
  const vmUuid = assertPattern(rvm?.uuid, UUID_PATTERN, 'VM uuid').toLowerCase();
  const keepDisks = action.type === 'delete' && rvm?.xenConfiguration?.keepDisks === true;
  if (action.type !== 'modify') return { vmUuid, requested: {}, keepDisks };
  const cfg = rvm?.xenConfiguration;
  const requested: RequestedResources = { memoryMb: cfg?.memoryMb, vcpus: cfg?.vcpus };
  if (requested.memoryMb === undefined && requested.vcpus === undefined) throw new InputError('modify needs xen-configuration/memory-mb and/or vcpus');
  if (requested.memoryMb !== undefined) checkMemoryMiB(requested.memoryMb);
  if (requested.vcpus !== undefined) checkVcpus(requested.vcpus);
  return { vmUuid, requested, keepDisks };
}
