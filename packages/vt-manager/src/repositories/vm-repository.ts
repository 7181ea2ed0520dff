/**
 * The `virtual_machine` and `vm_interface` tables: VMs and their NICs.
 */
import { In, LessThan, type EntityManager } from 'typeorm';
import { VirtualMachine, type VmState } from '../db/entities/virtual-machine.js';
import { VmInterface } from '../db/entities/vm-interface.js';

/** A new VM with its NICs, as {@link VmRepository.createWithInterfaces} stores it. */
export type NewVm = Omit<VirtualMachine, 'id' | 'interfaces' | 'createdAt' | 'updatedAt' | 'expiresAt' | 'stateNote'> & {
  interfaces: Array<Omit<VmInterface, 'id' | 'vmId' | 'vm'>>;
};

/** VMs in the transaction (or plain manager) `em`. */
export class VmRepository {
  constructor(private readonly em: EntityManager) {}

  /** The VM with this uuid (lower case), without its NICs, or null. */
  findByUuid(uuid: string): Promise<VirtualMachine | null> {
    return this.em.findOneBy(VirtualMachine, { uuid });
  }

  /** The VM with this uuid (lower case) and its NICs, or null. */
  findWithInterfaces(uuid: string): Promise<VirtualMachine | null> {
    return this.em.findOne(VirtualMachine, { where: { uuid }, relations: { interfaces: true } });
  }

  /** The VMs named `name` (names are unique only per project), with their NICs, oldest first. */
  findByName(name: string): Promise<VirtualMachine[]> {
    return this.em.find(VirtualMachine, { where: { name }, relations: { interfaces: true }, order: { id: 'ASC' } });
  }

  /** Whether a VM has this uuid. */
  exists(uuid: string): Promise<boolean> {
    return this.em.existsBy(VirtualMachine, { uuid });
  }

  /** The VMs with these uuids (unknown ones left out). */
  findByUuids(uuids: string[]): Promise<VirtualMachine[]> {
    return this.em.findBy(VirtualMachine, { uuid: In(uuids) });
  }

  /**
   * VMs with their NICs, filtered by project and/or slice (absent: no filter), ordered by `order`: `id` (creation
   * order by row) or `createdAt`.
   */
  listWithInterfaces(filter: { projectId?: string; sliceId?: string }, order: 'id' | 'createdAt'): Promise<VirtualMachine[]> {
    return this.em.find(VirtualMachine, {
      where: { ...(filter.projectId ? { projectId: filter.projectId } : {}), ...(filter.sliceId ? { sliceId: filter.sliceId } : {}) },
      relations: { interfaces: true },
      order: order === 'id' ? { id: 'ASC' } : { createdAt: 'ASC' },
    });
  }

  /** The VMs on a server (only `onlyVm` when given), without NICs. */
  listOnServer(serverId: number, onlyVm?: string): Promise<VirtualMachine[]> {
    return this.em.find(VirtualMachine, { where: { serverId, ...(onlyVm ? { uuid: onlyVm } : {}) } });
  }

  /** The VMs of a slice, oldest first. */
  listInSlice(sliceId: string): Promise<VirtualMachine[]> {
    return this.em.find(VirtualMachine, { where: { sliceId }, order: { id: 'ASC' } });
  }

  /** Up to `take` VMs whose `expiresAt` is before `now`, oldest first. */
  listExpired(now: Date, take: number): Promise<VirtualMachine[]> {
    return this.em.find(VirtualMachine, { where: { expiresAt: LessThan(now) }, order: { id: 'ASC' }, take });
  }

  /**
   * `UPDATE virtual_machine SET expiresAt = :next WHERE id = :id AND expiresAt < :now`: the expiry sweep's claim (of
   * several managers only one deletes the VM). Returns whether this call claimed it.
   */
  async claimExpiry(id: number, now: Date, next: Date): Promise<boolean> {
    return !!(await this.em.update(VirtualMachine, { id, expiresAt: LessThan(now) }, { expiresAt: next })).affected;
  }

  /** Sets when the manager deletes the VM (null: never). Returns false when there is no VM with this uuid. */
  async setExpiry(uuid: string, expiresAt: Date | null): Promise<boolean> {
    return !!(await this.em.update(VirtualMachine, { uuid }, { expiresAt })).affected;
  }

  /** Sets a VM's state, and its state note when given. */
  async setState(id: number, state: VmState, stateNote?: string): Promise<void> {
    await this.em.update(VirtualMachine, { id }, stateNote === undefined ? { state } : { state, stateNote });
  }

  /** A successful modify: the memory (MiB) and/or vCPUs that were asked for (null: unchanged). */
  async applyResources(id: number, memoryMb: number | null, vcpus: number | null): Promise<void> {
    await this.em.update(VirtualMachine, { id }, { ...(memoryMb !== null ? { memoryMb } : {}), ...(vcpus !== null ? { vcpus } : {}) });
  }

  /** Stores a VM and its NICs; returns it as saved (with ids). */
  createWithInterfaces(vm: NewVm): Promise<VirtualMachine> {
    return this.em.save(this.em.create(VirtualMachine, { ...vm, interfaces: vm.interfaces as VmInterface[] }));
  }

  /** Sets the guest host name the VM's next seed gets (`vtctl manifest sethostnames`); null: the VM name. */
  async setGuestHostname(uuid: string, hostname: string | null): Promise<void> {
    await this.em.update(VirtualMachine, { uuid }, { guestHostname: hostname });
  }

  /** Records whether the VM's next delete keeps its disk images. */
  async setKeepDisksOnDelete(id: number, keep: boolean): Promise<void> {
    await this.em.update(VirtualMachine, { id }, { keepDisksOnDelete: keep });
  }

  /** Deletes a VM's NICs and the VM (its addresses are released by the IPAM). */
  async deleteWithInterfaces(id: number): Promise<void> {
    await this.em.delete(VmInterface, { vmId: id });
    await this.em.delete(VirtualMachine, { id });
  }
}
