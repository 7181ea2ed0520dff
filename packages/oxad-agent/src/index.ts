/** @kvm-crm/oxad-agent: the OXAD host agent, for embedding in tests and tools. */
export { startAgent, linuxBridgeExists, type RunningAgent } from './agent-app.js';
export { AGENT_NODE_FLAGS } from './node-flags.js';
export { loadAgentOptions, agentOptionsSchema, agentConfigReference, type AgentOptions } from './agent-options.js';
export { AgentProvisioningService } from './services/provisioning-service.js';
export { renderDomainXml, type DomainSpec } from './domain/domain-xml.js';
export { renderSeedFiles, sshKeyFingerprint, assertSshPublicKey, type CloudInitSpec } from './domain/cloud-init-seed.js';
export { MonitoringService, UNSUPPORTED_VIRTUALIZATION_TYPE } from './services/monitoring-service.js';
export { EventForwarder } from './services/event-forwarder.js';
export { VmIdentityResolver, type VmIdentity } from './services/vm-identity.js';
export { LibvirtEventStream, parseLifecycleEventLine, type LifecycleEvent } from './adapters/libvirt-event-stream.js';
export { ocfStatusForLifecycleEvent } from './domain/lifecycle-status.js';
export { type HostInfo } from './domain/host-info.js';
export { PrometheusAgentMetrics } from './adapters/prometheus-agent-metrics.js';
