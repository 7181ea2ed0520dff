#!/usr/bin/env node
/**
 * oxad-agent daemon: `oxad-agent --config <agent.json>` (or `$KVMCRM_AGENT_CONFIG`). Stops on SIGTERM/SIGINT
 * after the running actions finish.
 */
import { runDaemon } from '@kvm-crm/shared/daemon-runner';
import { loadAgentOptions } from './agent-options.js';
import { startAgent } from './agent-app.js';

runDaemon({ name: 'oxad-agent', configEnv: 'KVMCRM_AGENT_CONFIG', load: loadAgentOptions, start: startAgent });
