/**
 * IPAM: IPv4 and MAC allocation from the ranges a server subscribes to (docs/architecture.md decision 7).
 *
 * Taken addresses are rows (`ipv4_slot`, `mac_slot`) with a unique index on the address; free addresses have no
 * row. Allocation is lowest-free-first inside the caller's transaction, searched from the range's next-free cursor
 * (every address below it is taken; decision 032), so it does not slow down as the range fills. A unique-index violation (a concurrent
 * allocator took the same address) is retried with the next free address, so two requests or two managers can
 * never hand out one address.
 *
 * On MySQL/MariaDB the range row is locked first (`SELECT … FOR UPDATE`): allocators of one range, in any manager
 * process, take turns until their transactions end, and (at READ COMMITTED, see TransactionRunner) each sees the
 * slots the previous one committed, so no allocation collides or fails while the range has free addresses
 * (docs/decisions/008). SQLite transactions are serialised already.
 */
import { ConflictError, InputError } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import { isUniqueViolation } from '../db/driver-errors.js';
import { RangeRepository, type RangeKind } from '../repositories/range-repository.js';
import { SlotRepository } from '../repositories/slot-repository.js';
import { intToIpv4, intToMac, ipv4ToInt, macToInt } from './addresses.js';

/** An allocated IPv4 address with its range's network settings. */
export interface Ipv4Lease {
  address: string;
  netmask: string;
  gateway: string | null;
  dns1: string | null;
  dns2: string | null;
}

const MAX_RACE_RETRIES = 20;

/** Allocates and releases addresses inside the caller's transaction (see the file comment). */
export class IpamService {
  /**
   * Allocates one IPv4 address for `vmUuid` from the server's subscribed IPv4 ranges (priority order).
   * @throws ConflictError `IPv4 pool exhausted …` when every subscribed range is full, or the server has none.
   */
  async allocateIpv4(em: EntityManager, serverId: number, vmUuid: string): Promise<Ipv4Lease> {
    const ranges = new RangeRepository(em);
    const subs = await ranges.subscriptions(serverId, 'ipv4');
    if (subs.length === 0) throw new ConflictError('IPv4 pool exhausted: the server subscribes to no IPv4 range');
    for (const sub of subs) {
      const range = await ranges.lock('ipv4', sub.rangeId);
      const address = await this.allocateIn(em, 'ipv4', range, vmUuid);
      if (address !== undefined) {
        return { address: intToIpv4(address), netmask: range.netmask, gateway: range.gateway, dns1: range.dns1, dns2: range.dns2 };
      }
    }
    throw new ConflictError(`IPv4 pool exhausted: no free address in ${subs.length} subscribed range(s)`);
  }

  /**
   * Reserves the IPv4 address `address` for `vmUuid` (an admin's `vtctl vm create --ip`): it must lie in one of the
   * IPv4 ranges `server` subscribes to, and be neither allocated nor excluded. The range row is locked first, as for
   * {@link allocateIpv4}.
   * @throws InputError when `address` is not an IPv4 address or lies in no subscribed range (the message names the
   *   server's ranges); ConflictError when it is allocated or excluded.
   */
  async reserveIpv4(em: EntityManager, server: { id: number; name: string }, vmUuid: string, address: string): Promise<Ipv4Lease> {
    const n = ipv4ToInt(address);
    const ranges = new RangeRepository(em);
    const subs = await ranges.subscriptions(server.id, 'ipv4');
    const described: string[] = [];
    for (const sub of subs) {
      const range = await ranges.lock('ipv4', sub.rangeId);
      described.push(`${range.name} ${intToIpv4(range.startAddress)}-${intToIpv4(range.endAddress)}`);
      if (n < range.startAddress || n > range.endAddress) continue;
      try {
        await new SlotRepository(em).allocate('ipv4', range.id, n, vmUuid);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        throw new ConflictError(`address ${address} of range ${range.name} is already allocated or excluded`);
      }
      return { address: intToIpv4(n), netmask: range.netmask, gateway: range.gateway, dns1: range.dns1, dns2: range.dns2 };
    }
    throw new InputError(`address ${address} lies in no IPv4 range of server ${server.name} (${described.length ? described.join(', ') : 'it subscribes to none'})`);
  }

  /**
   * Allocates one MAC address for `vmUuid` from the server's subscribed MAC ranges.
   * @throws ConflictError `MAC pool exhausted …` when all are full or none is subscribed.
   */
  async allocateMac(em: EntityManager, serverId: number, vmUuid: string): Promise<string> {
    const ranges = new RangeRepository(em);
    const subs = await ranges.subscriptions(serverId, 'mac');
    if (subs.length === 0) throw new ConflictError('MAC pool exhausted: the server subscribes to no MAC range');
    for (const sub of subs) {
      const range = await ranges.lock('mac', sub.rangeId);
      const address = await this.allocateIn(em, 'mac', range, vmUuid);
      if (address !== undefined) return intToMac(address);
    }
    throw new ConflictError(`MAC pool exhausted: no free address in ${subs.length} subscribed range(s)`);
  }

  /**
   * Reserves the MAC address `mac` for `vmUuid` (a restore keeping its identity, decision 026): it must lie in one of
   * the MAC ranges `server` subscribes to and be neither allocated nor excluded. The range row is locked first.
   * @throws InputError when it lies in no subscribed range; ConflictError when it is allocated or excluded.
   */
  async reserveMac(em: EntityManager, server: { id: number; name: string }, vmUuid: string, mac: string): Promise<string> {
    const n = macToInt(mac);
    const ranges = new RangeRepository(em);
    for (const sub of await ranges.subscriptions(server.id, 'mac')) {
      const range = await ranges.lock('mac', sub.rangeId);
      if (n < range.startAddress || n > range.endAddress) continue;
      try {
        await new SlotRepository(em).allocate('mac', range.id, n, vmUuid);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        throw new ConflictError(`MAC ${intToMac(n)} of range ${range.name} is already allocated or excluded`);
      }
      return intToMac(n);
    }
    throw new InputError(`MAC ${mac} lies in no MAC range of server ${server.name}`);
  }

  /** Releases every IPv4 and MAC address owned by `vmUuid` (idempotent). Returns how many were released. */
  async releaseAll(em: EntityManager, vmUuid: string): Promise<number> {
    return new SlotRepository(em).releaseAllOf(vmUuid);
  }

  /**
   * The lowest free address of the (locked) range, taken for `vmUuid`; undefined when the range is full. Searches
   * from the range's next-free cursor (decision 032: every address below it is taken), so the cost does not grow
   * with the number of taken addresses; the cursor then moves past the address taken.
   */
  private async allocateIn(
    em: EntityManager,
    kind: RangeKind,
    range: { id: number; startAddress: number; endAddress: number; nextFree: number | null },
    vmUuid: string,
  ): Promise<number | undefined> {
    const slots = new SlotRepository(em);
    let from = Math.max(range.startAddress, range.nextFree ?? range.startAddress);
    for (let attempt = 0; attempt < MAX_RACE_RETRIES; attempt++) {
      const address = await slots.firstFreeFrom(kind, from, range.endAddress);
      if (address === undefined) return undefined;
      try {
        await slots.allocate(kind, range.id, address, vmUuid);
        await slots.raiseCursor(kind, range.id, address + 1);
        return address;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        from = address + 1;
      }
    }
    throw new ConflictError('address allocation kept colliding with concurrent requests; try again');
  }
}
