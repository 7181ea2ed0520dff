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

  @OneToMany(() => ServerBridge, (b) => b.server, { cascade: true })
  bridges: Relation<ServerBridge[]>;

  @CreateDateColumn()
  createdAt: Date;
}
