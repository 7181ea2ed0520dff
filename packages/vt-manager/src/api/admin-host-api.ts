/**
 * `/xmlrpc/admin`, the host methods (decision record 019): the capacity report, the host facts agents reported,
 * and the placement flags of a server (enabled, draining). Spread into the admin method table by admin-api.ts.
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { HostRepository } from '../repositories/host-repository.js';
import type { CapacityService } from '../services/capacity-service.js';
import type { HostFactsService } from '../services/host-facts-service.js';
import type { InventoryService } from '../services/inventory-service.js';
import { parsePlacement } from '../services/placement/placement-service.js';

/** What the host methods need. */
export interface AdminHostDeps {
  tx: TransactionRunner;
  inventory: InventoryService;
  capacity: CapacityService;
  /** Asks an agent for its host facts (at registration, and `host.refresh`). */
  hostFacts: HostFactsService;
}

function serverField(o: Record<string, unknown>): string {
  const v = o['server'];
  if (typeof v !== 'string' || v === '') throw new InputError('missing field server (a server name or uuid)');
  return v;
}

function flag(o: Record<string, unknown>, key: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new InputError(`field ${key} must be a boolean`);
  return v;
}

/** The placement decision of an action as the admin API shows it (`action.show`): a struct, or `""` when none. */
export function placementView(json: string | null): Record<string, unknown> | string {
  const d = parsePlacement(json);
  return d ? { ...d } : '';
}

/** The host methods of the admin endpoint. */
export function adminHostApi(deps: AdminHostDeps): Record<string, XmlRpcMethod> {
  const setFlag = async (p: unknown[], key: 'enabled' | 'draining') => {
    const o = structParam(p, 0, 'server');
    const value = flag(o, key);
    await deps.tx.run(async (em) => {
      const s = await deps.inventory.getServer(em, serverField(o));
      const hosts = new HostRepository(em);
      await (key === 'enabled' ? hosts.setEnabled(s.id, value) : hosts.setDraining(s.id, value));
    });
    return true;
  };
  return {
    /**
     * `host.capacity()` → per host by name: `host`, `state` (up, down, disabled, draining), `vms`, and `cpus`,
     * `memoryMiB`, `diskGiB` each `{total, used, available}` (total = reported size × overcommit ratio; nil when
     * the agent never reported its size), `refreshedAt`.
     */
    'host.capacity': async () => deps.capacity.report(deps.tx.manager),
    /** `host.list()` → the facts each agent reported (nil until reported), by name. */
    'host.list': async () =>
      (await deps.inventory.listServers(deps.tx.manager)).map((s) => ({
        host: s.name, enabled: s.enabled, available: s.available, draining: s.draining, hypervisor: s.hypervisor, cpuModel: s.cpuModel, cpus: s.cpus,
        cpuSockets: s.cpuSockets, cpuCoresPerSocket: s.cpuCoresPerSocket, cpuThreadsPerCore: s.cpuThreadsPerCore, cpuFrequencyMHz: s.cpuFrequencyMHz,
        memoryTotalMiB: s.memoryTotalMiB, memoryFreeMiB: s.memoryFreeMiB, storageTotalGiB: s.storageTotalGiB, storageFreeGiB: s.storageFreeGiB,
        libvirtVersion: s.libvirtVersion, qemuVersion: s.qemuVersion, bridges: s.bridgesPresent ? s.bridgesPresent.split(',') : [],
        refreshedAt: s.inventoryRefreshedAt ? s.inventoryRefreshedAt.toISOString() : '',
      })),
    /** `host.refresh({server})` → whether the agent reported its facts now (false: legacy agent or failure, logged). */
    'host.refresh': async (p) => deps.hostFacts.refresh(await deps.inventory.getServer(deps.tx.manager, serverField(structParam(p, 0, 'server')))),
    /** `server.setEnabled({server, enabled})`: a disabled server gets no new VM (placed or pinned). */
    'server.setEnabled': async (p) => setFlag(p, 'enabled'),
    /** `server.setDraining({server, draining})`: a draining server keeps its VMs and gets no new one. */
    'server.setDraining': async (p) => setFlag(p, 'draining'),
  };
}
