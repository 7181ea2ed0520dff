/**
 * `/xmlrpc/admin` methods of the manifests (role `admin`, for `vtctl manifest …` and `vtctl capacity --manifest`;
 * issue 12, decision 024). vtctl reads, parses and merges the files; these methods take the merged VMs, checked
 * again here, and call services/manifest/manifest-service.ts.
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import { requireString } from './request-fields.js';
import { checkResolvedVms } from '../services/manifest/manifest-file.js';
import { MANIFEST_VERBS, type ManifestVerb } from '../services/manifest/manifest-plan.js';
import type { ManifestService } from '../services/manifest/manifest-service.js';

const who = (ctx: { principal?: { name: string } }): string => {
  if (!ctx.principal) throw new InputError('an authenticated admin is needed');
  return ctx.principal.name;
};

/** The `verb` field. @throws InputError unless it is a manifest verb. */
function verbOf(o: Record<string, unknown>): ManifestVerb {
  const verb = requireString(o, 'verb');
  if (!(MANIFEST_VERBS as readonly string[]).includes(verb)) throw new InputError(`verb must be one of ${MANIFEST_VERBS.join(', ')}`);
  return verb as ManifestVerb;
}

/** The `manifest.*` methods. Every VM in `vms` is `{name, host?, hostname?, ip?, vcpus, memoryMiB, maxMemoryMiB?, diskMiB, dataDisksMiB, template, description?, bridges?, sshKeys?, source}`. */
export function adminManifestApi(deps: { manifests: ManifestService }): Record<string, XmlRpcMethod> {
  const m = deps.manifests;
  return {
    /** `manifest.plan({verb, vms, reboot?})` → `[{kind, vm, host, uuid, detail}]`: what the verb would do; reads only. */
    'manifest.plan': async (p, ctx) => {
      const o = structParam(p, 0, 'manifest');
      return m.plan(who(ctx), verbOf(o), checkResolvedVms(o.vms), { reboot: o.reboot === true });
    },
    /**
     * `manifest.run({verb, vms, keepDisks?, reboot?})` → `[{kind, vm, host, uuid, detail, actionId, error}]`: runs the
     * acting steps (creates, starts, stops, deletes: durable actions, poll `action.show`; set-hostname: the agent
     * rewrites the seed and the name is stored at once, with `reboot` a running VM's reboot action).
     */
    'manifest.run': async (p, ctx) => {
      const o = structParam(p, 0, 'manifest');
      const verb = verbOf(o);
      if (verb === 'dumpxml') throw new InputError('dumpxml is manifest.domainXml');
      return m.run(who(ctx), verb, checkResolvedVms(o.vms), { keepDisks: o.keepDisks === true, reboot: o.reboot === true });
    },
    /** `manifest.domainXml({vms})` → `[{vm, uuid, host, xml, error}]` for the VMs that exist. */
    'manifest.domainXml': async (p, ctx) => m.domainXml(who(ctx), checkResolvedVms(structParam(p, 0, 'manifest').vms)),
    /** `manifest.capacity({vms})` → per host `{host, newVms, vcpus, memoryMiB, diskMiB: {asked, available}, fits, why}` (MiB). */
    'manifest.capacity': async (p, ctx) => m.capacityReport(who(ctx), checkResolvedVms(structParam(p, 0, 'manifest').vms)),
  };
}
