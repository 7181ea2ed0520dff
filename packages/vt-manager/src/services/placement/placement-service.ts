/**
 * Placement and the capacity check of a create (decision record 019), inside the create's transaction, before any
 * address is allocated: a pinned create (a server uuid) gets that server if it is enabled, not draining and the
 * VM fits; an unpinned one gets the host the policy picks among the hosts that are up, enabled, not draining and
 * have room. The server rows involved are locked (MySQL `SELECT … FOR UPDATE`; SQLite's single writer), so the
 * usage read here and the VM row the caller inserts are one step: concurrent creates never overbook a host.
 */
import { ConflictError, NotFoundError } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { Server } from '../../db/entities/server.js';
import {
  choose,
  hostCapacity,
  NO_USAGE,
  shortfall,
  type Candidate,
  type CandidateVerdict,
  type Overcommit,
  type PlacementPolicy,
  type Resources,
} from '../../domain/capacity.js';
import { AllocationRepository } from '../../repositories/allocation-repository.js';
import { HostRepository } from '../../repositories/host-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';

/** What is recorded on the create action (`action.placement`, shown by `vtctl action show`). */
export interface PlacementDecision {
  /** The server chosen (its name). */
  host: string;
  /** The policy that chose it, or `pinned` when the request named the server. */
  policy: PlacementPolicy | 'pinned';
  /** What the VM asked for (memory and disk in MiB). */
  asked: Resources;
  /** Each host considered, by name: its free memory for VMs before this VM, and why it was not eligible. */
  candidates: CandidateVerdict[];
}

/** Resolved placement settings. */
export interface PlacementSettings {
  capacity: Overcommit;
  policy: PlacementPolicy;
}

/** How many recent decisions round-robin reads to find the last host it chose. */
const ROUND_ROBIN_LOOKBACK = 50;
/** The `placement` column's width. */
const PLACEMENT_COLUMN = 2048;

/** Chooses and checks the host of a create. */
export class PlacementService {
  constructor(private readonly settings: PlacementSettings) {}

  /**
   * The server for a create asking `asked`, with its bridges, and the decision. `serverUuid` null: placed by the
   * policy. Locks the server rows involved until `em`'s transaction ends (MySQL).
   * @throws NotFoundError for an unknown pinned server; ConflictError for a disabled or draining pinned server, a
   *   VM that does not fit its pinned server ("host kvm2 has 512 MiB free for VMs, 2048 MiB asked"), or when no
   *   host can take it (with each host's reason).
   */
  async place(em: EntityManager, serverUuid: string | null, asked: Resources): Promise<{ server: Server; decision: PlacementDecision }> {
    return serverUuid === null ? this.placeAnywhere(em, asked) : this.placePinned(em, serverUuid, asked);
  }

  /**
   * The capacity check of a `modify` that grows a VM on server `serverId` by `growth` (vCPUs, memory MiB; see
   * `growthAsked` in domain/capacity.ts), with the same ratios, row lock and message as a create's: the server row is
   * locked until `em`'s transaction ends (MySQL), then its usage (which counts the open modifies of its other VMs at
   * their asked size, repositories/allocation-repository.ts) is read. A growth of nothing (a shrink, or unchanged)
   * is not checked and locks nothing; neither is a host whose capacity is unknown.
   * @throws ConflictError when the growth does not fit ("host kvm2 has 512 MiB free for VMs, 2048 MiB asked", the
   *   asked amount being the growth); NotFoundError when the server row is gone.
   */
  async checkGrowth(em: EntityManager, serverId: number, growth: Resources): Promise<void> {
    if (growth.vcpus <= 0 && growth.memoryMiB <= 0 && growth.diskMiB <= 0) return;
    const [srv] = await new HostRepository(em).lockForPlacement([serverId]);
    if (!srv) throw new NotFoundError(`no server with id ${serverId}`);
    const usage = (await new AllocationRepository(em).usageByServer([serverId])).get(serverId) ?? NO_USAGE;
    const why = shortfall(srv.name, hostCapacity(srv, usage, this.settings.capacity).free, growth);
    if (why) throw new ConflictError(why);
  }

  /** Records the decision (JSON, cut to the column) and the disk asked on the create action `actionId`. */
  async record(em: EntityManager, actionId: string, decision: PlacementDecision): Promise<void> {
    await new AllocationRepository(em).recordPlacement(actionId, decision.asked.diskMiB, placementJson(decision));
  }

  private async placePinned(em: EntityManager, serverUuid: string, asked: Resources): Promise<{ server: Server; decision: PlacementDecision }> {
    const srv = await new ServerRepository(em).findByUuid(serverUuid, true);
    if (!srv) throw new NotFoundError(`no server with uuid ${serverUuid}`);
    if (!srv.enabled) throw new ConflictError(`server ${srv.name} is disabled`);
    if (srv.draining) throw new ConflictError(`server ${srv.name} is draining: it takes no new VMs`);
    const [locked] = await new HostRepository(em).lockForPlacement([srv.id]);
    const usage = (await new AllocationRepository(em).usageByServer([srv.id])).get(srv.id) ?? NO_USAGE;
    const free = hostCapacity(locked ?? srv, usage, this.settings.capacity).free;
    const why = shortfall(srv.name, free, asked);
    if (why) throw new ConflictError(why);
    return { server: srv, decision: { host: srv.name, policy: 'pinned', asked, candidates: [{ host: srv.name, freeMemoryMiB: free?.memoryMiB ?? null }] } };
  }

  private async placeAnywhere(em: EntityManager, asked: Resources): Promise<{ server: Server; decision: PlacementDecision }> {
    const servers = await new ServerRepository(em).list();
    if (servers.length === 0) throw new ConflictError('no server is registered to place the VM on');
    const eligible = (s: Server) => s.enabled && s.available && !s.draining;
    // Lock the hosts that may take the VM (in id order), then read them and their usage as committed now.
    const locked = await new HostRepository(em).lockForPlacement(servers.filter(eligible).map((s) => s.id));
    const fresh = new Map(locked.map((s) => [s.id, s]));
    // Every host's usage (the excluded ones for the record); only the locked hosts' figures decide.
    const usage = await new AllocationRepository(em).usageByServer();
    const candidates: Candidate[] = servers.map((s0) => {
      const s = fresh.get(s0.id) ?? s0;
      const used = usage.get(s.id) ?? NO_USAGE;
      const excluded = !s.enabled ? `host ${s.name} is disabled` : s.draining ? `host ${s.name} is draining` : !s.available ? `host ${s.name} is down` : undefined;
      return { name: s.name, vms: used.vms, free: hostCapacity(s, used, this.settings.capacity).free, ...(excluded ? { excluded } : {}) };
    });
    const policy = this.settings.policy;
    const last = policy === 'round-robin' ? await this.lastAutoPlaced(em) : undefined;
    const choice = choose(policy, candidates, asked, last);
    if (choice.host === undefined) {
      throw new ConflictError(`no host can take the VM (${asked.memoryMiB} MiB, ${asked.vcpus} vCPUs): ${choice.candidates.map((c) => c.why).join('; ')}`);
    }
    const chosen = servers.find((s) => s.name === choice.host);
    const server = chosen ? await new ServerRepository(em).findByUuid(chosen.uuid, true) : null;
    if (!server) throw new Error(`server ${String(choice.host)} vanished during placement`);
    return { server, decision: { host: server.name, policy, asked, candidates: choice.candidates } };
  }

  /** The host of the newest decision made by a policy (pinned ones do not move the round-robin cursor). */
  private async lastAutoPlaced(em: EntityManager): Promise<string | undefined> {
    for (const json of await new AllocationRepository(em).recentPlacements(ROUND_ROBIN_LOOKBACK)) {
      const d = parsePlacement(json);
      if (d && d.policy !== 'pinned') return d.host;
    }
    return undefined;
  }
}

/** The decision as stored: JSON, with as many candidates as fit the column (the chosen host always named). */
export function placementJson(decision: PlacementDecision): string {
  let d = decision;
  let json = JSON.stringify(d);
  while (json.length > PLACEMENT_COLUMN && d.candidates.length > 0) {
    d = { ...d, candidates: d.candidates.slice(0, -1) };
    json = JSON.stringify(d);
  }
  return json;
}

/** A stored decision, or undefined when `json` is not one. */
export function parsePlacement(json: string | null): PlacementDecision | undefined {
  if (!json) return undefined;
  try {
    const d = JSON.parse(json) as Partial<PlacementDecision>;
    return typeof d.host === 'string' && typeof d.policy === 'string' ? (d as PlacementDecision) : undefined;
  } catch {
    return undefined; // a hand-edited or cut row: shown as no decision
  }
}
