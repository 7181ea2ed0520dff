/** @kvm-crm/vt-manager: the VT manager daemon, for embedding in tests and tools. */
export { startManager, type RunningManager } from './manager-app.js';
export { MANAGER_NODE_FLAGS } from './node-flags.js';
export { loadManagerOptions, managerOptionsSchema, managerConfigReference, type ManagerOptions } from './manager-options.js';
export { ProvisioningService } from './services/provisioning-service.js';
export { InventoryService } from './services/inventory-service.js';
export type { AgentGateway, ClientNotifier } from './services/ports.js';
export { SfaCredentialVerifier, GeniCredentialError, type GeniCredentialVerifier, type VerifiedCredential } from './services/geni/credential-verifier.js';
export { TrustedRootsStore } from './adapters/trusted-roots-store.js';
export { WsAgentConsoles } from './adapters/ws-agent-console.js';
export { PrometheusManagerMetrics } from './adapters/prometheus-manager-metrics.js';
