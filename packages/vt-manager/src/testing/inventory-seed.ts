/**
 * Test and benchmark support (not used by the daemons): a random but reproducible inventory of servers, bridges,
 * VMs with NICs and project owners, written through the manager's own repositories (ServerRepository,
 * HostRepository, VmRepository, ProjectOwnerRepository) in batched transactions, so it stays true when the schema
 * changes. Used by the listing tests and `bench/src/listing.ts` (issue #14: 1,000 servers, 10,000 VMs).
 */
import { SecretBox } from '@kvm-crm/shared';
import { openDatabase, type DatabaseOptions } from '../db/data-source.js';
import { VirtualMachine, type VmState } from '../db/entities/virtual-machine.js';
import { useSecretBox } from '../db/secret-columns.js';
import { TransactionRunner } from '../db/transaction-runner.js';
import { HostRepository } from '../repositories/host-repository.js';
import { ProjectOwnerRepository } from '../repositories/project-owner-repository.js';
import { ServerRepository } from '../repositories/server-repository.js';
import { VmRepository, type NewVm } from '../repositories/vm-repository.js';

/** What {@link seedInventory} writes. */
export interface SeedOptions {
  /** Servers (each with 1–3 bridges; about half with reported host facts). */
  servers: number;
  /** VMs, spread at random over the servers and the projects. */
  vms: number;
  /** Projects: `[projectId, owning principal]`; every VM belongs to one of them. */
  projects: Array<[string, string]>;
  /** PRNG seed: equal seeds give equal inventories. */
  seed: number;
  /** Prefix of server and VM names (unique per run when several runs share a database). */
  prefix: string;
  /** Rows per transaction. Default 500. */
  batch?: number;
  /** Put the VMs on these existing servers (their bridges read back) besides the `servers` new ones. */
  onServers?: number[];
}

/** What was seeded. */
export interface SeededInventory {
  /** The new servers' ids, then those of `onServers`. */
  serverIds: number[];
  vmIds: number[];
}

/** mulberry32: a small, fast, reproducible PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A version-4-shaped UUID from the PRNG. */
export function randomUuid(rnd: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const STATES: VmState[] = ['running', 'stopped', 'created (stopped)', 'starting...', 'failed', 'unknown'];
/** Text that exercises escaping in the document and in the XML-RPC string (`&`, `<`, `>`, quotes). */
const ODD_NAMES = ['a&b', 'x<y>', 'say "hi"', "it's", 'plain'];

/**
 * Writes the inventory. Servers get names `<prefix>h<i>`, VMs `<prefix>v<i>`; ids are returned in creation order.
 * @throws the driver's errors (a name or uuid already taken: use another prefix).
 */
export async function seedInventory(tx: TransactionRunner, o: SeedOptions): Promise<SeededInventory> {
  const rnd = prng(o.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const batch = o.batch ?? 500;
  const serverIds: number[] = [];
  const bridgesOf = new Map<number, string[]>();
  for (let from = 0; from < o.servers; from += batch) {
    await tx.run(async (em) => {
      for (let i = from; i < Math.min(o.servers, from + batch); i += 1) {
        const bridges = ['br-mgmt', 'br-data', 'br-x'].slice(0, 1 + Math.floor(rnd() * 3));
        const s = await new ServerRepository(em).createWithBridges({
          uuid: randomUuid(rnd), name: `${o.prefix}h${i}`, agentUrl: `https://10.${(i >> 8) & 255}.${i & 255}.1:9229/`, agentPassword: 'seeded',
          legacy: false, operatingSystemType: 'GNU/Linux', operatingSystemDistribution: pick(['Debian', 'Ubuntu']), operatingSystemVersion: pick(['12', '22.04']),
          bridges: bridges.map((name, k) => ({ name, isMgmt: k === 0, switchPort: rnd() < 0.5 ? String(k + 1) : null })),
        });
        if (rnd() < 0.5) {
          await new HostRepository(em).storeFacts(s.id, {
            hypervisor: 'kvm', cpuModel: 'Seeded CPU', cpus: 8 + Math.floor(rnd() * 56), cpuSockets: 1, cpuCoresPerSocket: 8, cpuThreadsPerCore: 2,
            cpuFrequencyMHz: 2000 + Math.floor(rnd() * 1500), memoryTotalMiB: 65536, memoryFreeMiB: 30000, storageTotalGiB: 1000, storageFreeGiB: 500,
            libvirtVersion: '9.0.0', qemuVersion: '7.2.0', bridges,
          }, new Date());
        }
        serverIds.push(s.id);
        bridgesOf.set(s.id, bridges);
      }
    });
  }
  if (o.onServers?.length) {
    await tx.run(async (em) => {
      for (const id of o.onServers!) {
        const s = await new ServerRepository(em).findByUuid((await new ServerRepository(em).getById(id)).uuid, true);
        serverIds.push(id);
        bridgesOf.set(id, [...(s?.bridges ?? [])].sort((a, b) => Number(b.isMgmt) - Number(a.isMgmt) || a.id - b.id).map((b) => b.name));
      }
    });
  }
  await tx.run(async (em) => {
    const owners = new ProjectOwnerRepository(em);
    for (const [projectId, principal] of o.projects) if ((await owners.ownerOf(projectId)) === undefined) await owners.claim(projectId, principal);
  });
  const vmIds: number[] = [];
  for (let from = 0; from < o.vms; from += batch) {
    await tx.run(async (em) => {
      const repo = new VmRepository(em);
      for (let i = from; i < Math.min(o.vms, from + batch); i += 1) {
        const serverId = pick(serverIds);
        const [projectId] = pick(o.projects);
        const bridges = bridgesOf.get(serverId)!;
        const vm: NewVm = {
          uuid: randomUuid(rnd), name: `${o.prefix}v${i}`, serverId, projectId, projectName: rnd() < 0.8 ? pick(ODD_NAMES) : null,
          sliceId: `slice-${Math.floor(rnd() * 4)}`, sliceName: rnd() < 0.8 ? `slice ${i % 7}` : null,
          operatingSystemType: 'GNU/Linux', operatingSystemVersion: rnd() < 0.9 ? '12' : null, operatingSystemDistribution: rnd() < 0.9 ? 'Debian' : null,
          memoryMb: 256 * (1 + Math.floor(rnd() * 16)), vcpus: 1 + Math.floor(rnd() * 4), hdSizeMb: null, maxMemoryMb: null, dataDisksMb: null,
          sshKeys: null, guestUsers: null, guestHostname: null, keepDisksOnDelete: false, hdOriginPath: 'kvm-crm-test/kvm-crm-test.qcow2',
          hdSetupType: 'file-image', virtualizationSetupType: 'hvm', state: pick(STATES), callbackUrl: 'https://clearinghouse.example/callback',
          interfaces: bridges.map((bridge, k) => ({
            name: `eth${k}`, position: k, isMgmt: k === 0, mac: `02:${[i >> 16, i >> 8, i, k, 1].map((b) => (b & 255).toString(16).padStart(2, '0')).join(':')}`,
            ip: k === 0 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : null, netmask: k === 0 ? '255.0.0.0' : null, gateway: k === 0 ? '10.0.0.1' : null,
            dns1: k === 0 ? '10.0.0.2' : null, dns2: null, bridge,
          })),
        };
        vmIds.push((await repo.createWithInterfaces(vm)).id);
      }
    });
  }
  return { serverIds, vmIds };
}

/**
 * Opens (and migrates) a manager database from outside the manager, as the manager does: sealed columns use the
 * key in `secretsKeyFile` (created when missing), so a manager started on that key file reads what is written here.
 * For seeding and for changing the inventory under a running manager (benchmarks). `close` ends the connection.
 */
export async function openInventoryDatabase(db: DatabaseOptions, secretsKeyFile: string): Promise<{ tx: TransactionRunner; close: () => Promise<void> }> {
  useSecretBox(SecretBox.fromKeyFile(secretsKeyFile));
  const ds = await openDatabase(db);
  return { tx: new TransactionRunner(ds), close: () => ds.destroy() };
}

/**
 * A listed change for benchmarks: flips the VM's state between `running` and `stopped` (any other state becomes
 * `running`) through VmRepository, which moves the inventory version as any state change does. `n` is unused by the
 * flip and kept for callers that count changes.
 */
export async function touchVm(tx: TransactionRunner, vmId: number, n: number): Promise<void> {
  void n;
  await tx.run(async (em) => {
    const vm = await em.findOneByOrFail(VirtualMachine, { id: vmId });
    await new VmRepository(em).setState(vmId, vm.state === 'running' ? 'stopped' : 'running');
  });
}
