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
} from '@kvm-crm/shared';
import type { CredentialNeed, GeniMethod, VerifiedCredential } from './credential-verifier.js';

export type { CredentialNeed, GeniMethod, VerifiedCredential };

/**
 * The credential checks: `verify` (§9.3 items 1–7 over the raw XML-RPC credentials parameter) and `bindToSlice`
 * (§9.5). Both throw the verifier's GeniCredentialError, which geni-result.ts maps to FORBIDDEN (3). `need` says
 * how many credentials must pass before `verify` stops (default every one; see CredentialNeed).
 */
export interface GeniCredentials {
  verify(method: GeniMethod, credentials: unknown, need?: CredentialNeed): Promise<VerifiedCredential[]>;
  bindToSlice(verified: VerifiedCredential[], sliceUrn: string): VerifiedCredential;
}

/** A node of an advertisement (§7.1). Capacity free for VMs; memory in MiB, disk in GiB. */
export interface AdvertisedNode {
  serverName: string;
  available: boolean;
  templates: string[];
  cpus?: number;
  memoryMb?: number;
  diskGb?: number;
}

/** A node of a request RSpec (§7.2). */
export interface RequestedNode {
  clientId: string;
  /** From component_id; undefined: unbound (we place it). */
  serverName?: string;
  sliverType?: string;
  /** disk_image@name as sent. */
  diskImage?: string;
  ramMb?: number;
  cores?: number;
  diskGb?: number;
}

/** A sliver in a manifest (§7.3). */
export interface ManifestSliver {
  clientId: string;
  serverName: string;
  sliverUrn: string;
  template?: string;
  /** Empty until the VM has a management address. */
  logins: { hostname: string; username: string }[];
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
