/**
 * The manager's typeorm DataSource: SQLite (better-sqlite3) by default, MySQL/MariaDB through mysql2.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ActionRecord } from './entities/action.js';
import { Ipv4Range } from './entities/ipv4-range.js';
import { Ipv4Slot } from './entities/ipv4-slot.js';
import { MacRange } from './entities/mac-range.js';
import { MacSlot } from './entities/mac-slot.js';
import { RangeSubscription } from './entities/range-subscription.js';
import { ServerBridge } from './entities/server-bridge.js';
import { Server } from './entities/server.js';
import { VirtualMachine } from './entities/virtual-machine.js';
import { VmInterface } from './entities/vm-interface.js';
import { PrincipalRecord } from './entities/principal.js';
import { ProjectOwner } from './entities/project-owner.js';

export const ENTITIES = [Server, ServerBridge, Ipv4Range, Ipv4Slot, MacRange, MacSlot, RangeSubscription, VirtualMachine, VmInterface, ActionRecord, PrincipalRecord, ProjectOwner];

/** Database settings (manager config `database`). */
export type DatabaseOptions =
  | { type: 'sqlite'; /** SQLite file path, or `:memory:`. */ path: string }
  | { type: 'mysql'; host: string; port?: number; username: string; password: string; database: string };

/**
 * Opens the database and brings the schema up to date.
 * Schema management is `synchronize` for now (typeorm migrations come with the MariaDB work, issue 4).
 * @throws the driver's error when the database cannot be opened.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DataSource> {
  const ds =
    options.type === 'sqlite'
      ? new DataSource({ type: 'better-sqlite3', database: options.path, entities: ENTITIES, synchronize: true, enableWAL: options.path !== ':memory:' })
      : new DataSource({ type: 'mysql', host: options.host, port: options.port ?? 3306, username: options.username, password: options.password, database: options.database, entities: ENTITIES, synchronize: true });
  await ds.initialize();
  return ds;
}
