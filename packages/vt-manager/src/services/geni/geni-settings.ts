/**
 * The GENI settings the services use (manager option `geni`, documented in manager-options.ts).
 */

/** Resolved `geni` options the sliver services need. Memory in MiB, disk in GiB. */
export interface GeniSettings {
  authorityHrn: string;
  defaultTemplate: string;
  maxAllocationHours: number;
  maxSliverDays: number;
  autoStartAfterProvision: boolean;
  vm: { memoryMiB: number; vcpus: number; diskGiB: number | null; maxMemoryMiB: number; maxVcpus: number; maxDiskGiB: number };
}

/**
 * The principal that owns every GENI VM's project (decision record 022). It has a `:`, which no HTTP Basic user
 * name may hold, so no clearinghouse of /xmlrpc/plugin can ever be it: OCF clients never see or touch GENI VMs, and
 * GENI clients only reach VMs through their slivers.
 */
export const GENI_PRINCIPAL = 'geni:aggregate';
