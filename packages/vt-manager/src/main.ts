#!/usr/bin/env node
/**
 * vt-manager daemon: `vt-manager --config <file.json>` (or `$KVMCRM_MANAGER_CONFIG`). Stops on SIGTERM/SIGINT.
 */
import { createLogger, describeError } from '@kvm-crm/shared';
import { loadManagerOptions } from './manager-options.js';
import { startManager } from './manager-app.js';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--config');
  const file = i >= 0 ? process.argv[i + 1] : process.env.KVMCRM_MANAGER_CONFIG;
  if (!file) {
    process.stderr.write('usage: vt-manager --config <manager.json>\n');
    process.exit(2);
  }
  const options = loadManagerOptions(file);
  const logger = createLogger({ component: 'vt-manager', format: options.logFormat });
  const manager = await startManager(options, logger);
  const stop = async (signal: string) => {
    logger.info('stopping', { signal });
    await manager.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`vt-manager: ${describeError(err)}\n`);
  process.exit(1);
});
