/**
 * Capacity accounting and placement, the pure part (docs/decisions/019-capacity-accounting-and-placement.md): what
 * a create asks for, what a host may still promise (its reported size × the overcommit ratios, less what its VMs
 * were promised), whether a VM fits, and which host a policy picks. No I/O.
 */
import type { Action } from '@kvm-crm/shared';

/** What one VM is promised: vCPUs, memory in MiB, disk in MiB (virtual sizes). */
export interface Resources {
  vcpus: number;
  memoryMiB: number;
  diskMiB: number;
}

/** What the VMs of one host were promised, and how many VMs they are. */
export interface Usage extends Resources {
  vms: number;
}

/** How much of a host may be promised, as ratios of what it has (manager option `capacity`). */
export interface Overcommit {
  cpuOvercommit: number;
  memoryOvercommit: number;
  diskOvercommit: number;
}

/** The host facts the accounting needs (columns of the `server` row; null until the agent reported them). */
export interface HostSize {
  cpus: number | null;
  memoryTotalMiB: number | null;
  storageTotalGiB: number | null;
}

/** A host's capacity for VMs: `total` (size × ratio), `used` (promised), `free` (total − used, may be < 0). */
export interface HostCapacity {
  /** Null when the agent never reported the host's size: the host's capacity is unknown. */
  total: Resources | null;
  used: Usage;
  free: Resources | null;
}

/** Placement policies (manager option `placement.policy`). */
export type PlacementPolicy = 'spread' | 'pack' | 'round-robin';
export const PLACEMENT_POLICIES: readonly PlacementPolicy[] = ['spread', 'pack', 'round-robin'];

/** No usage: a host without VMs. */
export const NO_USAGE: Usage = { vcpus: 0, memoryMiB: 0, diskMiB: 0, vms: 0 };

/**
 * What a create asks for: its vCPUs and memory, and as disk the virtual size asked (`hd-size-mb`, 0 when absent:
 * the template's own size is not known to the manager) plus its data disks (`<data-disks><disk size-mb>`).
 */
export function resourcesAsked(action: Action, req: { vcpus: number; memoryMb: number; hdSizeMb: number | null }): Resources {
  const dataDisks = action.server?.virtualMachines[0]?.xenConfiguration?.dataDisks ?? [];
  const dataMiB = dataDisks.reduce((sum, d) => sum + (d.sizeMb ?? 0), 0);
  return { vcpus: req.vcpus, memoryMiB: req.memoryMb, diskMiB: (req.hdSizeMb ?? 0) + dataMiB };
}

/**
 * What a `modify` adds to its host's promises: the growth of vCPUs and memory (MiB) from what the VM has (`has`) to
 * what is asked (`want`; absent: unchanged). A shrink or an unchanged value adds 0. A modify never changes a disk,
 * so `diskMiB` is 0. All zero: nothing to check.
 */
export function growthAsked(has: { vcpus: number; memoryMb: number }, want: { vcpus?: number; memoryMb?: number }): Resources {
  const grow = (w: number | undefined, h: number) => Math.max(0, (w ?? h) - h);
  return { vcpus: grow(want.vcpus, has.vcpus), memoryMiB: grow(want.memoryMb, has.memoryMb), diskMiB: 0 };
}

/** A host's capacity from its reported size, the ratios and its usage. */
export function hostCapacity(size: HostSize, used: Usage, ratios: Overcommit): HostCapacity {
  if (size.cpus === null || size.memoryTotalMiB === null || size.storageTotalGiB === null) return { total: null, used, free: null };
  const total: Resources = {
    vcpus: Math.floor(size.cpus * ratios.cpuOvercommit),
    memoryMiB: Math.floor(size.memoryTotalMiB * ratios.memoryOvercommit),
    diskMiB: Math.floor(size.storageTotalGiB * 1024 * ratios.diskOvercommit),
  };
  return { total, used, free: { vcpus: total.vcpus - used.vcpus, memoryMiB: total.memoryMiB - used.memoryMiB, diskMiB: total.diskMiB - used.diskMiB } };
}

/**
 * MiB as GiB for messages, one decimal at most (`1.5`, `20`): rounded down (`floor`, for what is free) or up (`ceil`,
 * for what is asked), so a refusal never reads "8 GiB free, 8 GiB asked".
 */
export function gib(mib: number, round: 'floor' | 'ceil' = 'floor'): string {
  return String(Math[round]((mib / 1024) * 10 - 1e-9 * (round === 'ceil' ? 1 : -1)) / 10);
}

/**
 * Why `asked` does not fit host `name` with `free` left, e.g. "host kvm2 has 512 MiB free for VMs, 2048 MiB asked"
 * (memory first, then vCPUs, then disk); undefined when it fits. An unknown capacity (`free` null) fits.
 */
export function shortfall(name: string, free: Resources | null, asked: Resources): string | undefined {
  if (!free) return undefined;
  const left = (n: number) => Math.max(0, n);
  if (asked.memoryMiB > free.memoryMiB) return `host ${name} has ${left(free.memoryMiB)} MiB free for VMs, ${asked.memoryMiB} MiB asked`;
  if (asked.vcpus > free.vcpus) return `host ${name} has ${left(free.vcpus)} vCPUs free for VMs, ${asked.vcpus} asked`;
  if (asked.diskMiB > free.diskMiB) return `host ${name} has ${gib(left(free.diskMiB))} GiB free for VMs, ${gib(asked.diskMiB, 'ceil')} GiB asked`;
  return undefined;
}

/** A host as placement sees it: why it cannot take new VMs (`excluded`), else its free capacity. */
export interface Candidate {
  name: string;
  /** Down, disabled, draining or without reported capacity; such a host is never chosen. */
  excluded?: string;
  free: Resources | null;
  vms: number;
}

/** A candidate's verdict in a {@link Choice}: its free memory for VMs, and why it was not eligible. */
export interface CandidateVerdict {
  host: string;
  freeMemoryMiB: number | null;
  why?: string;
}

/** What {@link choose} decided: the host (undefined: none fits) and every candidate's verdict, by name. */
export interface Choice {
  host: string | undefined;
  candidates: CandidateVerdict[];
}

/**
 * Picks a host for `asked` among `candidates` under `policy`:
 * - `spread`: the most free memory for VMs (then fewer VMs, then name);
 * - `pack`: the least free memory that still fits (then name);
 * - `round-robin`: by name, the first host after `lastChosen` that fits (wrapping round), as kvm-cloud.
 * Excluded hosts and hosts the VM does not fit are never chosen.
 */
export function choose(policy: PlacementPolicy, candidates: readonly Candidate[], asked: Resources, lastChosen?: string): Choice {
  const byName = [...candidates].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const verdicts: CandidateVerdict[] = byName.map((c) => {
    const why = c.excluded ?? (c.free ? shortfall(c.name, c.free, asked) : `host ${c.name} has not reported its capacity`);
    return { host: c.name, freeMemoryMiB: c.free?.memoryMiB ?? null, ...(why ? { why } : {}) };
  });
  const fitting = byName.filter((_, i) => verdicts[i]?.why === undefined);
  let host: Candidate | undefined;
  if (policy === 'spread') {
    host = [...fitting].sort((a, b) => (b.free?.memoryMiB ?? 0) - (a.free?.memoryMiB ?? 0) || a.vms - b.vms)[0];
  } else if (policy === 'pack') {
    host = [...fitting].sort((a, b) => (a.free?.memoryMiB ?? 0) - (b.free?.memoryMiB ?? 0))[0];
  } else {
    host = (lastChosen === undefined ? undefined : fitting.find((c) => c.name > lastChosen)) ?? fitting[0];
  }
  return { host: host?.name, candidates: verdicts };
}
