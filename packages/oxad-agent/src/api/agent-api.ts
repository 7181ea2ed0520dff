/**
 * The OCF agent methods (ocf-protocol.md §4.2): `send`, `ping`, `pingAuth`, `list_vm_templates`,
 * `force_list_active_vms`. The shared agent password is a method argument, compared in constant time.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { AuthenticationError, InputError, parsePeerUrl, parseRspec, stringParam, UUID_PATTERN, type XmlRpcMethod } from '@kvm-crm/shared';
import type { TemplateCatalogue } from '../templates/template-catalogue.js';
import type { AgentProvisioningService } from '../services/provisioning-service.js';

/** What the API needs to list running domains. */
export interface DomainLister {
  listAll(): Promise<Array<{ name: string; uuid: string; state: string }>>;
}

function samePassword(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function agentApi(deps: {
  password: string;
  provisioning: AgentProvisioningService;
  templates: TemplateCatalogue;
  domains: DomainLister;
  domainPrefix: string;
}): Record<string, XmlRpcMethod> {
  const checkPassword = (p: unknown[], index: number) => {
    if (!samePassword(stringParam(p, index, 'password'), deps.password)) throw new AuthenticationError('Password mismatch');
  };
  return {
    /**
     * `send(callBackUrl, amId, password, xml)` → `""` before any work (§4.2). Provisioning actions run in the
     * background; statuses go to callBackUrl. Monitoring queries are not handled yet.
     * @throws fault `Password mismatch`; InputError for XML that does not parse or holds no query.
     */
    send: (p) => {
      checkPassword(p, 2);
      const callbackUrl = stringParam(p, 0, 'callBackUrl');
      parsePeerUrl(callbackUrl);
      const doc = parseRspec(stringParam(p, 3, 'xml'));
      if (!doc.query) throw new InputError('the document holds no query');
      const actions = doc.query.provisioning?.actions ?? [];
      if (actions.length === 0) throw new InputError('the query holds no provisioning action (monitoring is not supported yet)');
      deps.provisioning.submit(callbackUrl, actions);
      return '';
    },
    /** `ping(challenge)` → challenge, unauthenticated (§4.2). */
    ping: (p) => (p.length ? p[0] : ''),
    /** `pingAuth(challenge, password)` → challenge. */
    pingAuth: (p) => {
      checkPassword(p, 1);
      return p[0];
    },
    /** `list_vm_templates(password)` → names of the catalogue's templates (§4.2). */
    list_vm_templates: async (p) => {
      checkPassword(p, 0);
      return (await deps.templates.list()).map((t) => t.name);
    },
    /** `force_list_active_vms(password, vm_uuid | 'None')` → `{uuid: domain name}` of running domains (§4.2). */
    force_list_active_vms: async (p) => {
      checkPassword(p, 0);
      const filter = stringParam(p, 1, 'vm_uuid', 'None');
      if (filter !== 'None' && !UUID_PATTERN.test(filter)) throw new InputError('vm_uuid must be a UUID or None');
      const out: Record<string, string> = {};
      for (const d of await deps.domains.listAll()) {
        if (d.state !== 'running' || !d.name.startsWith(deps.domainPrefix)) continue;
        if (filter !== 'None' && d.uuid.toLowerCase() !== filter.toLowerCase()) continue;
        out[d.uuid] = d.name;
      }
      return out;
    },
  };
}
