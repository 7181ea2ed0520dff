/**
 * Test support for the GENI endpoint (test-only; never imported by shipped code): a credential checker that
 * accepts the credentials a test hands it (the real checks are the credentials helper's, tested there; slice binding
 * is the real `bindToSlice`), the real RSpec codec with replaceable members, a request RSpec builder in the RO's
 * shape, and the aggregate wired onto a {@link World}.
 */
import { componentManagerUrn, nodeUrn } from '@kvm-crm/shared';
import { bindToSlice, GeniCredentialError, type VerifiedCredential } from '../services/geni/credential-verifier.js';
import { CapacityService } from '../services/capacity-service.js';
import { GeniAggregateService } from '../services/geni/geni-aggregate-service.js';
import { SHARED_GENI_CODEC, type GeniCredentials, type GeniMethod, type GeniRspecCodec } from '../services/geni/geni-ports.js';
import type { GeniSettings } from '../services/geni/geni-settings.js';
import { GeniSliverService } from '../services/geni/geni-sliver-service.js';
import { IpamService } from '../services/ipam-service.js';
import { PlacementService } from '../services/placement/placement-service.js';
import { silentLogger, type World } from './fakes.js';

export const TEST_AUTHORITY = 'ocf.test';
export const TEST_SLICE = 'urn:publicid:IDN+ch.test+slice+myslice';
export const OTHER_SLICE = 'urn:publicid:IDN+ch.test+slice+other';

/** A verified slice credential for `sliceUrn`, expiring `hours` from now. */
export function sliceCredential(sliceUrn: string = TEST_SLICE, hours = 24): VerifiedCredential {
  return { ownerUrn: 'urn:publicid:IDN+ch.test+user+alice', targetUrn: sliceUrn, targetType: 'slice', expires: new Date(Date.now() + hours * 3600_000), privileges: ['*'] };
}

/**
 * Credentials by token: a test passes `[token]` as the credentials parameter; `verify` answers the credentials
 * registered for that token, and throws GeniCredentialError (→ FORBIDDEN) for an unknown one. Records each call.
 */
export class FakeGeniCredentials implements GeniCredentials {
  readonly byToken = new Map<string, VerifiedCredential[]>();
  readonly calls: Array<{ method: GeniMethod; token: unknown }> = [];

  async verify(method: GeniMethod, credentials: unknown): Promise<VerifiedCredential[]> {
    const token = Array.isArray(credentials) ? credentials[0] : undefined;
    this.calls.push({ method, token });
    const found = typeof token === 'string' ? this.byToken.get(token) : undefined;
    if (!found) throw new GeniCredentialError('No credential was found with appropriate privileges. Tried nobody. Last failure: test token unknown');
    return found;
  }

  bindToSlice(verified: VerifiedCredential[], sliceUrn: string): VerifiedCredential {
    return bindToSlice(verified, sliceUrn);
  }
}

/** The real codec (shared's RSpec and URN functions); a test may replace members. */
export function testCodec(over: Partial<GeniRspecCodec> = {}): GeniRspecCodec {
  return { ...SHARED_GENI_CODEC, ...over };
}

/** GENI settings for tests (`over` replaces fields). */
export function testGeniSettings(over: Partial<GeniSettings> = {}): GeniSettings {
  return {
    authorityHrn: TEST_AUTHORITY, defaultTemplate: 'tiny', maxAllocationHours: 2, maxSliverDays: 30, autoStartAfterProvision: true,
    vm: { memoryMiB: 256, vcpus: 1, diskGiB: null, maxMemoryMiB: 4096, maxVcpus: 4, maxDiskGiB: 50 }, ...over,
  };
}

/** The GENI services on `w` with fake credentials and the test codec. */
export function geniOnWorld(w: World, over: Partial<GeniSettings> = {}): { am: GeniAggregateService; slivers: GeniSliverService; credentials: FakeGeniCredentials; settings: GeniSettings } {
  const settings = testGeniSettings(over);
  const codec = testCodec();
  const credentials = new FakeGeniCredentials();
  const ratios = { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 };
  const slivers = new GeniSliverService(w.tx, w.provisioning.intake, new IpamService(), new PlacementService({ capacity: ratios, policy: 'spread' }), w.agent, codec, settings, silentLogger());
  const am = new GeniAggregateService({
    tx: w.tx, slivers, credentials, codec, capacity: new CapacityService(ratios), agents: w.agent, settings, publicUrl: 'https://am.test:8445/xmlrpc/geni/3/', log: silentLogger(),
  });
  return { am, slivers, credentials, settings };
}

/** A request RSpec as the FELIX RO forwards it (§7.2), one node per entry. */
export function requestRspec(nodes: Array<{ clientId: string; server?: string; image?: string; ram?: number; cores?: number; disk?: number }>, authority = TEST_AUTHORITY): string {
  const cm = componentManagerUrn(authority);
  const body = nodes
    .map((n) => {
      const comp = n.server ? ` component_id="${nodeUrn(authority, n.server)}"` : '';
      const img = n.image ? `<disk_image name="${n.image}"/>` : '';
      const xen = n.ram !== undefined || n.cores !== undefined ? `<emulab:xen cores="${n.cores ?? 1}" ram="${n.ram ?? 256}" disk="${n.disk ?? 1}"/>` : '';
      return `<node client_id="${n.clientId}"${comp} component_manager_id="${cm}" exclusive="false"><sliver_type name="emulab-xen">${img}${xen}</sliver_type></node>`;
    })
    .join('\n');
  return `<rspec xmlns="http://www.geni.net/resources/rspec/3" xmlns:emulab="http://www.protogeni.net/resources/rspec/ext/emulab/1" type="request">\n${body}\n</rspec>`;
}
