/**
 * {@link AgentGateway} over XML-RPC: mutual TLS to OXAD agents (our certificate; the agent's must chain to our CA,
 * not be in our CRL, have role `agent` and name the registered server in its CN or a SAN), plain HTTP only to
 * servers registered as legacy (with a warning each time).
 */
import { DEFAULT_MAX_RESPONSE_BYTES, UpstreamError, XmlRpcClient, XmlRpcFaultError, type ClientTls, type Logger } from '@kvm-crm/shared';
import type { Server } from '../db/entities/server.js';
import type { AgentGateway, ConsoleLogChunk, HostFacts, KeptDisks, TemplateInfo } from '../services/ports.js';

/**
 * Largest answer read from an agent's listing (`force_list_active_vms`: `{uuid: name}` of every domain, about
 * 100 bytes a VM; `list_vm_templates_detailed`: a few hundred bytes a template): 4 MiB, tens of thousands of
 * entries. Other agent answers are capped at the client's default, 64 KiB.
 */
export const AGENT_LISTING_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * Seconds the manager waits for an agent's backup call (`backup_vm`, `inspect_backup`, `restore_backup` copy and
 * hash whole disks while the caller waits; decision record 026): one hour.
 */
export const BACKUP_CALL_TIMEOUT_SECONDS = 3600;

/** {@link AgentGateway} over XML-RPC (HTTPS with our client certificate; plain HTTP for legacy servers). */
export class XmlRpcAgentGateway implements AgentGateway {
  constructor(
    /** Our TLS material; may be a live object (getters, ReloadableTls.clientTls): it is read at each call. */
    private readonly tls: ClientTls,
    private readonly logger: Logger,
    /** Seconds to wait for an agent's reply to `send` (the agent answers before working). Default 30. */
    private readonly timeoutSeconds = 30,
  ) {}

  /**
   * A client for `server`'s agent, reading answers of at most `maxResponseBytes` (default 64 KiB: `send` and
   * `ping` answer a few bytes; the listings pass {@link AGENT_LISTING_MAX_RESPONSE_BYTES}). Over https the agent certificate must name `server.name` (CN or SAN) and have
   * role `agent`, whatever host the URL uses (a mismatch fails the call with an UpstreamError naming both).
   * @throws UpstreamError for a plain http URL of a server not registered as legacy.
   */
  client(server: Server, maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES, timeoutSeconds = this.timeoutSeconds): XmlRpcClient {
    if (server.agentUrl.startsWith('http:')) {
      if (!server.legacy) throw new UpstreamError(`server ${server.name} has a plain http agent URL but is not registered as legacy`);
      this.logger.warn('talking to a legacy plain-HTTP agent', { server: server.name });
      return new XmlRpcClient({ url: server.agentUrl, timeoutSeconds, maxResponseBytes });
    }
    // Spreading evaluates the getters of a live TLS object: this call uses the material in force now.
    const tls: ClientTls = { ...this.tls, expectPeer: { name: server.name, role: 'agent' } };
    return new XmlRpcClient({ url: server.agentUrl, tls, timeoutSeconds, maxResponseBytes });
  }

  async send(server: Server, callbackUrl: string, rspecXml: string): Promise<void> {
    await this.client(server).call('send', [callbackUrl, 1, server.agentPassword, rspecXml]);
  }

  async sendMonitoring(server: Server, callbackUrl: string, rspecXml: string): Promise<void> {
    await this.client(server).call('send', [callbackUrl, 0, server.agentPassword, rspecXml]);
  }

  async ping(server: Server, challenge: string): Promise<unknown> {
    return this.client(server).call('ping', [challenge]);
  }

  async forceListActiveVms(server: Server, vmUuid: string): Promise<Record<string, string>> {
    const r = await this.client(server, AGENT_LISTING_MAX_RESPONSE_BYTES).call<unknown>('force_list_active_vms', [server.agentPassword, vmUuid]);
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new UpstreamError(`agent of ${server.name}: force_list_active_vms did not answer a struct`);
    return Object.fromEntries(Object.entries(r as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  }

  async getHostInfo(server: Server): Promise<HostFacts | null> {
    let r: unknown;
    try {
      r = await this.client(server).call<unknown>('get_host_info', [server.agentPassword]);
    } catch (err) {
      // A legacy OCF agent answers an unknown method with a fault: it has no host facts to give.
      if (err instanceof XmlRpcFaultError && /not supported|not found|no such method|unknown method/i.test(err.faultString)) return null;
      throw err;
    }
    return hostFactsFrom(r, server.name);
  }

  async consoleLog(server: Server, vmUuid: string, offset: number): Promise<ConsoleLogChunk> {
    if (server.legacy) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which has no console log method`);
    // 64 KiB of log is ~88 KiB of base64: the listing cap covers it.
    const r = await this.client(server, AGENT_LISTING_MAX_RESPONSE_BYTES).call<unknown>('get_console_log', [server.agentPassword, vmUuid, offset]);
    const o = r as Record<string, unknown> | null;
    if (!o || typeof o !== 'object' || typeof o.data !== 'string' || typeof o.nextOffset !== 'number' || typeof o.size !== 'number') {
      throw new UpstreamError(`agent of ${server.name}: get_console_log did not answer {data, nextOffset, size}`);
    }
    return { data: Buffer.from(o.data, 'base64'), offset, nextOffset: o.nextOffset, size: o.size };
  }

  async domainXml(server: Server, vmUuid: string): Promise<string> {
    if (server.legacy) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which has no get_domain_xml method`);
    const r = await this.client(server, AGENT_LISTING_MAX_RESPONSE_BYTES).call<unknown>('get_domain_xml', [server.agentPassword, vmUuid]);
    if (typeof r !== 'string' || !r.trimStart().startsWith('<domain')) throw new UpstreamError(`agent of ${server.name}: get_domain_xml did not answer a <domain> document`);
    return r;
  }

  async setGuestHostname(server: Server, vmUuid: string, hostname: string): Promise<{ previous: string; medium: string }> {
    if (server.legacy) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which cannot rewrite a guest's seed`);
    const r = await this.client(server).call<unknown>('set_guest_hostname', [server.agentPassword, vmUuid, hostname]);
    const o = r as { previous?: unknown; medium?: unknown } | null;
    if (!o || typeof o !== 'object' || typeof o.previous !== 'string' || typeof o.medium !== 'string') {
      throw new UpstreamError(`agent of ${server.name}: set_guest_hostname did not answer {previous, medium}`);
    }
    return { previous: o.previous, medium: o.medium };
  }

  async listKeptDisks(server: Server): Promise<KeptDisks[]> {
    if (server.legacy) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which keeps no disks`);
    const r = await this.client(server, AGENT_LISTING_MAX_RESPONSE_BYTES).call<unknown>('list_kept_disks', [server.agentPassword]);
    return keptDisksFrom(r, server.name);
  }

  async purgeKeptDisks(server: Server, id: string): Promise<string[]> {
    if (server.legacy) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which keeps no disks`);
    const r = (await this.client(server).call<unknown>('purge_kept_disks', [server.agentPassword, id])) as Record<string, unknown> | null;
    if (!r || typeof r !== 'object' || !Array.isArray(r.files) || !r.files.every((f) => typeof f === 'string')) {
      throw new UpstreamError(`agent of ${server.name}: purge_kept_disks did not answer {id, files}`);
    }
    return r.files as string[];
  }

  async snapshot(server: Server, op: 'create' | 'list' | 'revert' | 'delete', vmUuid: string, name?: string): Promise<unknown> {
    if (server.legacy) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which takes no snapshots`);
    return this.client(server, AGENT_LISTING_MAX_RESPONSE_BYTES).call<unknown>(`snapshot_${op}`, [server.agentPassword, vmUuid, ...(name !== undefined ? [name] : [])]);
  }

  async backups(server: Server, method: 'backup_vm' | 'list_backups' | 'inspect_backup' | 'restore_backup', params: unknown[]): Promise<unknown> {
    if (server.legacy) throw new UpstreamError(`server ${server.name} runs a legacy OCF agent, which has no backups`);
    return this.client(server, AGENT_LISTING_MAX_RESPONSE_BYTES, BACKUP_CALL_TIMEOUT_SECONDS).call<unknown>(method, [server.agentPassword, ...params]);
  }

  async listTemplates(server: Server): Promise<TemplateInfo[]> {
    const client = this.client(server, AGENT_LISTING_MAX_RESPONSE_BYTES);
    try {
      const detailed = await client.call<unknown>('list_vm_templates_detailed', [server.agentPassword]);
      if (Array.isArray(detailed)) return detailed.filter((t): t is TemplateInfo => typeof (t as TemplateInfo)?.name === 'string');
    } catch (err) {
      if (!(err instanceof XmlRpcFaultError) || !/not supported/.test(err.faultString)) throw err;
    }
    const names = await client.call<unknown>('list_vm_templates', [server.agentPassword]);
    // An OCF agent answers {} when its catalogue cannot be read (§4.2).
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string').map((name) => ({ name })) : [];
  }
}

const FACT_NUMBERS = ['cpus', 'cpuSockets', 'cpuCoresPerSocket', 'cpuThreadsPerCore', 'cpuFrequencyMHz', 'memoryTotalMiB', 'memoryFreeMiB', 'storageTotalGiB', 'storageFreeGiB'] as const;
const FACT_STRINGS = ['hypervisor', 'cpuModel', 'libvirtVersion', 'qemuVersion'] as const;

/**
 * The {@link HostFacts} of a `get_host_info` answer: every count a non-negative integer, every text a string.
 * @throws UpstreamError naming the first field that is missing or mistyped.
 */
export function hostFactsFrom(r: unknown, serverName: string): HostFacts {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new UpstreamError(`agent of ${serverName}: get_host_info did not answer a struct`);
  const o = r as Record<string, unknown>;
  const bad = (k: string) => new UpstreamError(`agent of ${serverName}: get_host_info field ${k} is missing or mistyped`);
  const facts: Record<string, unknown> = {};
  for (const k of FACT_NUMBERS) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(k);
    facts[k] = v;
  }
  for (const k of FACT_STRINGS) {
    const v = o[k];
    if (typeof v !== 'string') throw bad(k);
    facts[k] = v;
  }
  const bridges = o['bridges'];
  if (!Array.isArray(bridges) || !bridges.every((b) => typeof b === 'string')) throw bad('bridges');
  facts['bridges'] = [...(bridges as string[])].sort();
  return facts as unknown as HostFacts;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The {@link KeptDisks} of a `list_kept_disks` answer: strings where strings are due, sizes non-negative integers.
 * @throws UpstreamError naming the first entry or field that is malformed.
 */
export function keptDisksFrom(r: unknown, serverName: string): KeptDisks[] {
  const bad = (what: string) => new UpstreamError(`agent of ${serverName}: list_kept_disks answer malformed (${what})`);
  if (!Array.isArray(r)) throw bad('not a list');
  return r.map((e: unknown, i) => {
    const o = e as Record<string, unknown> | null;
    if (!o || typeof o !== 'object') throw bad(`entry ${i}`);
    for (const k of ['id', 'vmUuid', 'vmName', 'keptAt']) if (typeof o[k] !== 'string') throw bad(`entry ${i} field ${k}`);
    if (!isCount(o.actualSizeMiB)) throw bad(`entry ${i} field actualSizeMiB`);
    if (!Array.isArray(o.files)) throw bad(`entry ${i} field files`);
    const files = o.files.map((f: unknown, j) => {
      const x = f as Record<string, unknown> | null;
      if (!x || typeof x !== 'object' || typeof x.name !== 'string') throw bad(`entry ${i} file ${j}`);
      if (typeof x.error === 'string') return { name: x.name, error: x.error };
      if (!isCount(x.virtualSizeMiB) || !isCount(x.actualSizeMiB)) throw bad(`entry ${i} file ${j} sizes`);
      return { name: x.name, virtualSizeMiB: x.virtualSizeMiB, actualSizeMiB: x.actualSizeMiB };
    });
    return { id: o.id as string, vmUuid: o.vmUuid as string, vmName: o.vmName as string, keptAt: o.keptAt as string, actualSizeMiB: o.actualSizeMiB, files };
  });
}
