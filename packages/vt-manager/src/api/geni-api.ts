/**
 * `/xmlrpc/geni/3` (and `/xmlrpc/geni/3/`): the GENI AM API v3 methods (docs/geni-v3.md §6) for the FELIX RO and
 * omni. Thin: positional parameters to the aggregate service, whose value goes into the §3 struct; every failure
 * of a GENI method is a struct with `geni_code` and `output` (geni-result.ts), never an XML-RPC fault. Only an
 * unknown method name faults (the shared handler's fault). No HTTP authentication: credentials decide (§2, §9).
 */
import { pingChallenge, type XmlRpcMethod, type Logger } from '@kvm-crm/shared';
import type { GeniAggregateService } from '../services/geni/geni-aggregate-service.js';
import { geniCall } from '../services/geni/geni-result.js';

/** One-line help per method, for `system.methodHelp`. */
export const GENI_API_HELP: Record<string, string> = {
  GetVersion: 'GetVersion([options]) -> GENI struct: API versions, RSpec versions, credential types',
  ListResources: 'ListResources(credentials, options) -> GENI struct, value = advertisement RSpec (geni_compressed: base64 zlib)',
  Describe: 'Describe(urns, credentials, options) -> {geni_rspec, geni_urn, geni_slivers}',
  Allocate: 'Allocate(slice_urn, credentials, rspec, options) -> {geni_rspec, geni_slivers}',
  Renew: 'Renew(urns, credentials, expiration_time, options) -> [sliver struct]',
  Provision: 'Provision(urns, credentials, options) -> {geni_rspec, geni_slivers}',
  Status: 'Status(urns, credentials, options) -> {geni_urn, geni_slivers}',
  PerformOperationalAction: 'PerformOperationalAction(urns, credentials, action, options) -> [sliver struct]; geni_start, geni_stop, geni_restart',
  Delete: 'Delete(urns, credentials, options) -> [{geni_sliver_urn, geni_allocation_status, geni_expires}]',
  Shutdown: 'Shutdown(slice_urn, credentials, options) -> FORBIDDEN (administrators only)',
  ping: 'ping(challenge) -> challenge',
};

/** The GENI endpoint's method table. `amCode` is kvm-crm's version, reported as `code.am_code`. */
export function geniApi(deps: { aggregate: GeniAggregateService; amCode: string; logger: Logger }): Record<string, XmlRpcMethod> {
  const { aggregate: am, amCode, logger } = deps;
  const call = (name: string, body: () => Promise<unknown>) => geniCall(name, amCode, logger, body);
  return {
    GetVersion: () => call('GetVersion', async () => am.getVersion()),
    ListResources: (p) => call('ListResources', () => am.listResources(p[0], p[1])),
    Describe: (p) => call('Describe', () => am.describe(p[0], p[1], p[2])),
    Allocate: (p) => call('Allocate', () => am.allocate(p[0], p[1], p[2], p[3])),
    Renew: (p) => call('Renew', () => am.renew(p[0], p[1], p[2], p[3])),
    Provision: (p) => call('Provision', () => am.provision(p[0], p[1], p[2])),
    Status: (p) => call('Status', () => am.status(p[0], p[1], p[2])),
    PerformOperationalAction: (p) => call('PerformOperationalAction', () => am.performOperationalAction(p[0], p[1], p[2], p[3])),
    Delete: (p) => call('Delete', () => am.delete(p[0], p[1], p[2])),
    Shutdown: () => call('Shutdown', () => am.shutdown()),
    ping: (p) => pingChallenge(p),
  };
}
