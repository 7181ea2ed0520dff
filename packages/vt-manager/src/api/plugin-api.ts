/**
 * Northbound `/xmlrpc/plugin` methods for clearinghouses (ocf-protocol.md §2.2). Thin: parameter checks, then
 * the services.
 */
import { maxParams, stringParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { ProvisioningService } from '../services/provisioning-service.js';

export function pluginApi(deps: { provisioning: ProvisioningService; amVersion: string }): Record<string, XmlRpcMethod> {
  return {
    /** `send(callBackUrl, xml)` → nil; statuses follow as `sendAsync` to callBackUrl (§2.2.1). */
    send: async (p) => {
      maxParams(p, 2);
      await deps.provisioning.submit(stringParam(p, 0, 'callBackUrl'), stringParam(p, 1, 'xml'));
      return null;
    },
    /** `ping(challenge)` → challenge (§2.2.6). */
    ping: (p) => (p.length ? p[0] : ''),
    /** `get_am_info(args)` → `{version}` (§2.2.6). */
    get_am_info: () => ({ version: deps.amVersion }),
    /** `get_ocf_am_version()` → version string (§2.2.6). */
    get_ocf_am_version: () => deps.amVersion,
  };
}
