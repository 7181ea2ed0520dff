/**
 * Mapping of stored VMs and servers to rspec elements (docs/ocf-protocol.md §6.5, §6.7).
 */
import type { Interface, ServerInformation, VirtualMachine as RspecVm, XenConfiguration } from '@kvm-crm/shared';
import type { Server } from '../db/entities/server.js';
import type { VirtualMachine } from '../db/entities/virtual-machine.js';
import type { ListedNic, ListedServer, ListedVm } from '../repositories/listing-repository.js';

/**
 * A VM's NICs as rspec interfaces, in position order (§6.5.2): `ismgmt`, `name`, `mac`, the IPv4 fields (or the
 * `NONE` placeholders for NICs without an address, as the original), and `switch-id` = the bridge name.
 */
export function vmInterfacesToRspec(nics: readonly ListedNic[]): Interface[] {
  return [...nics]
    .sort((a, b) => a.position - b.position)
    .map((n) => ({
      ismgmt: n.isMgmt, name: n.name, mac: n.mac, ip: n.ip ?? 'NONE', mask: n.netmask ?? 'NONE', gw: n.gateway ?? 'NONE',
      dns1: n.dns1 ?? 'NONE', dns2: n.dns2 ?? 'NONE', switchId: n.bridge,
    }));
}

/** A JSON array column of the VM (null: none). @throws Error when the stored text is not a JSON array. */
function jsonList<T>(text: string | null): T[] {
  if (text === null || text === '') return [];
  const v: unknown = JSON.parse(text);
  if (!Array.isArray(v)) throw new Error(`stored list is not a JSON array: ${text.slice(0, 40)}`);
  return v as T[];
}

/**
 * A stored VM as a `virtual-machine-type` element. `forAgent` adds what the agent needs and the information
 * document omits (§6.7: no hd-size-mb, configurator or users): the status, `hd-size-mb`, an empty configurator,
 * and the guest options: `max-memory-mb`, OCF `<users>` (names only: passwords are never stored), `data-disks`,
 * `ssh-keys`, and `keep-disks` when the VM's delete keeps its disks.
 */
export function vmToRspec(vm: VirtualMachine, server: Pick<Server, 'uuid' | 'virtualizationType'>, forAgent: boolean): RspecVm {
  const listed = vmToInformation(vm, server);
  if (!forAgent) return listed;
  return {
    ...listed,
    xenConfiguration: {
      hdSetupType: vm.hdSetupType,
      hdSizeMb: vm.hdSizeMb ?? undefined,
      hdOriginPath: vm.hdOriginPath,
      configurator: '',
      virtualizationSetupType: vm.virtualizationSetupType,
      memoryMb: vm.memoryMb,
      vcpus: vm.vcpus,
      ...(vm.maxMemoryMb !== null && vm.maxMemoryMb !== undefined ? { maxMemoryMb: vm.maxMemoryMb } : {}),
      interfaces: listed.xenConfiguration!.interfaces,
      ...guestOptionsForAgent(vm),
    },
  };
}

/** A VM as the information document shows it (§6.7): no hd-size-mb, configurator, vCPUs or guest options. */
export function vmToInformation(vm: ListedVm, server: Pick<Server, 'uuid' | 'virtualizationType'>): RspecVm {
  return {
    name: vm.name, uuid: vm.uuid, status: vm.state, projectId: vm.projectId, projectName: vm.projectName ?? undefined,
    sliceId: vm.sliceId, sliceName: vm.sliceName ?? undefined, operatingSystemType: vm.operatingSystemType ?? undefined,
    operatingSystemVersion: vm.operatingSystemVersion ?? undefined, operatingSystemDistribution: vm.operatingSystemDistribution ?? undefined,
    serverId: server.uuid, virtualizationType: server.virtualizationType,
    xenConfiguration: {
      hdSetupType: vm.hdSetupType,
      hdOriginPath: vm.hdOriginPath,
      virtualizationSetupType: vm.virtualizationSetupType,
      memoryMb: vm.memoryMb,
      interfaces: vmInterfacesToRspec(vm.interfaces ?? []),
    },
  };
}

/**
 * A server and the given VMs as a `server-information-type` element (§6.7), with the host's size as its agent last
 * reported it (`get_host_info`, decision record 019) in the kvm-crm elements `number-of-cpus`, `cpu-frequency` (MHz),
 * `memory` (MiB) and `disc-space-gb` (GiB): the original's `VTServer` fields (docs/ocf-behaviour.md B1). A host that
 * never reported (a legacy agent) gets none of them: the document is the original's.
 */
export function serverToInformation(server: ListedServer, vms: readonly ListedVm[]): ServerInformation {
  const bridges = [...(server.bridges ?? [])].sort((a, b) => Number(b.isMgmt) - Number(a.isMgmt) || a.id - b.id);
  const reported = server.inventoryRefreshedAt !== null && server.inventoryRefreshedAt !== undefined;
  const fact = (n: number | null | undefined) => (reported && n !== null && n !== undefined ? n : undefined);
  return {
    name: server.name, id: String(server.id), uuid: server.uuid, operatingSystemType: server.operatingSystemType,
    operatingSystemVersion: server.operatingSystemVersion, operatingSystemDistribution: server.operatingSystemDistribution,
    virtualizationType: server.virtualizationType,
    numberOfCpus: fact(server.cpus), cpuFrequency: fact(server.cpuFrequencyMHz), memory: fact(server.memoryTotalMiB),
    discSpaceGb: fact(server.storageTotalGiB),
    interfaces: bridges.length
      ? bridges.map((b) => ({ ismgmt: b.isMgmt, name: b.name, switchId: b.name, switchPort: b.switchPort ?? undefined }))
      : [{ name: 'NONE', switchId: 'NONE', switchPort: 'NONE' }],
    virtualMachines: vms.map((vm) => vmToInformation(vm, server)),
  };
}

/** The kvm-crm guest options of a stored VM, as `xen-configuration` fields for the agent (absent when unset). */
function guestOptionsForAgent(vm: VirtualMachine): Pick<XenConfiguration, 'users' | 'dataDisks' | 'sshKeys' | 'hostname' | 'keepDisks'> {
  const users = jsonList<string>(vm.guestUsers ?? null);
  const disks = jsonList<number>(vm.dataDisksMb ?? null);
  const keys = jsonList<string>(vm.sshKeys ?? null);
  return {
    ...(users.length ? { users: users.map((name) => ({ name })) } : {}),
    ...(disks.length ? { dataDisks: disks.map((sizeMb) => ({ sizeMb })) } : {}),
    ...(keys.length ? { sshKeys: keys } : {}),
    ...(vm.guestHostname ? { hostname: vm.guestHostname } : {}),
    ...(vm.keepDisksOnDelete ? { keepDisks: true } : {}),
  };
}
