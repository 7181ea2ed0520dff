/**
 * The manager's outgoing side effects towards peers, as small interfaces: real implementations live in
 * `adapters/`, unit tests use in-memory fakes.
 */
import type { EntityManager } from 'typeorm';
import type { Server } from '../db/entities/server.js';

/** Talks to a server's OXAD agent (docs/ocf-protocol.md §4). */
export interface AgentGateway {
  /**
   * `send(callbackUrl, 1, agentPassword, rspecXml)` on the server's agent; resolves once the agent accepted the
   * query (it answers `""` before doing any work, §4.2).
   * @throws UpstreamError / AuthenticationError / XmlRpcFaultError when the agent is unreachable or refuses.
   */
  send(server: Server, callbackUrl: string, rspecXml: string): Promise<void>;
  /**
   * `force_list_active_vms(password, vmUuid | 'None')`: the running VMs the agent reports, `{vm uuid: name}` (§4.2).
   * @throws as {@link send}.
   */
  forceListActiveVms(server: Server, vmUuid: string | 'None'): Promise<Record<string, string>>;
  /**
   * The agent's template catalogue. Our agents answer `list_vm_templates_detailed` with metadata; an OCF agent
   * only answers `list_vm_templates` with names (§4.2), which are returned as `{name}`.
   * @throws as {@link send}.
   */
  listTemplates(server: Server): Promise<TemplateInfo[]>;
  /**
   * Sends a monitoring query (`send(cb, 0, password, xml)`, §4.3, §6.8).
   * @throws as {@link send}.
   */
  sendMonitoring(server: Server, callbackUrl: string, rspecXml: string): Promise<void>;
  /** `ping(challenge)` → challenge (§4.2). @throws as {@link send}. */
  ping(server: Server, challenge: string): Promise<unknown>;
  /**
   * The kvm-crm extension `get_host_info(password)`: the host's CPUs, memory, storage, hypervisor and bridges.
   * Resolves `null` when the agent does not offer the method (a legacy OCF agent).
   * @throws as {@link send}; UpstreamError when the answer is not a host-info struct.
   */
  getHostInfo(server: Server): Promise<HostFacts | null>;
  /**
   * kvm-crm extension `get_console_log(password, vmUuid, offset)`: at most 64 KiB of the VM's serial log from byte
   * `offset`, with where to go on and the log's size now. Optional: fakes and legacy agents may lack it.
   * @throws as {@link send}; UpstreamError when the answer is malformed.
   */
  consoleLog?(server: Server, vmUuid: string, offset: number): Promise<ConsoleLogChunk>;
  /**
   * kvm-crm extension `get_domain_xml(password, vmUuid)`: the libvirt domain XML of the VM (`virsh dumpxml`), for
   * `vtctl manifest dumpxml` (decision 024). Absent: not offered.
   */
  domainXml?(server: Server, vmUuid: string): Promise<string>;
  /**
   * kvm-crm extension `set_guest_hostname(password, vmUuid, hostname)`: the agent rewrites the VM's cloud-init seed
   * with the new host name (same instance id); the guest takes it at its next boot (decision 024 §8). `medium`:
   * `swapped` (running: a reboot reads the new seed), `not running`, or `not swapped: <why>`. Absent: not offered.
   */
  setGuestHostname?(server: Server, vmUuid: string, hostname: string): Promise<{ previous: string; medium: string }>;
  /**
   * kvm-crm extension `list_kept_disks(password)`: the disks the agent keeps of VMs deleted with keep-disks
   * (decision record 021). Optional: fakes and legacy agents may lack it.
   * @throws as {@link send}; UpstreamError when the answer is malformed.
   */
  listKeptDisks?(server: Server): Promise<KeptDisks[]>;
  /**
   * kvm-crm extension `purge_kept_disks(password, id)`: removes one kept-disks folder; resolves with the file names
   * removed. @throws as {@link send} (the agent's NotFound/Input faults pass through as XmlRpcFaultError).
   */
  purgeKeptDisks?(server: Server, id: string): Promise<string[]>;
  /**
   * kvm-crm extensions `snapshot_create|list|revert|delete(password, vmUuid[, name])` (decision record 026): the
   * agent's answer as it gave it (a snapshot struct, a list of them, or `{name, disks}`). Optional (legacy agents).
   * @throws as {@link send} (the agent's Input/NotFound/Conflict faults pass through as XmlRpcFaultError).
   */
  snapshot?(server: Server, op: 'create' | 'list' | 'revert' | 'delete', vmUuid: string, name?: string): Promise<unknown>;
  /**
   * kvm-crm extensions of backups (decision record 026): `backup_vm(password, vmUuid, {dir, keep?, record?})`,
   * `list_backups(password, {dir?, vmUuid?})`, `inspect_backup(password, path)`, `restore_backup(password, path)`;
   * the agent's answer as it gave it. Long calls (copies, checksums): a timeout of an hour. Optional (legacy agents).
   * @throws as {@link send}.
   */
  backups?(server: Server, method: 'backup_vm' | 'list_backups' | 'inspect_backup' | 'restore_backup', params: unknown[]): Promise<unknown>;
}

/** Opens interactive serial consoles on agents (decision record 027; `adapters/ws-agent-console.ts`). */
export interface AgentConsoles {
  /**
   * Opens VM `vmUuid`'s serial console on `server`'s agent; with `force`, a session open there is taken over.
   * @throws ConflictError (in use, not running, too many sessions), NotFoundError (no such VM on the agent),
   *   UpstreamError (legacy agent, TLS refused, unreachable, other refusals).
   */
  open(server: Server, vmUuid: string, force: boolean): Promise<import('@kvm-crm/shared').ConsoleEndpoint>;
}

/** One kept-disks folder of an agent (`list_kept_disks`); sizes in MiB, rounded up by the agent. */
export interface KeptDisks {
  /** `<vm uuid>` or `<vm uuid>-<n>`: what a purge takes. */
  id: string;
  vmUuid: string;
  /** `''` when the agent did not know it. */
  vmName: string;
  /** ISO 8601. */
  keptAt: string;
  /** Sum of the images' allocated sizes. */
  actualSizeMiB: number;
  /** The images; sizes absent (and `error` set) when the agent could not read an image. */
  files: Array<{ name: string; virtualSizeMiB?: number; actualSizeMiB?: number; error?: string }>;
}

/**
 * What an agent reports about its host (`get_host_info`, docs/compatibility.md); memory in MiB, storage in GiB
 * (the file system of the agent's storage root), frequency in MHz.
 */
export interface HostFacts {
  hypervisor: string;
  cpuModel: string;
  cpus: number;
  cpuSockets: number;
  cpuCoresPerSocket: number;
  cpuThreadsPerCore: number;
  cpuFrequencyMHz: number;
  memoryTotalMiB: number;
  memoryFreeMiB: number;
  storageTotalGiB: number;
  storageFreeGiB: number;
  libvirtVersion: string;
  qemuVersion: string;
  bridges: string[];
}

/** A piece of a VM's serial console log (see {@link AgentGateway.consoleLog}). */
export interface ConsoleLogChunk {
  data: Buffer;
  offset: number;
  nextOffset: number;
  /** The log's size in bytes when it was read. */
  size: number;
}

/** A template as listed by an agent. Sizes in bytes. */
export interface TemplateInfo {
  name: string;
  operatingSystemType?: string;
  operatingSystemDistribution?: string;
  operatingSystemVersion?: string;
  format?: string;
  sizeBytes?: number;
  virtualSizeBytes?: number;
  minMemoryMiB?: number;
  description?: string;
}

/** Delivers status documents to a clearinghouse callback (`sendAsync(xml)`, docs/ocf-protocol.md §3.3). */
export interface ClientNotifier {
  /**
   * Queues `rspecXml` for delivery to `callbackUrl`. Deliveries to one URL happen in call order; failures are
   * retried a few times and then logged (never thrown).
   */
  sendAsync(callbackUrl: string, rspecXml: string): void;
  /** Resolves when every queued delivery has finished (tests, shutdown). */
  drain(): Promise<void>;
  /**
   * Transactional outbox (optional): stores the delivery in `em`'s transaction, so a status change and its
   * notification are committed together (a manager crash loses neither). Several documents are stored as one
   * delivery (sent in order); `meta.principal` counts it against that principal's callback backlog. Call
   * {@link wake} after the commit.
   */
  enqueue?(em: EntityManager, callbackUrl: string, rspecXml: string | readonly string[], meta?: { principal?: string }): Promise<void>;
  /** Starts delivering what {@link enqueue} stored (after its transaction committed). */
  wake?(): void;
}
