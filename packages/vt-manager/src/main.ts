#!/usr/bin/env node
/**
 * vt-manager daemon: `vt-manager --config <manager.json>` (or `$KVMCRM_MANAGER_CONFIG`). Stops on SIGTERM/SIGINT.
 */
import { runDaemon } from '@kvm-crm/shared';
import { loadManagerOptions } from './manager-options.js';
import { startManager } from './manager-app.js';

runDaemon({ name: 'vt-manager', configEnv: 'KVMCRM_MANAGER_CONFIG', load: loadManagerOptions, start: startManager });
