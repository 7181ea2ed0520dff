/**
 * `/xmlrpc/agent`: what OXAD agents call on the manager (docs/ocf-protocol.md §5.1).
 */
import { AuthenticationError, InputError, maxParams, parseRspec, serialiseRspec, stringParam, type Rspec, type XmlRpcMethod } from '@kvm-crm/shared';

/** The registered server an agent call was authenticated as (its certificate, or a legacy server's address). */
export interface FromServer {
  name: string;
}

/** What {@link agentApi} calls (ProvisioningService and MonitoringService satisfy it). */
export interface AgentApiDeps {
  provisioning: { handleProvisioningDocument(doc: Rspec, from?: FromServer): Promise<void> };
  monitoring: { handleMonitoringDocument(doc: Rspec, rawForward: (doc: Rspec) => string, from?: FromServer): Promise<void> };
}

/** The `/xmlrpc/agent` methods (role `agent`): `sendAsync` only. */
export function agentApi(deps: AgentApiDeps): Record<string, XmlRpcMethod> {
  return {
    /**
     * `sendAsync(xml)` → nil (§5.1): provisioning statuses (§5.3) and monitoring answers and libvirt events
     * (§5.4), from the server the endpoint's authentication identified (`ctx.principal.name`, the registered
     * server name). A document that does not parse gets fault 1.
     * @throws AuthenticationError when the call carries no server identity (the endpoint must authenticate).
     */
    sendAsync: async (p, ctx) => {
      maxParams(p, 1);
      if (!ctx.principal?.roles.includes('agent')) throw new AuthenticationError('sendAsync needs an authenticated agent');
      const from: FromServer = { name: ctx.principal.name };
      const doc = parseRspec(stringParam(p, 0, 'xml'));
      if (!doc.response?.provisioning && !doc.response?.monitoring) throw new InputError('the document holds no provisioning or monitoring response');
      // TODO(lead): the services scope each status/event/answer to `from`'s VMs (NotAllowedError otherwise).
      await deps.provisioning.handleProvisioningDocument(doc, from);
      await deps.monitoring.handleMonitoringDocument(doc, (d) => serialiseRspec(d, { dialect: 'manager' }), from);
      return null;
    },
  };
}
