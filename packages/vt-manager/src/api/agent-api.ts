/**
 * `/xmlrpc/agent`: what OXAD agents call on the manager (ocf-protocol.md §5.1).
 */
import { maxParams, stringParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { ProvisioningService } from '../services/provisioning-service.js';

export function agentApi(deps: { provisioning: ProvisioningService }): Record<string, XmlRpcMethod> {
  return {
    /** `sendAsync(xml)` → nil (§5.1). A document that does not parse gets fault 1. */
    sendAsync: async (p) => {
      maxParams(p, 1);
      await deps.provisioning.handleAgentStatus(stringParam(p, 0, 'xml'));
      return null;
    },
  };
}
