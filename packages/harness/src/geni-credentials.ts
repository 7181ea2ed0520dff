/**
 * Fresh GENI/SFA test credentials for end-to-end tests, minted with the shared tool
 * `<repo>/../shared/tools/make-geni-credential.sh` (openssl + xmlsec1; its doc `make-geni-credential.md` beside it):
 * a self-signed test authority (put its GID into the manager's `geni.trustedRootsDir`), a user and a slice GID, a user
 * credential (ListResources only), a slice credential (every sliver operation), negative variants, and an ed25519
 * SSH key pair for `geni_users` when ssh-keygen exists.
 */
import { access, copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from './repo-root.js';

/** Where the shared GENI tools live: `$GENI_TOOLS_DIR`, else `<repo>/../shared/tools`. */
export const GENI_TOOLS_DIR = process.env.GENI_TOOLS_DIR ?? path.resolve(REPO_ROOT, '../shared/tools');
/** Where the GENI fixtures (RSpecs, credentials, schemas) live: `$GENI_FIXTURES_DIR`, else `<repo>/../shared/geni-fixtures`. */
export const GENI_FIXTURES_DIR = process.env.GENI_FIXTURES_DIR ?? path.resolve(REPO_ROOT, '../shared/geni-fixtures');

/** What {@link mintGeniCredentials} made (absolute paths; URNs as the tool prints them). */
export interface GeniTestCredentials {
  dir: string;
  authorityUrn: string;
  userUrn: string;
  sliceUrn: string;
  /** The authority GID, the file to trust. */
  rootGid: string;
  userCred: string;
  sliceCred: string;
  sliceCredExpired: string;
  sliceCredTampered: string;
  sliceCredUntrusted: string;
  sliceCredInfoOnly: string;
  /** The ed25519 public key file for geni_users, and its `SHA256:…` fingerprint as ssh-keygen prints it; absent without ssh-keygen. */
  sshPublicKey?: string;
  sshFingerprint?: string;
  /** The credentials' `<expires>` (UTC), from the tool's README.txt. */
  expires: Date;
}

/**
 * Mints a test authority `authority` (URN authority part, e.g. `kvmcrm-t1a2b3c`), user `user` and slice `slice`
 * with credentials valid for `days` days (signed with `digest`) into `dir` (created; must not exist yet). When `trustedRootsDir` is given
 * the authority GID is copied there. @throws when the tool is missing or its self-checks fail.
 */
export async function mintGeniCredentials(options: {
  dir: string;
  authority: string;
  user: string;
  slice: string;
  days?: number;
  trustedRootsDir?: string;
  /** Signature and digest algorithm: `sha1` (RSA-SHA1, the tool's default, like GCF/SFA/C-BAS) or `sha256`. */
  digest?: 'sha1' | 'sha256';
}): Promise<GeniTestCredentials> {
  const tool = path.join(GENI_TOOLS_DIR, 'make-geni-credential.sh');
  await access(tool);
  const r = await execa('bash', [tool, '-o', options.dir, '-a', options.authority, '-u', options.user, '-s', options.slice, '-d', String(options.days ?? 2), '--digest', options.digest ?? 'sha1'], {
    timeout: 120_000,
  });
  const field = (label: string): string => {
    const m = new RegExp(`^${label}\\s*:\\s*(\\S+)`, 'm').exec(r.stdout);
    if (!m) throw new Error(`make-geni-credential.sh printed no "${label}": ${r.stdout}`);
    return m[1]!;
  };
  const exp = /credentials expire (\S+)\)/.exec(r.stdout)?.[1];
  if (!exp) throw new Error(`make-geni-credential.sh printed no expiry: ${r.stdout}`);
  const authFile = options.authority.replace(/[:.]/g, '_');
  const d = options.dir;
  const rootGid = path.join(d, 'trusted_roots', `${authFile}.gid`);
  if (options.trustedRootsDir) {
    await mkdir(options.trustedRootsDir, { recursive: true });
    await copyFile(rootGid, path.join(options.trustedRootsDir, `${authFile}.gid`));
  }
  const sshPublicKey = path.join(d, `${options.user}-ssh.pub`);
  const hasKey = await access(sshPublicKey).then(() => true, () => false);
  const sshFingerprint = hasKey ? (await execa('ssh-keygen', ['-lf', sshPublicKey])).stdout.split(' ')[1] : undefined;
  const s = (suffix: string) => path.join(d, `${options.slice}-slice${suffix}.cred`);
  return {
    dir: d,
    authorityUrn: field('authority URN'),
    userUrn: field('user URN'),
    sliceUrn: field('slice URN'),
    rootGid,
    userCred: path.join(d, `${options.user}-user.cred`),
    sliceCred: s(''),
    sliceCredExpired: s('-expired'),
    sliceCredTampered: s('-tampered'),
    sliceCredUntrusted: s('-untrusted'),
    sliceCredInfoOnly: s('-userprivs'),
    ...(hasKey ? { sshPublicKey, sshFingerprint } : {}),
    expires: new Date(exp),
  };
}
