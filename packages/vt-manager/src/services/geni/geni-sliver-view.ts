/**
 * Read side of GENI slivers: the sliver structs (docs/geni-v3.md §1.5, §3) and manifest entries (§7.3) of stored
 * slivers, from the sliver, VM and action rows.
 */
import { formatGeniTime } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { GeniSliver } from '../../db/entities/geni-sliver.js';
import type { VirtualMachine } from '../../db/entities/virtual-machine.js';
import { allocationStatusOf, operationalStatusOf } from '../../domain/geni-sliver-state.js';
import { ActionRepository } from '../../repositories/action-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';
import { VmRepository } from '../../repositories/vm-repository.js';
import type { GeniUser } from './geni-options.js';
import type { ManifestSliver } from './geni-ports.js';

/** A sliver struct as GENI returns it. Never carries `geni_error` (§1.4: the RO fails any reply that has one). */
export interface SliverStruct {
  geni_sliver_urn: string;
  geni_allocation_status: string;
  geni_operational_status?: string;
  geni_expires: string;
}

/** A sliver with what its status is derived from. */
export interface SliverView {
  sliver: GeniSliver;
  serverName: string;
  vm: VirtualMachine | null;
  operational: string;
}

/** Reads the VM, open action and create outcome of each sliver and derives its states. */
export async function viewSlivers(em: EntityManager, slivers: GeniSliver[]): Promise<SliverView[]> {
  const names = new Map((await new ServerRepository(em).list()).map((s) => [s.id, s.name]));
  const actions = new ActionRepository(em);
  const vms = new VmRepository(em);
  const out: SliverView[] = [];
  for (const s of slivers) {
    const vm = s.allocationState === 'allocated' ? null : await vms.findWithInterfaces(s.vmUuid);
    const open = vm ? await actions.openActionOfVm(s.vmUuid) : null;
    const create = !vm && s.createActionId ? await actions.findByUuid(s.createActionId) : null;
    const createFailed = s.failure !== '' || create?.status === 'FAILED';
    out.push({
      sliver: s, serverName: names.get(s.serverId) ?? '?', vm,
      operational: operationalStatusOf({ allocationState: s.allocationState, startWanted: s.startWanted, vmState: vm?.state ?? null, openAction: open?.type ?? null, createFailed }),
    });
  }
  return out;
}

/** The sliver struct of a view (§1.5: URN, allocation, operational, UTC expiry). */
export function sliverStruct(v: SliverView): SliverStruct {
  return {
    geni_sliver_urn: v.sliver.sliverUrn,
    geni_allocation_status: allocationStatusOf(v.sliver.allocationState),
    geni_operational_status: v.operational,
    geni_expires: formatGeniTime(v.sliver.expiresAt),
  };
}

/** The stored `geni_users` of a sliver (`[]` before Provision). */
export function usersOf(s: GeniSliver): GeniUser[] {
  if (!s.users) return [];
  try {
    const parsed = JSON.parse(s.users) as GeniUser[];
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/** The manifest entry of a view (§7.3): one `ssh-keys` login per user with keys once the VM has a management address. */
export function manifestSliver(v: SliverView): ManifestSliver {
  const ip = v.vm?.interfaces?.find((i) => i.isMgmt)?.ip ?? null;
  const logins = ip ? usersOf(v.sliver).filter((u) => u.keys.length > 0).map((u) => ({ hostname: ip, username: u.name })) : [];
  return { clientId: v.sliver.clientId, serverName: v.serverName, sliverUrn: v.sliver.sliverUrn, template: v.sliver.template, logins };
}
