/**
 * GENI sliver states from our sliver, VM and action rows (docs/geni-v3.md §5.2, decision record 022). Pure.
 */
import { createHash } from 'node:crypto';
import type { GeniAllocationState } from '../db/entities/geni-sliver.js';

/** What the mapping reads: the sliver's state and wishes, its VM (null: no VM row), its open action and its create's end. */
export interface SliverFacts {
  allocationState: GeniAllocationState;
  startWanted: boolean;
  /** The VM's state (`running`, `creating...`, …), null when there is no VM row. */
  vmState: string | null;
  /** Type of the VM's open (QUEUED/ONGOING) action, if any. */
  openAction: string | null;
  /** The create action failed (or was refused): the VM is gone, the sliver failed. */
  createFailed: boolean;
}

/** GENI allocation status of a stored state (§5.2). */
export function allocationStatusOf(state: GeniAllocationState): string {
  return state === 'allocated' ? 'geni_allocated' : state === 'provisioned' ? 'geni_provisioned' : 'geni_unallocated';
}

/**
 * GENI operational status (§5.2 table, with kvm-crm's choices): allocated → `geni_notready`; being deleted →
 * `geni_pending_allocation`; failed create or VM `failed` → `geni_failed`; an open stop → `geni_stopping`; any
 * other open action, a transient VM state (`…ing...`) or a start still wanted (autostart, or geni_start during the
 * create) → `geni_configuring`; `running` → `geni_ready`; else (`created (stopped)`, `stopped`, `unknown`) →
 * `geni_notready`.
 */
export function operationalStatusOf(f: SliverFacts): string {
  if (f.allocationState === 'allocated') return 'geni_notready';
  if (f.allocationState === 'unallocated') return 'geni_pending_allocation';
  if (f.createFailed || f.vmState === 'failed') return 'geni_failed';
  if (f.vmState === null) return 'geni_configuring';
  if (f.openAction === 'stop' || f.openAction === 'hardStop' || f.vmState === 'stopping...') return 'geni_stopping';
  if (f.openAction !== null || f.vmState.endsWith('...') || f.vmState === 'on queue') return 'geni_configuring';
  if (f.vmState === 'running') return 'geni_ready';
  if (f.startWanted) return 'geni_configuring';
  return 'geni_notready';
}

/** RFC 4122 name-based UUID (version 5, SHA-1) of `name` in namespace `namespace` (a UUID). */
export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** RFC 4122 Appendix C URL namespace; slice URNs are hashed in it. */
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** The project and slice id of a GENI slice's VMs: the UUIDv5 of the slice URN (§5.1). */
export function sliceProjectId(sliceUrn: string): string {
  return uuidV5(sliceUrn, URL_NAMESPACE);
}
