/**
 * Fresh GENI/SFA test credentials for end-to-end tests: vt-manager's test support `mintGeniCredentials` (the shared
 * `make-geni-credential.sh`, openssl + xmlsec1) plus what an e2e run needs on top: the authority GID copied into the
 * manager's trusted-roots folder, the credentials' expiry, and the ed25519 key for `geni_users` with its
 * fingerprint (as the test template's guest prints it).
 */
import { access, copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { mintGeniCredentials as mint, type MintedCredentials } from '@kvm-crm/vt-manager/testing';
import { REPO_ROOT } from './repo-root.js';

/**
 * Where the GENI fixtures (RSpecs, credentials, schemas) live: `$GENI_FIXTURES_DIR`, else `<repo>/../shared/geni-fixtures`
 * (not checked here: importing the harness must not fail where the fixtures are missing).
 */
export const GENI_FIXTURES_DIR = process.env.GENI_FIXTURES_DIR ?? path.resolve(REPO_ROOT, '../shared/geni-fixtures');

/** What {@link mintGeniCredentials} made: the minted files, plus the e2e extras. */
export interface GeniTestCredentials extends MintedCredentials {
  /** The authority GID, the file to trust. */
  rootGid: string;
  /** The ed25519 public key file for geni_users and its `SHA256:…` fingerprint as ssh-keygen prints it; absent without ssh-keygen. */
  sshPublicKey?: string;
  sshFingerprint?: string;
  /** The credentials' `<expires>` (UTC), read from the slice credential. */
  expires: Date;
}

/**
 * Mints a test authority `authority` (URN authority part, e.g. `kvmcrm-t1a2b3c`), user `user` and slice `slice`
 * with credentials valid for `days` days (signed with `digest`) into `dir` (must not exist yet). When
 * `trustedRootsDir` is given the authority GID is copied there. @throws when the tool is missing or fails.
 */
export async function mintGeniCredentials(options: {
  dir: string;
  authority: string;
  user: string;
  slice: string;
  days?: number;
  trustedRootsDir?: string;
  digest?: 'sha1' | 'sha256';
}): Promise<GeniTestCredentials> {
  const m = await mint(options.dir, { authority: options.authority, user: options.user, slice: options.slice, days: options.days ?? 2, digest: options.digest ?? 'sha1' });
  const rootGid = path.join(m.trustedRootsDir, `${options.authority.replace(/[:.]/g, '_')}.gid`);
  if (options.trustedRootsDir) {
    await mkdir(options.trustedRootsDir, { recursive: true });
    await copyFile(rootGid, path.join(options.trustedRootsDir, path.basename(rootGid)));
  }
  const exp = /<expires>([^<]+)<\/expires>/.exec(await readFile(m.sliceCred, 'utf8'))?.[1];
  if (!exp) throw new Error(`no <expires> in ${m.sliceCred}`);
  const sshPublicKey = path.join(options.dir, `${options.user}-ssh.pub`);
  const hasKey = await access(sshPublicKey).then(() => true, () => false);
  const sshFingerprint = hasKey ? (await execa('ssh-keygen', ['-lf', sshPublicKey])).stdout.split(' ')[1] : undefined;
  return { ...m, rootGid, expires: new Date(exp), ...(hasKey ? { sshPublicKey, sshFingerprint } : {}) };
}
