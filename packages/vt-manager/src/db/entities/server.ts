import { Column, CreateDateColumn, Entity, OneToMany, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { ServerBridge } from './server-bridge.js';
import { SEALED } from '../secret-columns.js';

/** A registered KVM host, driven through its OXAD agent (docs/ocf-behaviour.md B1 VTServer). */
@Entity('server')
export class Server {
  @PrimaryGeneratedColumn()
  id: number;

  /** Server UUID as seen by clearinghouses (`server/uuid`, `server-id`). */
  @Column({ type: 'varchar', length: 36, unique: true })
  uuid: string;

  /** Unique admin-chosen name (also the agent certificate's CN). */
  @Column({ type: 'varchar', length: 63, unique: true })
  name: string;

  /** Agent XML-RPC endpoint, `https://host:9229/` (`http://` only when `legacy`). */
  @Column({ type: 'varchar', length: 1024 })
  agentUrl: string;

  /** OCF shared agent password (checked by the agent on every call, docs/ocf-protocol.md §4.2). Encrypted at rest. */
  @Column({ type: 'varchar', length: 512, transformer: SEALED })
  agentPassword: string;

  /** A legacy OCF agent reached over plain HTTP. */
  @Column({ type: 'boolean', default: false })
  legacy: boolean;

  @Column({ type: 'varchar', length: 16, default: 'kvm' })
  virtualizationType: string;

  @Column({ type: 'varchar', length: 64, default: 'GNU/Linux' })
  operatingSystemType: string;

  @Column({ type: 'varchar', length: 64, default: 'Debian' })
  operatingSystemDistribution: string;

  @Column({ type: 'varchar', length: 64, default: '12' })
  operatingSystemVersion: string;

  /** Whether new VMs may be placed here. */
  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  /** Whether the agent answered the last monitoring ping (set by monitoring, docs/ocf-protocol.md §4.3). */
  @Column({ type: 'boolean', default: true })
  available: boolean;

  /** Whether the host is being emptied: running VMs stay, no new VM is placed here (decision record 019). */
  @Column({ type: 'boolean', default: false })
  draining: boolean;

  // Host facts reported by the agent's `get_host_info` at registration and in each monitoring round (decision
  // record 019); null until an agent reported them (a legacy OCF agent never does).

  /** CPU model name. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  cpuModel: string | null;

  /** Logical CPUs (the OCF `numberOfCPUs`). */
  @Column({ type: 'integer', nullable: true })
  cpus: number | null;

  @Column({ type: 'integer', nullable: true })
  cpuSockets: number | null;

  @Column({ type: 'integer', nullable: true })
  cpuCoresPerSocket: number | null;

  @Column({ type: 'integer', nullable: true })
  cpuThreadsPerCore: number | null;

  /** Nominal CPU frequency in MHz (the OCF `CPUFrequency`). */
  @Column({ type: 'integer', nullable: true })
  cpuFrequencyMHz: number | null;

  /** Host memory in MiB (the OCF `memory`): total, and available when last reported. */
  @Column({ type: 'integer', nullable: true })
  memoryTotalMiB: number | null;

  @Column({ type: 'integer', nullable: true })
  memoryFreeMiB: number | null;

  /** The agent's storage root file system in GiB (the OCF `discSpaceGB`): total, and free when last reported. */
  @Column({ type: 'integer', nullable: true })
  storageTotalGiB: number | null;

  @Column({ type: 'integer', nullable: true })
  storageFreeGiB: number | null;

  /** `kvm` or `qemu` (TCG), as the agent's probe decided. */
  @Column({ type: 'varchar', length: 8, nullable: true })
  hypervisor: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  libvirtVersion: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  qemuVersion: string | null;

  /** Linux bridges present on the host, comma-separated, sorted (bridge names hold no comma). */
  @Column({ type: 'varchar', length: 1024, nullable: true })
  bridgesPresent: string | null;

  /** When the host facts were last reported. */
  @Column({ type: 'datetime', nullable: true })
  inventoryRefreshedAt: Date | null;

  @OneToMany(() => ServerBridge, (b) => b.server, { cascade: true })
  bridges: Relation<ServerBridge[]>;

  @CreateDateColumn()
  createdAt: Date;
}
