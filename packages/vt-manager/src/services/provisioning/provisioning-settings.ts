/**
 * Resolved settings shared by the provisioning services (every default applied).
 */

/** Who caused an action event: `agent`, `system`, `manager:<id>`, `principal:<name>`, `operator:<name>`. */
export type EventActor = string;

/** What the provisioning services need to know, defaults resolved. */
export interface ProvisioningSettings {
  /** The URL (with credentials) agents call back with `sendAsync` (our `/xmlrpc/agent`). */
  agentCallbackUrl: string;
  /** Seconds an action may stay QUEUED/ONGOING before it is failed for silence. */
  actionTimeoutSeconds: number;
  /** Seconds the manager that stored an action has to hand it to the agent before another manager takes it over. */
  leaseSeconds: number;
  /** This manager's lease owner id. */
  instanceId: string;
  /** Most actions one `send` message may hold (more: the whole message is refused). */
  maxActionsPerMessage: number;
  /** Most undelivered statuses a principal may have in the outbox before its `send`s are refused. */
  maxPendingStatusesPerPrincipal: number;
}
