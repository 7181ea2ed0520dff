#!/usr/bin/env node
/**
 * oxad-agent daemon: `oxad-agent --config <agent.json>` (or `$KVMCRM_AGENT_CONFIG`). Stops on SIGTERM/SIGINT
 * after the running actions finish.
 */
import { createLogger, describeError } from '@kvm-crm/shared';
import { loadAgentOptions } from './agent-options.js';
import { startAgent } from './agent-app.js';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--config');
  const file = i >= 0 ? process.argv[i + 1] : process.env.KVMCRM_AGENT_CONFIG;
  if (!file) {
    process.stderr.write('usage: oxad-agent --config <agent.json>\n');
    process.exit(2);
  }
  const options = loadAgentOptions(file);
  const logger = createLogger({ component: 'oxad-agent', format: options.logFormat });
  const agent = await startAgent(options, logger);
  const stop = async (signal: string) => {
    logger.info('stopping', { signal });
    await agent.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`oxad-agent: ${describeError(err)}\n`);
  process.exit(1);
});
