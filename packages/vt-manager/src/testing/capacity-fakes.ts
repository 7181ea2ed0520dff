/**
 * Test support for capacity and placement (decision record 019; test-only): host facts as an agent's
 * `get_host_info` reports them, and a host registered with them.
 */
import type { Server } from '../db/entities/server.js';
import type { HostFacts } from '../services/ports.js';
import { HostFactsService } from '../services/host-facts-service.js';
import { addHost, silentLogger, type World } from './fakes.js';

/** Host facts of a small host (2 CPUs, 1024 MiB, 100 GiB), with `over` replacing any field. */
export function fakeHostFacts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    hypervisor: 'qemu', cpuModel: 'Test CPU', cpus: 2, cpuSockets: 1, cpuCoresPerSocket: 2, cpuThreadsPerCore: 1, cpuFrequencyMHz: 2400,
    memoryTotalMiB: 1024, memoryFreeMiB: 900, storageTotalGiB: 100, storageFreeGiB: 80, libvirtVersion: '9.0.0', qemuVersion: '7.2.0',
    bridges: ['br-data', 'br-mgmt'], ...over,
  };
}

/**
 * Registers host `name` as {@link addHost} does (own IPv4 and MAC ranges, `n` tells them apart) and stores the facts
 * its fake agent reports (`facts`), as registration through the admin API does.
 */
export async function addHostWithFacts(w: World, name: string, uuid: string, n: number, facts: Partial<HostFacts> = {}): Promise<Server> {
  const s = await addHost(w, name, uuid, n);
  w.agent.hostInfo.set(name, fakeHostFacts(facts));
  await new HostFactsService(w.tx, w.agent, silentLogger()).refresh(s);
  return s;
}
