/**
 * Northbound `/xmlrpc/plugin` methods for clearinghouses (docs/ocf-protocol.md §2.2). Thin: parameter checks, then
 * the services.
 */
import { maxParams, pingChallenge, stringParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { InformationService } from '../services/information-service.js';
import type { MonitoringService } from '../services/monitoring-service.js';
import type { ProvisioningService } from '../services/provisioning-service.js';

/** What {@link pluginApi} calls. */
export interface PluginApiDeps {
  provisioning: ProvisioningService;
  information: InformationService;
  monitoring: MonitoringService;
  amVersion: string;
  /** Seconds `send_sync` waits before answering "TIMEOUT" (the original: 600). */
  sendSyncTimeoutSeconds: number;
  /** The callback URL policy, checked before anything is stored (decision 014); absent: no check (unit tests). */
  callbacks?: { checkIntake(principal: string | undefined, callbackUrl: string): Promise<void> };
}

/** One-line help per method, for `system.methodHelp`. */
export const PLUGIN_API_HELP: Record<string, string> = {
  send: 'send(callBackUrl, xml) -> nil. Starts the provisioning actions of the rspec; statuses follow as sendAsync(xml) to callBackUrl.',
  send_sync: 'send_sync(callBackUrl, xml) -> true | failure text | "TIMEOUT". Runs the actions and waits until they end.',
  listResources: 'listResources(remoteHashValue, projectUUID="None", sliceUUID="None") -> [hash, xml] ([hash, ""] when unchanged).',
  list_vm_templates: 'list_vm_templates(server_uuid) -> [{name, operatingSystemType, ..., format, sizeBytes}]',
  force_update_exp_vms: 'force_update_exp_vms(client_id="None", vm_id="None") -> {vmUUID: name} of running VMs; updates VM states.',
  ping: 'ping(challenge) -> challenge',
  get_am_info: 'get_am_info(args) -> {"version": string}',
  get_ocf_am_version: 'get_ocf_am_version() -> version string',
};

/**
 * The `/xmlrpc/plugin` methods (role `clearinghouse`): parameter checks (at most the documented count, strings),
 * then the callback URL policy (`send`, `send_sync`), then the services; the caller's principal scopes provisioning and
 * listings to its projects. Errors are the
 * services' (InputError, NotFoundError, NotAllowedError…), mapped to faults by the XML-RPC handler.
 */
export function pluginApi(deps: PluginApiDeps): Record<string, XmlRpcMethod> {
  return {
    send: async (p, ctx) => {
      maxParams(p, 2);
      const callbackUrl = stringParam(p, 0, 'callBackUrl');
      const xml = stringParam(p, 1, 'xml');
      await deps.callbacks?.checkIntake(ctx.principal?.name, callbackUrl);
      await deps.provisioning.accept(callbackUrl, xml, { principal: ctx.principal?.name });
      return null;
    },
    send_sync: async (p, ctx) => {
      maxParams(p, 2);
      const callbackUrl = stringParam(p, 0, 'callBackUrl', 'None');
      const xml = stringParam(p, 1, 'xml');
      if (callbackUrl !== '' && callbackUrl !== 'None') await deps.callbacks?.checkIntake(ctx.principal?.name, callbackUrl);
      return deps.provisioning.submitAndWait(callbackUrl, xml, deps.sendSyncTimeoutSeconds, ctx.principal?.name);
    },
    listResources: async (p, ctx) => {
      maxParams(p, 3);
      return deps.information.listResourcesResponse(stringParam(p, 0, 'remoteHashValue'), stringParam(p, 1, 'projectUUID', 'None'), stringParam(p, 2, 'sliceUUID', 'None'), ctx.principal?.name);
    },
    list_vm_templates: async (p) => {
      maxParams(p, 1);
      return deps.monitoring.listTemplates(stringParam(p, 0, 'server_uuid'));
    },
    force_update_exp_vms: async (p, ctx) => {
      maxParams(p, 2);
      return deps.monitoring.forceUpdate(stringParam(p, 0, 'client_id', 'None'), stringParam(p, 1, 'vm_id', 'None'), ctx.principal?.name);
    },
    ping: (p) => pingChallenge(p),
    get_am_info: () => ({ version: deps.amVersion }),
    get_ocf_am_version: () => deps.amVersion,
  };
}
