/**
 * `/xmlrpc/agent`: what OXAD agents call on the manager (ocf-protocol.md §5.1).
 */
import { InputError, maxParams, parseRspec, serialiseRspec, stringParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { MonitoringService } from '../services/monitoring-service.js';
import type { ProvisioningService } from '../services/provisioning-service.js';

export function agentApi(deps: { provisioning: ProvisioningService; monitoring: MonitoringService }): Record<string, XmlRpcMethod> {
  return {
    /**
     * `sendAsync(xml)` → nil (§5.1): provisioning statuses (§5.3) and monitoring answers and libvirt events
     * (§5.4). A document that does not parse gets fault 1.
     */
    sendAsync: async (p) => {
      maxParams(p, 1);
      const doc = parseRspec(stringParam(p, 0, 'xml'));
      if (!doc.response?.provisioning && !doc.response?.monitoring) throw new InputError('the document holds no provisioning or monitoring response');
      await deps.provisioning.handleProvisioningDocument(doc);
      await deps.monitoring.handleMonitoringDocument(doc, (d) => serialiseRspec(d, { dialect: 'manager' }));
      return null;
    },
  };
}
