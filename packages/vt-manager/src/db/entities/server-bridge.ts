import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { Server } from './server.js';

/**
 * A host bridge that VM NICs attach to (docs/ocf-behaviour.md B1 NetworkInterface, `isBridge`). Every VM on the server
 * gets one NIC per bridge, the management bridge first; only the management NIC gets an IPv4 address.
 */
@Entity('server_bridge')
@Index(['serverId', 'name'], { unique: true })
export class ServerBridge {
  @PrimaryGeneratedColumn()
  id: number;

  @Column()
  serverId: number;

  @ManyToOne(() => Server, (s) => s.bridges, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'serverId' })
  server: Relation<Server>;

  /** Linux bridge name on the host; sent to the agent as `switch-id` (docs/ocf-protocol.md §6.5.1). */
  @Column({ type: 'varchar', length: 15 })
  name: string;

  @Column({ type: 'boolean', default: false })
  isMgmt: boolean;

  /** Switch port shown in listResources (optional). */
  @Column({ type: 'varchar', length: 32, nullable: true })
  switchPort: string | null;
}
