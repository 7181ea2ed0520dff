/**
 * Inventory changes without SQL (issue 10 "Inventory changes without SQL"): remove a server, change its agent URL or
 * password, add and remove its bridges; remove, unsubscribe, exclude and include in address ranges. Each change is
 * one transaction and refuses, with a reason, what would orphan something in use: a server with VMs, a bridge a VM
 * NIC uses, a range or subscription with allocated addresses, an allocated address. (Enabling, disabling and
 * draining servers are not here: they belong with capacity and placement.)
 */
import { assertPattern, BRIDGE_NAME_PATTERN, ConflictError, InputError, NotFoundError, parsePeerUrl } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import { isUniqueViolation } from '../db/driver-errors.js';
import type { Server } from '../db/entities/server.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { RangeRepository, type RangeKind } from '../repositories/range-repository.js';
import { ServerBridgeRepository } from '../repositories/server-bridge-repository.js';
import { ServerRepository } from '../repositories/server-repository.js';
import { SlotRepository } from '../repositories/slot-repository.js';
import { VmRepository } from '../repositories/vm-repository.js';
import { intToIpv4, intToMac, ipv4ToInt, macToInt } from './addresses.js';

/** How many names a refusal lists before "and N more". */
const NAMES_SHOWN = 10;

/** `names` joined, at most {@link NAMES_SHOWN}, with "and N more". */
function listNames(names: readonly string[]): string {
  const shown = names.slice(0, NAMES_SHOWN).join(', ');
  return names.length > NAMES_SHOWN ? `${shown} and ${names.length - NAMES_SHOWN} more` : shown;
}

/** Admin changes to servers, bridges and ranges (see the file comment). */
export class InventoryChangesService {
  constructor(private readonly tx: TransactionRunner) {}

  /**
   * Removes a server with its bridges and range subscriptions.
   * @throws NotFoundError for an unknown server; ConflictError while VMs remain on it (naming them).
   */
  removeServer(nameOrUuid: string): Promise<void> {
    return this.tx.run(async (em) => {
      const server = await this.server(em, nameOrUuid);
      const vms = await new VmRepository(em).listOnServer(server.id);
      if (vms.length) throw new ConflictError(`server ${server.name} still has ${vms.length} VM(s): ${listNames(vms.map((v) => v.name))}; delete them first`);
      await new ServerRepository(em).deleteWithBridges(server.id);
    });
  }

  /**
   * Changes a server's agent URL and/or OCF agent password.
   * @throws InputError when neither is given, for a URL with credentials or a plain-http URL of a non-legacy
   *   server, or a password outside 1-128 characters; NotFoundError for an unknown server.
   */
  setAgent(nameOrUuid: string, change: { agentUrl?: string; agentPassword?: string }): Promise<void> {
    if (change.agentUrl === undefined && change.agentPassword === undefined) throw new InputError('give an agent URL and/or an agent password');
    if (change.agentPassword !== undefined && (!change.agentPassword || change.agentPassword.length > 128)) throw new InputError('agent password must be 1-128 characters');
    return this.tx.run(async (em) => {
      const server = await this.server(em, nameOrUuid);
      let agentUrl: string | undefined;
      if (change.agentUrl !== undefined) {
        const { url, basicAuth } = parsePeerUrl(change.agentUrl);
        if (basicAuth) throw new InputError('agent URL must not carry credentials: the agent password is separate');
        if (url.protocol === 'http:' && !server.legacy) throw new InputError('plain http:// agent URLs are only allowed for servers registered as legacy');
        agentUrl = url.toString();
      }
      await new ServerRepository(em).updateAgent(server.id, { agentUrl, agentPassword: change.agentPassword });
    });
  }

  /**
   * Adds a (non-management) bridge to a server; new VMs get a NIC on it.
   * @throws InputError for a bad bridge name; NotFoundError for an unknown server; ConflictError when it has it.
   */
  addBridge(nameOrUuid: string, bridge: string): Promise<void> {
    assertPattern(bridge, BRIDGE_NAME_PATTERN, 'bridge name');
    return this.tx.run(async (em) => {
      const server = await this.server(em, nameOrUuid);
      try {
        await new ServerBridgeRepository(em).add(server.id, bridge);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`server ${server.name} has a bridge ${bridge} already`);
        throw err;
      }
    });
  }

  /**
   * Removes a bridge from a server.
   * @throws NotFoundError for an unknown server or bridge; ConflictError for the management bridge, or while VM
   *   NICs use the bridge (naming the VMs).
   */
  removeBridge(nameOrUuid: string, bridge: string): Promise<void> {
    return this.tx.run(async (em) => {
      const server = await this.server(em, nameOrUuid);
      const b = server.bridges.find((x) => x.name === bridge);
      if (!b) throw new NotFoundError(`server ${server.name} has no bridge ${bridge}`);
      if (b.isMgmt) throw new ConflictError(`bridge ${bridge} is the management bridge of server ${server.name}: it cannot be removed`);
      const bridges = new ServerBridgeRepository(em);
      const users = await bridges.vmsUsing(server.id, bridge);
      if (users.length) throw new ConflictError(`bridge ${bridge} of server ${server.name} is used by the NICs of ${users.length} VM(s): ${listNames(users)}`);
      await bridges.remove(server.id, bridge);
    });
  }

  /**
   * Removes a range with its excluded addresses and subscriptions.
   * @throws NotFoundError for an unknown range; ConflictError while addresses of it are allocated (naming VMs).
   */
  removeRange(kind: RangeKind, name: string): Promise<void> {
    return this.tx.run(async (em) => {
      const ranges = new RangeRepository(em);
      const range = await this.range(em, kind, name);
      await ranges.lock(kind, range.id); // allocators of this range wait, and then find it gone
      const slots = new SlotRepository(em);
      const used = await slots.count(kind, range.id, false);
      if (used) throw new ConflictError(`range ${name} has ${used} allocated address(es) (VMs ${listNames(await slots.holders(kind, range.id))}): delete those VMs first`);
      await ranges.deleteRange(kind, range.id);
    });
  }

  /**
   * Stops a server drawing addresses from a range.
   * @throws NotFoundError for an unknown server, range or subscription; ConflictError while the server's VMs hold
   *   addresses of the range (naming them).
   */
  unsubscribe(serverNameOrUuid: string, kind: RangeKind, rangeName: string): Promise<void> {
    return this.tx.run(async (em) => {
      const server = await this.server(em, serverNameOrUuid);
      const ranges = new RangeRepository(em);
      const range = await this.range(em, kind, rangeName);
      if (!(await ranges.isSubscribed(server.id, kind, range.id))) throw new NotFoundError(`server ${server.name} does not subscribe to ${rangeName}`);
      await ranges.lock(kind, range.id);
      const vms = await new VmRepository(em).listOnServer(server.id);
      const holders = await new SlotRepository(em).heldBy(kind, range.id, vms.map((v) => v.uuid));
      if (holders.length) {
        const names = vms.filter((v) => holders.includes(v.uuid)).map((v) => v.name);
        throw new ConflictError(`VMs of server ${server.name} hold addresses of ${rangeName}: ${listNames(names)}; delete them first`);
      }
      await ranges.unsubscribe(server.id, kind, range.id);
    });
  }

  /**
   * Excludes an address of a range from allocation.
   * @throws InputError for an address outside the range; NotFoundError for an unknown range; ConflictError when the
   *   address is allocated to a VM, or excluded already.
   */
  exclude(kind: RangeKind, rangeName: string, address: string): Promise<void> {
    const n = kind === 'ipv4' ? ipv4ToInt(address) : macToInt(address);
    return this.tx.run(async (em) => {
      const range = await this.range(em, kind, rangeName);
      if (n < range.startAddress || n > range.endAddress) throw new InputError(`${address} is outside range ${rangeName}`);
      await new RangeRepository(em).lock(kind, range.id);
      const slots = new SlotRepository(em);
      const slot = await slots.find(kind, n);
      if (slot?.excluded) throw new ConflictError(`${address} is excluded already`);
      if (slot) throw new ConflictError(`${address} is allocated to VM ${slot.vmUuid ?? '?'}: delete the VM first`);
      try {
        await slots.exclude(kind, range.id, n);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`${address} was just allocated; try again`);
        throw err;
      }
    });
  }

  /**
   * Returns an excluded address of a range to allocation.
   * @throws InputError for an address outside the range; NotFoundError for an unknown range; ConflictError when the
   *   address is not excluded (free, or allocated to a VM).
   */
  include(kind: RangeKind, rangeName: string, address: string): Promise<void> {
    const n = kind === 'ipv4' ? ipv4ToInt(address) : macToInt(address);
    return this.tx.run(async (em) => {
      const range = await this.range(em, kind, rangeName);
      if (n < range.startAddress || n > range.endAddress) throw new InputError(`${address} is outside range ${rangeName}`);
      if (!(await new SlotRepository(em).include(kind, range.id, n))) {
        const text = kind === 'ipv4' ? intToIpv4(n) : intToMac(n);
        throw new ConflictError(`${text} is not excluded in ${rangeName}`);
      }
    });
  }

  /** @throws NotFoundError when no server has that name or uuid. */
  private async server(em: EntityManager, nameOrUuid: string): Promise<Server> {
    const s = await new ServerRepository(em).findByNameOrUuid(nameOrUuid);
    if (!s) throw new NotFoundError(`no server ${JSON.stringify(nameOrUuid)}`);
    return s;
  }

  /** @throws NotFoundError when no range of `kind` has that name. */
  private async range(em: EntityManager, kind: RangeKind, name: string): Promise<{ id: number; startAddress: number; endAddress: number }> {
    const r = await new RangeRepository(em).findByName(kind, name);
    if (!r) throw new NotFoundError(`no ${kind} range ${JSON.stringify(name)}`);
    return r;
  }
}
