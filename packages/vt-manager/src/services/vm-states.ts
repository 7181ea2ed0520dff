/**
 * VM state changes caused by action statuses (docs/ocf-protocol.md §5.3 table; docs/ocf-behaviour.md B2).
 */
import type { ActionState } from '../db/entities/action.js';
import type { VmState } from '../db/entities/virtual-machine.js';

const TRANSITIONS: Record<string, Partial<Record<ActionState, VmState>>> = {
  create: { QUEUED: 'on queue', ONGOING: 'creating...', SUCCESS: 'created (stopped)' },
  start: { ONGOING: 'starting...', SUCCESS: 'running', FAILED: 'stopped' },
  stop: { ONGOING: 'stopping...', SUCCESS: 'stopped', FAILED: 'running' },
  hardStop: { ONGOING: 'stopping...', SUCCESS: 'stopped', FAILED: 'running' },
  reboot: { ONGOING: 'rebooting...', SUCCESS: 'running', FAILED: 'stopped' },
  delete: { ONGOING: 'deleting...', FAILED: 'failed' },
};

/**
 * The VM state after an action of `type` reached `status`, or undefined when it does not change. A create that
 * FAILED and a delete that SUCCEEDED remove the VM instead (handled by the caller).
 */
export function vmStateAfter(type: string, status: ActionState): VmState | undefined {
  return TRANSITIONS[type]?.[status];
}
