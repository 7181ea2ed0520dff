/**
 * The provisioning query sent to an agent (manager dialect, docs/ocf-protocol.md §6.5), built from the DB rather than
 * forwarded from the client (§9 item 14).
 */
import { serialiseRspec, type Rspec } from '@kvm-crm/shared';
import type { Server } from '../../db/entities/server.js';
import type { VirtualMachine } from '../../db/entities/virtual-machine.js';
import { vmToRspec } from '../rspec-mapping.js';

/** The query for action `actionId` of `type` about `vm` on `server`: the VM as stored, NICs rewritten as in §6.5.2. */
export function agentQuery(actionId: string, type: string, server: Server, vm: VirtualMachine): string {
  const rvm = vmToRspec(vm, server, true);
  const cfg = rvm.xenConfiguration;
  if (cfg) {
    // The guest options belong to the action that uses them: a modify that carried the stored ceiling would set it
    // again (and refuse memory above it), so only a create gets them, and keep-disks only a delete.
    if (type !== 'create') for (const key of ['maxMemoryMb', 'users', 'dataDisks', 'sshKeys', 'hostname'] as const) delete cfg[key];
    if (type !== 'delete') delete cfg.keepDisks;
  }
  const doc: Rspec = {
    query: { provisioning: { actions: [{ type, id: actionId, server: { uuid: server.uuid, virtualizationType: server.virtualizationType, virtualMachines: [rvm] } }] } },
  };
  return serialiseRspec(doc, { dialect: 'manager' });
}

/**
 * The query with the VM as it should become: a modify carries the requested memory (MiB) and vCPUs
 * (null/undefined: the VM's own). `vm` is not changed.
 */
export function agentQueryWithRequest(
  actionId: string,
  type: string,
  server: Server,
  vm: VirtualMachine,
  requested: { memoryMb?: number | null; vcpus?: number | null },
): string {
  const target = Object.assign(Object.create(Object.getPrototypeOf(vm)) as VirtualMachine, vm, {
    memoryMb: requested.memoryMb ?? vm.memoryMb,
    vcpus: requested.vcpus ?? vm.vcpus,
  });
  return agentQuery(actionId, type, server, target);
}
