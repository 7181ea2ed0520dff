/**
 * Test support (never used by the daemon): GENI credentials for the verifier's tests and the e2e tests.
 * - {@link geniFixturesDir}: the verbatim FELIX fixtures (`shared/geni-fixtures/`);
 * - {@link mintGeniCredentials}: fresh credentials from `shared/tools/make-geni-credential.sh` (openssl + xmlsec1);
 * - {@link credentialXml} + {@link signCredential}: hand-built credentials signed with any key, for the hostile
 *   cases the script does not make (forged KeyValue-only signatures, delegations).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** `$GENI_FIXTURES_DIR`, else `<repo>/../shared/geni-fixtures`. @throws Error when it is not there. */
export function geniFixturesDir(): string {
  const dir = process.env['GENI_FIXTURES_DIR'] ?? fileURLToPath(new URL('../../../../../shared/geni-fixtures/', import.meta.url));
  if (!existsSync(path.join(dir, 'README.md'))) throw new Error(`GENI fixtures not found in ${dir} (set GENI_FIXTURES_DIR)`);
  return dir;
}

/** `$GENI_CREDENTIAL_TOOL`, else `<repo>/../shared/tools/make-geni-credential.sh`. */
export function geniCredentialTool(): string {
  const tool = process.env['GENI_CREDENTIAL_TOOL'] ?? fileURLToPath(new URL('../../../../../shared/tools/make-geni-credential.sh', import.meta.url));
  if (!existsSync(tool)) throw new Error(`make-geni-credential.sh not found at ${tool} (set GENI_CREDENTIAL_TOOL)`);
  return tool;
}

/** What {@link mintGeniCredentials} made (absolute paths; URNs). */
export interface MintedCredentials {
  dir: string;
  trustedRootsDir: string;
  authorityUrn: string;
  userUrn: string;
  sliceUrn: string;
  /** ca.gid and its key: to sign more credentials. */
  caGid: string;
  caKey: string;
  userGid: string;
  userKey: string;
  userCertOnly: string;
  sliceGid: string;
  userCred: string;
  sliceCred: string;
  expiredCred: string;
  tamperedCred: string;
  untrustedCred: string;
  userprivsCred: string;
}

/**
 * Runs make-geni-credential.sh into `dir` (which must not exist; the script creates it). A few seconds.
 * @throws Error with the script's output when it fails.
 */
export async function mintGeniCredentials(
  dir: string,
  options: { authority?: string; user?: string; slice?: string; days?: number; digest?: 'sha1' | 'sha256' } = {},
): Promise<MintedCredentials> {
  const authority = options.authority ?? 'kvmcrm-test';
  const user = options.user ?? 'alice';
  const slice = options.slice ?? 'testslice';
  const args = ['-o', dir, '-a', authority, '-u', user, '-s', slice, '-d', String(options.days ?? 2), '--digest', options.digest ?? 'sha1'];
  const r = await execa(geniCredentialTool(), args, { reject: false, stdin: 'ignore', timeout: 120_000, all: true });
  if (r.failed) throw new Error(`make-geni-credential.sh failed: ${r.all ?? r.shortMessage}`);
  const f = (n: string) => path.join(dir, n);
  return {
    dir,
    trustedRootsDir: f('trusted_roots'),
    authorityUrn: `urn:publicid:IDN+${authority}+authority+sa`,
    userUrn: `urn:publicid:IDN+${authority}+user+${user}`,
    sliceUrn: `urn:publicid:IDN+${authority}+slice+${slice}`,
    caGid: f('ca.gid'),
    caKey: f('ca-key.pem'),
    userGid: f(`${user}.gid`),
    userKey: f(`${user}-key.pem`),
    userCertOnly: f(`${user}-cert-only.pem`),
    sliceGid: f('slice.gid'),
    userCred: f(`${user}-user.cred`),
    sliceCred: f(`${slice}-slice.cred`),
    expiredCred: f(`${slice}-slice-expired.cred`),
    tamperedCred: f(`${slice}-slice-tampered.cred`),
    untrustedCred: f(`${slice}-slice-untrusted.cred`),
    userprivsCred: f(`${slice}-slice-userprivs.cred`),
  };
}

/** One credential of {@link credentialXml}. */
export interface CredentialSpec {
  refId: string;
  ownerGidPem: string;
  ownerUrn: string;
  targetGidPem: string;
  targetUrn: string;
  expires: Date;
  privileges: { name: string; canDelegate?: boolean }[];
  parent?: CredentialSpec;
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<signed-credential xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.geni.net/resources/credential/2/credential.xsd" xsi:schemaLocation="http://www.protogeni.net/resources/credential/ext/policy/1 http://www.protogeni.net/resources/credential/ext/policy/1/policy.xsd">';

function credentialElement(c: CredentialSpec): string {
  const privs = c.privileges.map((p) => `<privilege><name>${p.name}</name><can_delegate>${p.canDelegate ? 'true' : 'false'}</can_delegate></privilege>`).join('');
  const parent = c.parent ? `<parent>${credentialElement(c.parent)}</parent>` : '';
  return `<credential xml:id="${c.refId}"><type>privilege</type><serial>8</serial><owner_gid>${c.ownerGidPem}</owner_gid><owner_urn>${c.ownerUrn}</owner_urn><target_gid>${c.targetGidPem}</target_gid><target_urn>${c.targetUrn}</target_urn><uuid/><expires>${c.expires.toISOString().slice(0, 19)}Z</expires><privileges>${privs}</privileges>${parent}</credential>`;
}

/** GCF's signature template for `refId` (§9.1; rsa-sha1, sha1, inclusive C14N). `keyInfo` replaces the KeyInfo content. */
export function signatureTemplate(refId: string, keyInfo = '<X509Data><X509SubjectName/><X509IssuerSerial/><X509Certificate/></X509Data><KeyValue/>'): string {
  return `<Signature xml:id="Sig_${refId}" xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/><SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/><Reference URI="#${refId}"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><DigestValue></DigestValue></Reference></SignedInfo><SignatureValue/><KeyInfo>${keyInfo}</KeyInfo></Signature>`;
}

/**
 * An unsigned credential document with one signature template per credential (top first, then parents).
 * `keyInfo` overrides the KeyInfo content of every template.
 */
export function credentialXml(c: CredentialSpec, keyInfo?: string): string {
  const sigs: string[] = [];
  for (let x: CredentialSpec | undefined = c; x; x = x.parent) sigs.push(signatureTemplate(x.refId, keyInfo));
  return `${XML_HEAD}${credentialElement(c)}<signatures>${sigs.join('')}</signatures></signed-credential>\n`;
}

/**
 * Signs signature `Sig_<refId>` of `xml` with xmlsec1 (`--sign --privkey-pem key[,cert…]`, as GCF does) and returns
 * the signed text. `certFiles` empty: only the key (KeyValue) is put in KeyInfo. `workDir` receives the files.
 */
export async function signCredential(xml: string, refId: string, keyFile: string, certFiles: readonly string[], workDir: string): Promise<string> {
  const input = path.join(workDir, `sign-${refId}-${process.pid}-in.xml`);
  const output = path.join(workDir, `sign-${refId}-${process.pid}-out.xml`);
  writeFileSync(input, xml, { mode: 0o600 });
  const r = await execa('xmlsec1', ['--sign', '--node-id', `Sig_${refId}`, '--privkey-pem', [keyFile, ...certFiles].join(','), '--output', output, input], {
    reject: false, stdin: 'ignore', timeout: 30_000, all: true,
  });
  if (r.failed) throw new Error(`xmlsec1 --sign failed: ${r.all ?? r.shortMessage}`);
  return readFileSync(output, 'utf8');
}

/** Makes a self-signed key pair claiming `urn` (a forger's authority), as files `<name>-key.pem`, `<name>.pem` in `dir`. */
export async function makeSelfSignedAuthority(dir: string, name: string, urn: string): Promise<{ key: string; cert: string }> {
  const key = path.join(dir, `${name}-key.pem`);
  const cert = path.join(dir, `${name}.pem`);
  const r = await execa('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', `subjectAltName=URI:${urn}`,
  ], { reject: false, stdin: 'ignore', timeout: 60_000, all: true });
  if (r.failed) throw new Error(`openssl req failed: ${r.all ?? r.shortMessage}`);
  return { key, cert };
}
