/**
 * The reads of `listResources` (docs/ocf-protocol.md §2.2.3, §6.7; decision 031): only the listed columns, as plain
 * rows (no entity hydration, no decryption of sealed columns), VMs in pages ordered by (server, id) and filtered in
 * the database by project, slice and the caller's projects, so the cost follows the caller's VMs, not all VMs.
 */
import type { EntityManager, SelectQueryBuilder } from 'typeorm';
import { ProjectOwner } from '../db/entities/project-owner.js';
import { ServerBridge } from '../db/entities/server-bridge.js';
import { Server } from '../db/entities/server.js';
import { VirtualMachine } from '../db/entities/virtual-machine.js';
import { VmInterface } from '../db/entities/vm-interface.js';

/** A server's bridge as the document shows it. */
export type ListedBridge = Pick<ServerBridge, 'id' | 'name' | 'isMgmt' | 'switchPort'>;

/** A server as the document shows it. */
export type ListedServer = Pick<
  Server,
  'id' | 'name' | 'uuid' | 'operatingSystemType' | 'operatingSystemVersion' | 'operatingSystemDistribution' | 'virtualizationType' | 'cpus' | 'cpuFrequencyMHz' | 'memoryTotalMiB' | 'storageTotalGiB' | 'inventoryRefreshedAt'
> & { bridges?: ListedBridge[] };

/** A VM NIC as the document shows it. */
export type ListedNic = Pick<VmInterface, 'position' | 'isMgmt' | 'name' | 'mac' | 'ip' | 'netmask' | 'gateway' | 'dns1' | 'dns2' | 'bridge'>;

/** A VM as the document shows it. */
export type ListedVm = Pick<
  VirtualMachine,
  'id' | 'serverId' | 'name' | 'uuid' | 'state' | 'projectId' | 'projectName' | 'sliceId' | 'sliceName' | 'operatingSystemType' | 'operatingSystemVersion' | 'operatingSystemDistribution' | 'hdSetupType' | 'hdOriginPath' | 'virtualizationSetupType' | 'memoryMb'
> & { interfaces?: ListedNic[] };

/** Which VMs a listing shows: absent fields do not filter; `principal` limits to the projects it owns. */
export interface ListingFilter {
  projectId?: string;
  sliceId?: string;
  principal?: string;
}

const SERVER_COLUMNS = ['id', 'name', 'uuid', 'operatingSystemType', 'operatingSystemVersion', 'operatingSystemDistribution', 'virtualizationType', 'cpus', 'cpuFrequencyMHz', 'memoryTotalMiB', 'storageTotalGiB', 'inventoryRefreshedAt'] as const;
const BRIDGE_COLUMNS = ['id', 'serverId', 'name', 'isMgmt', 'switchPort'] as const;
const VM_COLUMNS = ['id', 'serverId', 'name', 'uuid', 'state', 'projectId', 'projectName', 'sliceId', 'sliceName', 'operatingSystemType', 'operatingSystemVersion', 'operatingSystemDistribution', 'hdSetupType', 'hdOriginPath', 'virtualizationSetupType', 'memoryMb'] as const;
const NIC_COLUMNS = ['vmId', 'position', 'isMgmt', 'name', 'mac', 'ip', 'netmask', 'gateway', 'dns1', 'dns2', 'bridge'] as const;

/** `SELECT alias.c AS c, …` for these columns. */
function selectColumns<T extends object>(qb: SelectQueryBuilder<T>, alias: string, columns: readonly string[]): SelectQueryBuilder<T> {
  return qb.select(`${alias}.${columns[0]}`, columns[0]).addSelect(columns.slice(1).map((c) => `${alias}.${c} AS ${qb.escape(c)}`));
}

/** A driver's boolean (SQLite and MySQL answer 0/1) as a boolean. */
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1';

/** Listing reads in the transaction (or plain manager) `em`. */
export class ListingRepository {
  constructor(private readonly em: EntityManager) {}

  /** Every server's id, ascending (the document's order). */
  async serverIds(): Promise<number[]> {
    const rows = await this.em.createQueryBuilder(Server, 's').select('s.id', 'id').orderBy('s.id', 'ASC').getRawMany<{ id: number | string }>();
    return rows.map((r) => Number(r.id));
  }

  /**
   * The servers `ids` (≥ 1 id, at most a page) with their bridges, ordered by id: only the servers whose piece a
   * build must serialise again (decision 035); the others' rows are not read, so a rebuild after one change reads
   * one server instead of every server (less work and less garbage that outlives the build's yields).
   */
  async serversByIds(ids: readonly number[]): Promise<ListedServer[]> {
    const rows = await selectColumns(this.em.createQueryBuilder(Server, 's'), 's', SERVER_COLUMNS).where('s.id IN (:...ids)', { ids }).orderBy('s.id', 'ASC').getRawMany<ListedServer>();
    const bridges = await selectColumns(this.em.createQueryBuilder(ServerBridge, 'b'), 'b', BRIDGE_COLUMNS).where('b.serverId IN (:...ids)', { ids }).orderBy('b.id', 'ASC').getRawMany<ListedBridge & { serverId: number }>();
    const byServer = new Map<number, ListedBridge[]>();
    for (const b of bridges) {
      const list = byServer.get(b.serverId) ?? [];
      list.push({ id: b.id, name: b.name, isMgmt: bool(b.isMgmt), switchPort: b.switchPort });
      byServer.set(b.serverId, list);
    }
    return rows.map((s) => ({ ...s, bridges: byServer.get(s.id) ?? [] }));
  }

  /**
   * Each server's listing version (decision 035): the sum of its `server_listing_version` shards, a decimal string
   * that moves in the writer's transaction with every change of the server's `<server>` element (its listed
   * columns, bridges, VMs, their NICs, the ownership of its VMs' projects). One grouped read over the table.
   * @returns server id → version; a server without rows is absent.
   */
  async serverVersions(): Promise<Map<number, string>> {
    const q = (n: string) => this.em.connection.driver.escape(n);
    const rows = (await this.em.query(`SELECT ${q('serverId')} AS sid, SUM(${q('version')}) AS v FROM ${q('server_listing_version')} GROUP BY ${q('serverId')}`)) as Array<{ sid: number | string; v: number | string }>;
    return new Map(rows.map((r) => [Number(r.sid), String(r.v)]));
  }

  /**
   * The VMs of the view on the servers `serverIds` (at most a page, ≥ 1 id), ordered by (serverId, id), each with
   * its NICs in position order. Index lookups of `serverId` on both engines (a keyset page with
   * `serverId > ? OR (serverId = ? AND id > ?)` made SQLite scan and sort the whole table per page).
   */
  async vmsOnServers(filter: ListingFilter, serverIds: readonly number[]): Promise<ListedVm[]> {
    const qb = selectColumns(this.em.createQueryBuilder(VirtualMachine, 'vm'), 'vm', VM_COLUMNS)
      .where('vm.serverId IN (:...serverIds)', { serverIds });
    // Unary `+` keeps the planners on the serverId index: with an index on projectId (or sliceId) usable, SQLite
    // read every VM of the caller's projects and sorted them, once per batch of servers (quadratic in the VMs).
    if (filter.projectId !== undefined) qb.andWhere('+vm.projectId = :projectId', { projectId: filter.projectId });
    if (filter.sliceId !== undefined) qb.andWhere('+vm.sliceId = :sliceId', { sliceId: filter.sliceId });
    if (filter.principal !== undefined) {
      const owned = qb.subQuery().select('po.projectId').from(ProjectOwner, 'po').where('po.principal = :principal').getQuery();
      qb.andWhere(`+vm.projectId IN ${owned}`, { principal: filter.principal });
    }
    const vms = await qb.orderBy('vm.serverId', 'ASC').addOrderBy('vm.id', 'ASC').getRawMany<ListedVm>();
    if (vms.length === 0) return vms;
    const nics = await selectColumns(this.em.createQueryBuilder(VmInterface, 'n'), 'n', NIC_COLUMNS)
      .where('n.vmId IN (:...ids)', { ids: vms.map((v) => v.id) })
      .orderBy('n.vmId', 'ASC')
      .addOrderBy('n.position', 'ASC')
      .getRawMany<ListedNic & { vmId: number }>();
    const byVm = new Map<number, ListedNic[]>();
    for (const n of nics) {
      const list = byVm.get(n.vmId) ?? [];
      list.push({
        position: n.position, isMgmt: bool(n.isMgmt), name: n.name, mac: n.mac, ip: n.ip, netmask: n.netmask, gateway: n.gateway,
        dns1: n.dns1, dns2: n.dns2, bridge: n.bridge,
      });
      byVm.set(n.vmId, list);
    }
    for (const v of vms) v.interfaces = byVm.get(v.id) ?? [];
    return vms;
  }
}
