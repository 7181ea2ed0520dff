#!/usr/bin/env node
/**
 * vt-manager daemon: `vt-manager --config <manager.json>` (or `$KVMCRM_MANAGER_CONFIG`). Stops on SIGTERM/SIGINT.
 * Applies pending schema migrations at start.
 *
 * `vt-manager migrate --config <manager.json>` (or `vt-manager --config <manager.json> --migrate-only`) applies the
 * pending migrations to the configured database, prints each one, and exits.
 */
import { runDaemon } from '@kvm-crm/shared';
import { loadManagerOptions } from './manager-options.js';
import { startManager } from './manager-app.js';
import { migrateMain } from './db/migrate-command.js';

const CONFIG_ENV = 'KVMCRM_MANAGER_CONFIG';
const args = process.argv.slice(2);

if (args[0] === 'migrate' || args.includes('--migrate-only')) {
  void migrateMain(args, loadManagerOptions, CONFIG_ENV);
} else {
  runDaemon({ name: 'vt-manager', configEnv: CONFIG_ENV, load: loadManagerOptions, start: startManager });
}
