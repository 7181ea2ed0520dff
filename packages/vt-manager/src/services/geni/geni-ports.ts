/**
 * What the GENI services need from the two sibling pieces of issue #11, as interfaces (the shapes are those of
 * /work/shared/docs' geni contract): the RSpec and identifier functions of `@kvm-crm/shared` (rspec helper) and the
 * credential verifier (credentials helper). manager-app.ts passes the real ones; unit tests pass fakes.
 */

import {
  buildAdvertisement,
  buildManifest,
  componentManagerUrn,
  compressRspec,
  nodeUrn,
  parseRequestRspec,
  parseSliverUrn,
  sliverUrn,
  templateNameOfDiskImage,
  type AdvertisedNode,
  type ManifestSliver,
  type RequestedNode,
} from '@kvm-crm/shared';
import type { CredentialNeed, GeniMethod, VerifiedCredential } from './credential-verifier.js';

export type { CredentialNeed, GeniMethod, VerifiedCredential };
/** The RSpec shapes of `@kvm-crm/shared` (geni/rspec/), as the GENI services use them. */
export type { AdvertisedNode, ManifestSliver, RequestedNode };

/**
 * The credential checks: `verify` (§9.3 items 1–7 over the raw XML-RPC credentials parameter) and `bindToSlice`
 * (§9.5). Both throw the verifier's GeniCredentialError, which geni-result.ts maps to FORBIDDEN (3). `need` says
 * how many credentials must pass before `verify` stops (default every one; see CredentialNeed).
 */
export interface GeniCredentials {
  verify(method: GeniMethod, credentials: unknown, need?: CredentialNeed): Promise<VerifiedCredential[]>;
  bindToSlice(verified: VerifiedCredential[], sliceUrn: string): VerifiedCredential;
}

/** The RSpec and URN functions of `@kvm-crm/shared` the GENI services use (see the contract). */
export interface GeniRspecCodec {
  componentManagerUrn(authorityHrn: string): string;
  nodeUrn(authorityHrn: string, serverName: string): string;
  sliverUrn(authorityHrn: string, serverName: string, sliceUrn: string, clientId: string): string;
  parseSliverUrn(authorityHrn: string, urn: string): { serverName: string; sliceLeaf: string; clientId: string } | undefined;
  buildAdvertisement(authorityHrn: string, nodes: AdvertisedNode[]): string;
  /** @throws InputError (→ BADARGS) for a malformed request. */
  parseRequestRspec(xml: string, authorityHrn: string): RequestedNode[];
  templateNameOfDiskImage(name: string | undefined): string | undefined;
  buildManifest(authorityHrn: string, slivers: ManifestSliver[]): string;
  compressRspec(xml: string): string;
}

/** The real codec: `@kvm-crm/shared`'s GENI identifiers, request parser, RSpec builders and compression. */
export const SHARED_GENI_CODEC: GeniRspecCodec = {
  componentManagerUrn, nodeUrn, sliverUrn, parseSliverUrn, parseRequestRspec, templateNameOfDiskImage, buildAdvertisement, buildManifest, compressRspec,
};
