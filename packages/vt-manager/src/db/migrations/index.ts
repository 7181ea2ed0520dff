/**
 * The schema migrations, one list per engine (their SQL differs), oldest first. Written by
 * `node packages/vt-manager/dist-tools/make-migration.js <Name>` (see docs/decisions/008-migrations-and-mariadb.md).
 */
import type { MigrationInterface } from 'typeorm';
import { InitialSchemaSqlite1795322498472 } from './sqlite/1795322498472-initial-schema.js';
import { ActionLeasesEventsOutboxSqlite1795323497812 } from './sqlite/1795323497812-action-leases-events-outbox.js';
import { SliceExpirySqlite1795325463922 } from './sqlite/1795325463922-slice-expiry.js';
import { QuotasAndOutboxFairnessSqlite1796420628668 } from './sqlite/1796420628668-quotas-and-outbox-fairness.js';
import { CallbackPolicySqlite1796420982394 } from './sqlite/1796420982394-callback-policy.js';
import { HostInventoryPlacementSqlite1796422260237 } from './sqlite/1796422260237-host-inventory-placement.js';
import { VmGuestOptionsInventoryLockSqlite1796422921383 } from './sqlite/1796422921383-vm-guest-options-inventory-lock.js';
import { GeniSliverSqlite1796429509266 } from './sqlite/1796429509266-geni-sliver.js';
import { VmGuestHostnameSqlite1796431408825 } from './sqlite/1796431408825-vm-guest-hostname.js';
import { VmMigrationSqlite1796431697951 } from './sqlite/1796431697951-vm-migration.js';
import { BackupTargetSqlite1796434295136 } from './sqlite/1796434295136-backup-target.js';
import { InventoryVersionSqlite1796440000000 } from './sqlite/1796440000000-inventory-version.js';
import { RangeNextFreeCursorSqlite1796441416041 } from './sqlite/1796441416041-range-next-free-cursor.js';
import { ServerListingVersionSqlite1796450000000 } from './sqlite/1796450000000-server-listing-version.js';
import { ActionIntakeSqlite1796460000000 } from './sqlite/1796460000000-action-intake.js';
import { InitialSchemaMysql1795322498472 } from './mysql/1795322498472-initial-schema.js';
import { ActionLeasesEventsOutboxMysql1795323497812 } from './mysql/1795323497812-action-leases-events-outbox.js';
import { SliceExpiryMysql1795325463922 } from './mysql/1795325463922-slice-expiry.js';
import { QuotasAndOutboxFairnessMysql1796420628668 } from './mysql/1796420628668-quotas-and-outbox-fairness.js';
import { CallbackPolicyMysql1796420982394 } from './mysql/1796420982394-callback-policy.js';
import { HostInventoryPlacementMysql1796422260237 } from './mysql/1796422260237-host-inventory-placement.js';
import { VmGuestOptionsInventoryLockMysql1796422921383 } from './mysql/1796422921383-vm-guest-options-inventory-lock.js';
import { GeniSliverMysql1796429509266 } from './mysql/1796429509266-geni-sliver.js';
import { VmGuestHostnameMysql1796431408825 } from './mysql/1796431408825-vm-guest-hostname.js';
import { VmMigrationMysql1796431697951 } from './mysql/1796431697951-vm-migration.js';
import { BackupTargetMysql1796434295136 } from './mysql/1796434295136-backup-target.js';
import { InventoryVersionMysql1796440000000 } from './mysql/1796440000000-inventory-version.js';
import { RangeNextFreeCursorMysql1796441416041 } from './mysql/1796441416041-range-next-free-cursor.js';
import { ServerListingVersionMysql1796450000000 } from './mysql/1796450000000-server-listing-version.js';
import { ActionIntakeMysql1796460000000 } from './mysql/1796460000000-action-intake.js';

type MigrationClass = new () => MigrationInterface;

export const SQLITE_MIGRATIONS: MigrationClass[] = [InitialSchemaSqlite1795322498472, ActionLeasesEventsOutboxSqlite1795323497812, SliceExpirySqlite1795325463922, QuotasAndOutboxFairnessSqlite1796420628668, CallbackPolicySqlite1796420982394, HostInventoryPlacementSqlite1796422260237, VmGuestOptionsInventoryLockSqlite1796422921383, GeniSliverSqlite1796429509266, VmGuestHostnameSqlite1796431408825, VmMigrationSqlite1796431697951, BackupTargetSqlite1796434295136, InventoryVersionSqlite1796440000000, RangeNextFreeCursorSqlite1796441416041, ServerListingVersionSqlite1796450000000, ActionIntakeSqlite1796460000000];
export const MYSQL_MIGRATIONS: MigrationClass[] = [InitialSchemaMysql1795322498472, ActionLeasesEventsOutboxMysql1795323497812, SliceExpiryMysql1795325463922, QuotasAndOutboxFairnessMysql1796420628668, CallbackPolicyMysql1796420982394, HostInventoryPlacementMysql1796422260237, VmGuestOptionsInventoryLockMysql1796422921383, GeniSliverMysql1796429509266, VmGuestHostnameMysql1796431408825, VmMigrationMysql1796431697951, BackupTargetMysql1796434295136, InventoryVersionMysql1796440000000, RangeNextFreeCursorMysql1796441416041, ServerListingVersionMysql1796450000000, ActionIntakeMysql1796460000000];
