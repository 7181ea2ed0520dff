/**
 * Pure shaping of admin-API answers for the web dashboard (decision record 029): the host table (capacity report
 * joined with the host flags) and one filtered page of the VM list. No I/O: the controller fetches the rows
 * through the admin method table (the same code path as `vtctl`) and passes them here.
 */
import { InputError } from '@kvm-crm/shared';

type Row = Record<string, unknown>;

/** One line of the dashboard's host table. Memory in MiB, disk in GiB; a total is null when never reported. */
export interface DashboardHost {
  host: string;
  /** `up`, `down`, `disabled` or `draining` (CapacityService). */
  state: string;
  enabled: boolean;
  /** Whether the agent answered the last monitoring round. */
  agentReachable: boolean;
  draining: boolean;
  vms: number;
  cpus: unknown;
  memoryMiB: unknown;
  diskGiB: unknown;
  refreshedAt: string;
}

/**
 * The host table: `host.capacity` rows (by host name) joined with `host.list` rows (flags).
 * @returns one line per capacity row, in its order.
 */
export function hostsView(capacity: Row[], facts: Row[]): DashboardHost[] {
  const byName = new Map(facts.map((f) => [String(f.host), f]));
  return capacity.map((c) => {
    const f = byName.get(String(c.host)) ?? {};
    return {
      host: String(c.host), state: String(c.state), enabled: f.enabled === true, agentReachable: f.available === true, draining: f.draining === true,
      vms: Number(c.vms ?? 0), cpus: c.cpus ?? null, memoryMiB: c.memoryMiB ?? null, diskGiB: c.diskGiB ?? null, refreshedAt: String(c.refreshedAt ?? ''),
    };
  });
}

/** Filter and page of the VM table. `q` matches name, uuid, IP or MAC (case-insensitive substring). */
export interface VmPageQuery {
  q?: string;
  state?: string;
  host?: string;
  /** First row, from 0. Default 0. */
  offset?: number;
  /** Rows per page, 1–500. Default 50. */
  limit?: number;
}

/** One page of VMs and how many matched in all. */
export interface VmPage {
  total: number;
  offset: number;
  limit: number;
  items: Row[];
}

/** Parses the query string of `GET /ui/api/vms`. @throws InputError on a bad offset or limit, or a text over 200 characters. */
export function parseVmPageQuery(query: Record<string, unknown>): VmPageQuery {
  const text = (k: string): string | undefined => {
    const v = query[k];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string' || v.length > 200) throw new InputError(`${k} must be a text of at most 200 characters`);
    return v;
  };
  const int = (k: string, min: number, max: number): number | undefined => {
    const v = text(k);
    if (v === undefined) return undefined;
    if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new InputError(`${k} must be an integer from ${min} to ${max}`);
    return Number(v);
  };
  return { q: text('q'), state: text('state'), host: text('host'), offset: int('offset', 0, 1e9), limit: int('limit', 1, 500) };
}

/** The page of `rows` (admin `vm.list` rows) that `query` asks for, newest first. */
export function pageVms(rows: Row[], query: VmPageQuery): VmPage {
  const q = query.q?.toLowerCase();
  const matches = rows.filter((r) => {
    if (query.state && r.state !== query.state) return false;
    if (query.host && r.server !== query.host) return false;
    if (!q) return true;
    const nics = Array.isArray(r.interfaces) ? (r.interfaces as Row[]) : [];
    const hay = [r.name, r.uuid, r.ip, ...nics.flatMap((n) => [n.ip, n.mac])].map((v) => String(v ?? '').toLowerCase());
    return hay.some((h) => h.includes(q));
  });
  matches.reverse();
  const offset = query.offset ?? 0;
  const limit = query.limit ?? 50;
  return { total: matches.length, offset, limit, items: matches.slice(offset, offset + limit) };
}
