/**
 * `/xmlrpc/admin` GENI trusted-root methods (role `admin`; `vtctl geni trust add|list|remove`; docs/geni-v3.md
 * §9.4 "Trusted roots"): `geni.trust.add({pem})` → the root added `{file, urn, subject, notAfter, fingerprint}`;
 * `geni.trust.list()` → those of every root in force; `geni.trust.remove({name})` → `{file, removed: true}`.
 * Changes apply at once (the store reloads); the credential verifier sees them on its next call.
 */
import path from 'node:path';
import { structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { TrustedRootsStore } from '../adapters/trusted-roots-store.js';
import { TrustedRootsService } from '../services/geni/trusted-roots-service.js';
import { requireString } from './request-fields.js';

/**
 * The `geni.trust.*` methods over `roots`. `trustedRootsDir`, when given, must be the store's folder (a wiring check).
 * @throws Error at wiring time when it is not.
 */
export function geniTrustAdminApi(deps: { roots: TrustedRootsStore; trustedRootsDir?: string }): Record<string, XmlRpcMethod> {
  if (deps.trustedRootsDir !== undefined && path.resolve(deps.trustedRootsDir) !== deps.roots.dir) {
    throw new Error(`geniTrustAdminApi: trustedRootsDir ${deps.trustedRootsDir} is not the store's folder ${deps.roots.dir}`);
  }
  const service = new TrustedRootsService(deps.roots);
  return {
    'geni.trust.add': async (p) => ({ ...service.add(requireString(structParam(p, 0, 'root'), 'pem')) }),
    'geni.trust.list': async () => service.list().map((r) => ({ ...r })),
    'geni.trust.remove': async (p) => service.remove(requireString(structParam(p, 0, 'root'), 'name')),
  };
}
