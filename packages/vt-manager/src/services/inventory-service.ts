/**
 * Admin operations on the inventory: servers and their bridges, IPv4 and MAC ranges, subscriptions
 * (docs/ocf-behaviour.md B5). Admins use these through the admin RPC and `vtctl`, never SQL.
 */
import { randomUUID } from 'node:crypto';
import {
  assertPattern,
  BRIDGE_NAME_PATTERN,
  ConflictError,
  InputError,
  isIpv4,
  netmaskToPrefix,
  NotFoundError,
  parsePeerUrl,
  SERVER_NAME_PATTERN,
  UUID_PATTERN,
} from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import { isUniqueViolation } from '../db/driver-errors.js';
import type { Ipv4Range } from '../db/entities/ipv4-range.js';
import type { MacRange } from '../db/entities/mac-range.js';
import type { RangeSubscription } from '../db/entities/range-subscription.js';
import type { Server } from '../db/entities/server.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { RangeRepository } from '../repositories/range-repository.js';
import { ServerRepository } from '../repositories/server-repository.js';
import { SlotRepository } from '../repositories/slot-repository.js';
import { intToIpv4, intToMac, ipv4ToInt, macToInt } from './addresses.js';

/** Input of {@link InventoryService.registerServer}. */
export interface ServerRegistration {
  name: string;
  /** `https://host:port/`; `http://` only with `legacy: true`. */
  agentUrl: string;
  agentPassword: string;
  /** Bridges in order; the first (or the one flagged) is the management bridge. */
  bridges: Array<{ name: string; isMgmt?: boolean; switchPort?: string }>;
  uuid?: string;
  legacy?: boolean;
  operatingSystemType?: string;
  operatingSystemDistribution?: string;
  operatingSystemVersion?: string;
}

/** Input of {@link InventoryService.addIpv4Range}. */
export interface Ipv4RangeInput {
  name: string;
  start: string;
  end: string;
  netmask: string;
  gateway?: string;
  dns1?: string;
  dns2?: string;
  /** Addresses inside the range never handed out (gateway, DNS, reserved). */
  excluded?: string[];
}

const RANGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Largest range accepted, in addresses (a /16). Keeps first-fit scans cheap. */
const MAX_RANGE_SIZE = 65536;

/** The inventory: servers, address ranges and subscriptions (admin operations). */
export class InventoryService {
  constructor(private readonly tx: TransactionRunner) {}

  /**
   * Registers a KVM host and its bridges.
   * @throws InputError for a bad name, URL, bridge name or a plain-http URL without `legacy`;
   *   ConflictError when the name or UUID is taken.
   */
  async registerServer(input: ServerRegistration): Promise<Server> {
    assertPattern(input.name, SERVER_NAME_PATTERN, 'server name');
    const uuid = input.uuid ? assertPattern(input.uuid, UUID_PATTERN, 'server uuid').toLowerCase() : randomUUID();
    const { url, basicAuth } = parsePeerUrl(input.agentUrl);
    if (basicAuth) throw new InputError('agent URL must not carry credentials: the agent password is separate');
    if (url.protocol === 'http:' && !input.legacy) throw new InputError('plain http:// agent URLs are only allowed for servers registered as legacy');
    if (!input.agentPassword || input.agentPassword.length > 128) throw new InputError('agent password must be 1-128 characters');
    if (input.bridges.length === 0) throw new InputError('a server needs at least one bridge');
    const names = new Set<string>();
    for (const b of input.bridges) {
      assertPattern(b.name, BRIDGE_NAME_PATTERN, 'bridge name');
      if (names.has(b.name)) throw new InputError(`bridge ${b.name} listed twice`);
      names.add(b.name);
    }
    const mgmtIndex = Math.max(0, input.bridges.findIndex((b) => b.isMgmt));
    return this.tx.run(async (em) => {
      try {
        return await new ServerRepository(em).createWithBridges({
          uuid,
          name: input.name,
          agentUrl: url.toString(),
          agentPassword: input.agentPassword,
          legacy: input.legacy ?? false,
          operatingSystemType: input.operatingSystemType ?? 'GNU/Linux',
          operatingSystemDistribution: input.operatingSystemDistribution ?? 'Debian',
          operatingSystemVersion: input.operatingSystemVersion ?? '12',
          bridges: input.bridges.map((b, i) => ({ name: b.name, isMgmt: i === mgmtIndex, switchPort: b.switchPort ?? null })),
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`a server named ${input.name} or with uuid ${uuid} exists`);
        throw err;
      }
    });
  }

  /** Servers with their bridges, by name. */
  listServers(em: EntityManager): Promise<Server[]> {
    return new ServerRepository(em).listWithBridges('name');
  }

  /** @throws NotFoundError when no server has that name or UUID. */
  async getServer(em: EntityManager, nameOrUuid: string): Promise<Server> {
    const s = await new ServerRepository(em).findByNameOrUuid(nameOrUuid);
    if (!s) throw new NotFoundError(`no server ${JSON.stringify(nameOrUuid)}`);
    s.bridges.sort((a, b) => Number(b.isMgmt) - Number(a.isMgmt) || a.id - b.id);
    return s;
  }

  /**
   * Creates an IPv4 range with its excluded addresses.
   * @throws InputError for bad addresses, start > end, a range over 65536 addresses, excluded addresses outside
   *   the range; ConflictError for a duplicate name or an overlap with another range, also with a range added
   *   concurrently (adds of one kind take turns on an inventory lock row).
   */
  async addIpv4Range(input: Ipv4RangeInput): Promise<Ipv4Range> {
    assertPattern(input.name, RANGE_NAME, 'range name');
    const start = ipv4ToInt(input.start);
    const end = ipv4ToInt(input.end);
    netmaskToPrefix(input.netmask);
    for (const [k, v] of Object.entries({ gateway: input.gateway, dns1: input.dns1, dns2: input.dns2 })) {
      if (v !== undefined && v !== '' && !isIpv4(v)) throw new InputError(`${k} is not an IPv4 address: ${JSON.stringify(v)}`);
    }
    if (start > end) throw new InputError('range start is after its end');
    if (end - start + 1 > MAX_RANGE_SIZE) throw new InputError(`range too large: at most ${MAX_RANGE_SIZE} addresses`);
    const excluded = (input.excluded ?? []).map((a) => {
      const n = ipv4ToInt(a);
      if (n < start || n > end) throw new InputError(`excluded address ${a} is outside the range`);
      return n;
    });
    return this.tx.run(async (em) => {
      const ranges = new RangeRepository(em);
      await ranges.lockAdds('ipv4'); // the overlap check and the insert are one step for concurrent adds
      const overlap = await ranges.findOverlapping('ipv4', start, end);
      if (overlap) throw new ConflictError(`range overlaps ${overlap.name}`);
      if (await ranges.findByName('ipv4', input.name)) throw new ConflictError(`an IPv4 range named ${input.name} exists`);
      const range = await ranges.createIpv4({
        name: input.name, startAddress: start, endAddress: end, netmask: input.netmask, gateway: input.gateway || null, dns1: input.dns1 || null, dns2: input.dns2 || null,
      });
      const slots = new SlotRepository(em);
      for (const address of new Set(excluded)) await slots.exclude('ipv4', range.id, address);
      return range;
    });
  }

  /**
   * Creates a MAC range (e.g. `02:00:0a:00:00:00`–`02:00:0a:00:00:ff`; use locally administered addresses).
   * @throws InputError for bad addresses, a multicast start, start > end, over 65536 addresses; ConflictError on
   *   a duplicate name or overlap.
   */
  async addMacRange(input: { name: string; start: string; end: string; excluded?: string[] }): Promise<MacRange> {
    assertPattern(input.name, RANGE_NAME, 'range name');
    const start = macToInt(input.start);
    const end = macToInt(input.end);
    if (start > end) throw new InputError('range start is after its end');
    if (end - start + 1 > MAX_RANGE_SIZE) throw new InputError(`range too large: at most ${MAX_RANGE_SIZE} addresses`);
    if (Math.floor(start / 2 ** 40) % 2 === 1) throw new InputError('MAC range must be unicast (first octet even)');
    const excluded = (input.excluded ?? []).map(macToInt);
    return this.tx.run(async (em) => {
      const ranges = new RangeRepository(em);
      await ranges.lockAdds('mac'); // the overlap check and the insert are one step for concurrent adds
      const overlap = await ranges.findOverlapping('mac', start, end);
      if (overlap) throw new ConflictError(`range overlaps ${overlap.name}`);
      if (await ranges.findByName('mac', input.name)) throw new ConflictError(`a MAC range named ${input.name} exists`);
      const range = await ranges.createMac({ name: input.name, startAddress: start, endAddress: end });
      const slots = new SlotRepository(em);
      for (const address of new Set(excluded)) await slots.exclude('mac', range.id, address);
      return range;
    });
  }

  /**
   * Subscribes a server to a range, so its VMs draw addresses from it (lower priority first).
   * @throws NotFoundError for an unknown server or range; ConflictError when already subscribed.
   */
  async subscribe(serverNameOrUuid: string, kind: 'ipv4' | 'mac', rangeName: string, priority = 0): Promise<RangeSubscription> {
    return this.tx.run(async (em) => {
      const server = await this.getServer(em, serverNameOrUuid);
      const ranges = new RangeRepository(em);
      const range = await ranges.findByName(kind, rangeName);
      if (!range) throw new NotFoundError(`no ${kind} range ${JSON.stringify(rangeName)}`);
      if (await ranges.isSubscribed(server.id, kind, range.id)) {
        throw new ConflictError(`server ${server.name} already subscribes to ${rangeName}`);
      }
      return ranges.subscribe(server.id, kind, range.id, priority);
    });
  }

  /** Ranges of both kinds with their usage counts (for `vtctl range list`). */
  async listRanges(em: EntityManager): Promise<Array<Record<string, unknown>>> {
    const ranges = new RangeRepository(em);
    const slots = new SlotRepository(em);
    const out: Array<Record<string, unknown>> = [];
    for (const r of await ranges.list('ipv4')) {
      const used = await slots.count('ipv4', r.id, false);
      const excl = await slots.count('ipv4', r.id, true);
      out.push({ kind: 'ipv4', name: r.name, start: intToIpv4(r.startAddress), end: intToIpv4(r.endAddress), netmask: r.netmask, gateway: r.gateway, size: r.endAddress - r.startAddress + 1, allocated: used, excluded: excl });
    }
    for (const r of await ranges.list('mac')) {
      const used = await slots.count('mac', r.id, false);
      out.push({ kind: 'mac', name: r.name, start: intToMac(r.startAddress), end: intToMac(r.endAddress), size: r.endAddress - r.startAddress + 1, allocated: used });
    }
    return out;
  }
}
