/**
 * Renders the files of a cloud-init NoCloud seed (docs/architecture.md decision 4): `meta-data`, `network-config`
 * (version 2, interfaces matched by MAC) and `user-data` (`#cloud-config`).
 *
 * The output format is fixed line by line: besides cloud-init, the test template's init (a busybox awk script)
 * parses it. Every value is validated against a strict pattern before it is written, so no YAML structure can be
 * injected; values that YAML would otherwise read as something other than a string are double-quoted.
 * Pure functions, no I/O.
 */
import { createHash } from 'node:crypto';
import { InputError } from '@kvm-crm/shared/errors';
import { GUEST_HOSTNAME_PATTERN, MAC_PATTERN, UUID_PATTERN, assertPattern, isIpv4 } from '@kvm-crm/shared/validation';

/**
 * Host names we write: a VM name (letters, digits, dash, 1–64 characters, the VM name pattern of Expedient) or a
 * kvm-crm `<hostname>`, RFC 1123 dot-separated labels (decision 024), e.g. `tdh-m01.tdh.internal`.
 */
export const HOSTNAME_PATTERN = new RegExp(`(?:^[0-9a-zA-Z-]{1,64}$)|(?:${GUEST_HOSTNAME_PATTERN.source})`);
/** Guest interface names (`eth0`, `ens3`): a letter, then letters, digits or `_`; 1–15 characters. */
export const GUEST_IFNAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_]{0,14}$/;
/** Guest user names (useradd's default rule, no trailing `$`): 1–32 characters. */
export const GUEST_USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
/**
 * One OpenSSH public key line: key type, base64 blob, optional comment of printable ASCII without `"` and `\`.
 * At most 16 KiB (an RSA 16384-bit key is ~2.8 KiB).
 */
export const SSH_PUBLIC_KEY_PATTERN =
  /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [\x20\x21\x23-\x5b\x5d-\x7e]{1,256})?$/;

/** Most nameservers / addresses per interface we accept. */
const MAX_DNS = 8;
const MAX_ADDRESSES = 16;
const MAX_NICS = 32;
const MAX_USERS = 32;
const MAX_KEYS = 32;

/** One guest network interface of a {@link CloudInitSpec}. */
export interface SeedNic {
  /** Name the guest gives the interface (`set-name`), e.g. `eth0`. */
  name: string;
  /** MAC address the interface is matched by; written in lower case. */
  mac: string;
  /** Static IPv4 addresses with prefix length, e.g. `10.0.0.16/24`. None: the interface is left unconfigured (`dhcp4: false`). */
  addresses?: string[];
  /** IPv4 default gateway (needs addresses; at most one interface may have one). */
  gateway?: string;
  /** IPv4 nameservers (needs addresses). */
  dns?: string[];
}

/** One guest user of a {@link CloudInitSpec}. */
export interface SeedUser {
  /** Login name. */
  name: string;
  /** OpenSSH public key lines for `~/.ssh/authorized_keys`. */
  sshAuthorizedKeys?: string[];
}

/** What the seed says about a VM. */
export interface CloudInitSpec {
  /** cloud-init instance ID: the VM's UUID (written in lower case). */
  instanceId: string;
  /** Guest host name. */
  hostname: string;
  /** Network interfaces, in order. */
  nics: SeedNic[];
  /** Users to create; none: cloud-init's defaults apply. */
  users?: SeedUser[];
  /**
   * OpenSSH public key lines for the image's default user (cloud-init's top-level `ssh_authorized_keys`); used
   * when the keys are not tied to named users.
   */
  sshAuthorizedKeys?: string[];
}

/** The three files of a seed, by their NoCloud file names. */
export type SeedFiles = {
  'meta-data': string;
  'network-config': string;
  'user-data': string;
};

/**
 * Renders all three seed files after validating the whole spec.
 * @throws InputError naming the first invalid value.
 */
export function renderSeedFiles(spec: CloudInitSpec): SeedFiles {
  validateSpec(spec);
  return {
    'meta-data': renderMetaData(spec),
    'network-config': renderNetworkConfig(spec),
    'user-data': renderUserData(spec),
  };
}

/**
 * `meta-data`: `instance-id: <uuid>` and `local-hostname: <hostname>`, one per line.
 * @throws InputError for a bad UUID or host name.
 */
export function renderMetaData(spec: Pick<CloudInitSpec, 'instanceId' | 'hostname'>): string {
  const id = assertPattern(spec.instanceId, UUID_PATTERN, 'instance ID').toLowerCase();
  const host = assertPattern(spec.hostname, HOSTNAME_PATTERN, 'host name');
  return `instance-id: ${id}\nlocal-hostname: ${yamlWord(host)}\n`;
}

/**
 * `network-config` version 2: per interface `match.macaddress` and `set-name`, then either `addresses`
 * (+ `routes` with a default route when a gateway is given, + `nameservers` when DNS servers are given) or
 * `dhcp4: false` when it has no address. No interfaces: `ethernets: {}`.
 * @throws InputError for any invalid or inconsistent value (duplicate names/MACs, two gateways, gateway or DNS
 *   without addresses).
 */
export function renderNetworkConfig(spec: Pick<CloudInitSpec, 'nics'>): string {
  validateNics(spec.nics);
  const lines = ['version: 2'];
  if (spec.nics.length === 0) {
    lines.push('ethernets: {}');
    return `${lines.join('\n')}\n`;
  }
  lines.push('ethernets:');
  for (const nic of spec.nics) {
    lines.push(`  ${nic.name}:`, '    match:', `      macaddress: "${nic.mac.toLowerCase()}"`, `    set-name: ${nic.name}`);
    const addresses = nic.addresses ?? [];
    if (addresses.length === 0) {
      lines.push('    dhcp4: false');
      continue;
    }
    lines.push('    addresses:', ...addresses.map((a) => `      - "${a}"`));
    if (nic.gateway !== undefined) lines.push('    routes:', '      - to: default', `        via: "${nic.gateway}"`);
    if (nic.dns !== undefined && nic.dns.length > 0) {
      lines.push('    nameservers:', '      addresses:', ...nic.dns.map((d) => `        - "${d}"`));
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `user-data`: `#cloud-config`, `hostname: <hostname>` (for a dotted name: `hostname: <first label>` and
 * `fqdn: <name>`, cloud-init's set_hostname keys), then the default user's keys as a top-level
 * `ssh_authorized_keys:` list when given, and, when users are given, a `users:` list with `name` and
 * `ssh_authorized_keys` per user. Every key is double-quoted, one per `- "…"` line (the test template's init
 * greps these lines).
 * @throws InputError for a bad host name, user name or key.
 */
export function renderUserData(spec: Pick<CloudInitSpec, 'hostname' | 'users' | 'sshAuthorizedKeys'>): string {
  const host = assertPattern(spec.hostname, HOSTNAME_PATTERN, 'host name');
  validateUsers(spec.users);
  validateKeys(spec.sshAuthorizedKeys, 'the default user');
  const dot = host.indexOf('.');
  const lines = dot < 0 ? ['#cloud-config', `hostname: ${yamlWord(host)}`] : ['#cloud-config', `hostname: ${yamlWord(host.slice(0, dot))}`, `fqdn: ${yamlWord(host)}`];
  const defaultKeys = spec.sshAuthorizedKeys ?? [];
  if (defaultKeys.length > 0) lines.push('ssh_authorized_keys:', ...defaultKeys.map((k) => `  - "${k}"`));
  if (spec.users !== undefined && spec.users.length > 0) {
    lines.push('users:');
    for (const user of spec.users) {
      lines.push(`  - name: ${user.name}`);
      const keys = user.sshAuthorizedKeys ?? [];
      if (keys.length > 0) lines.push('    ssh_authorized_keys:', ...keys.map((k) => `      - "${k}"`));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Validates a whole spec. @throws InputError naming the first invalid value. */
export function validateSpec(spec: CloudInitSpec): void {
  if (spec === null || typeof spec !== 'object') throw new InputError('invalid cloud-init spec');
  assertPattern(spec.instanceId, UUID_PATTERN, 'instance ID');
  assertPattern(spec.hostname, HOSTNAME_PATTERN, 'host name');
  validateNics(spec.nics);
  validateUsers(spec.users);
  validateKeys(spec.sshAuthorizedKeys, 'the default user');
}

/** Words YAML 1.1 (PyYAML, cloud-init) would read as a boolean or null when unquoted. */
const YAML_SPECIAL_WORDS = /^(y|n|yes|no|true|false|on|off|null)$/i;

/**
 * Writes a `[0-9A-Za-z-]` word as a plain YAML scalar when YAML reads it back as the same string, else
 * double-quoted: words starting with a digit or `-` (numbers such as `123`, `0x1f`, `1e5`) and YAML 1.1
 * booleans/null (`yes`, `off`, `null`…).
 */
function yamlWord(word: string): string {
  return /^[0-9-]/.test(word) || YAML_SPECIAL_WORDS.test(word) ? `"${word}"` : word;
}

function validateNics(nics: SeedNic[]): void {
  if (!Array.isArray(nics)) throw new InputError('invalid nics: need a list');
  if (nics.length > MAX_NICS) throw new InputError(`too many nics: ${nics.length} (at most ${MAX_NICS})`);
  const names = new Set<string>();
  const macs = new Set<string>();
  let gateways = 0;
  for (const nic of nics) {
    if (nic === null || typeof nic !== 'object') throw new InputError('invalid nic');
    assertPattern(nic.name, GUEST_IFNAME_PATTERN, 'interface name');
    if (YAML_SPECIAL_WORDS.test(nic.name)) throw new InputError(`invalid interface name: ${JSON.stringify(nic.name)}`);
    assertPattern(nic.mac, MAC_PATTERN, `MAC address of ${nic.name}`);
    if (names.has(nic.name)) throw new InputError(`duplicate interface name: ${nic.name}`);
    const mac = nic.mac.toLowerCase();
    if (macs.has(mac)) throw new InputError(`duplicate MAC address: ${mac}`);
    names.add(nic.name);
    macs.add(mac);

    const addresses = nic.addresses ?? [];
    if (!Array.isArray(addresses) || addresses.length > MAX_ADDRESSES) {
      throw new InputError(`invalid addresses of ${nic.name}: need a list of at most ${MAX_ADDRESSES}`);
    }
    for (const a of addresses) assertCidr(a, `address of ${nic.name}`);
    if (nic.gateway !== undefined) {
      assertIpv4(nic.gateway, `gateway of ${nic.name}`);
      if (addresses.length === 0) throw new InputError(`gateway of ${nic.name} given without an address`);
      gateways += 1;
    }
    if (nic.dns !== undefined) {
      if (!Array.isArray(nic.dns) || nic.dns.length > MAX_DNS) {
        throw new InputError(`invalid DNS servers of ${nic.name}: need a list of at most ${MAX_DNS}`);
      }
      for (const d of nic.dns) assertIpv4(d, `DNS server of ${nic.name}`);
      if (nic.dns.length > 0 && addresses.length === 0) throw new InputError(`DNS servers of ${nic.name} given without an address`);
    }
  }
  if (gateways > 1) throw new InputError('at most one interface may have a default gateway');
}

function validateUsers(users: SeedUser[] | undefined): void {
  if (users === undefined) return;
  if (!Array.isArray(users) || users.length > MAX_USERS) throw new InputError(`invalid users: need a list of at most ${MAX_USERS}`);
  const seen = new Set<string>();
  for (const user of users) {
    if (user === null || typeof user !== 'object') throw new InputError('invalid user');
    assertPattern(user.name, GUEST_USER_PATTERN, 'user name');
    if (YAML_SPECIAL_WORDS.test(user.name)) throw new InputError(`invalid user name: ${JSON.stringify(user.name)}`);
    if (seen.has(user.name)) throw new InputError(`duplicate user: ${user.name}`);
    seen.add(user.name);
    validateKeys(user.sshAuthorizedKeys, user.name);
  }
}

function validateKeys(keys: string[] | undefined, owner: string): void {
  if (keys === undefined) return;
  if (!Array.isArray(keys) || keys.length > MAX_KEYS) throw new InputError(`invalid SSH keys of ${owner}: need a list of at most ${MAX_KEYS}`);
  for (const key of keys) assertSshPublicKey(key, `SSH public key of ${owner}`);
}

/**
 * Returns `key` when it is one OpenSSH public key line ({@link SSH_PUBLIC_KEY_PATTERN}: type, base64 blob,
 * optional comment of printable ASCII without `"` and `\`; no newline or other control character anywhere) whose
 * blob is canonical base64 and starts with the same key type (the SSH wire string `uint32 length, type`).
 * @throws InputError naming `what` and the problem, never echoing more than the key's first 40 characters.
 */
export function assertSshPublicKey(key: string, what = 'SSH public key'): string {
  if (typeof key !== 'string' || key.length > 16384) throw new InputError(`invalid ${what}: need a string of at most 16384 characters`);
  const shown = JSON.stringify(key.slice(0, 40));
  if (!SSH_PUBLIC_KEY_PATTERN.test(key)) throw new InputError(`invalid ${what}: ${shown}… is not "<type> <base64> [comment]" on one line of printable ASCII`);
  const [type, b64] = key.split(' ') as [string, string];
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64') !== b64) throw new InputError(`invalid ${what}: the key data of ${shown}… is not canonical base64`);
  if (!isSshKeyBlob(blob, type)) throw new InputError(`invalid ${what}: the key data of ${shown}… is not a ${type} key`);
  return key;
}

/**
 * True when `blob` is a sequence of SSH wire strings (`uint32 length`, bytes) that ends exactly at its end, at
 * least two of them, the first being `type` (every OpenSSH public key blob has this shape: RSA, ECDSA, Ed25519 and
 * the sk- variants). Catches truncated or padded key data.
 */
function isSshKeyBlob(blob: Buffer, type: string): boolean {
  let at = 0;
  let strings = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return false;
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) return false;
    if (strings === 0 && blob.subarray(at + 4, at + 4 + len).toString('latin1') !== type) return false;
    at += 4 + len;
    strings++;
  }
  return strings >= 2;
}

/**
 * The OpenSSH fingerprint of a public key line, as `ssh-keygen -lf` prints it: `SHA256:` + base64 (no padding) of
 * the SHA-256 of the decoded key blob. @throws InputError for a key {@link assertSshPublicKey} refuses.
 */
export function sshKeyFingerprint(key: string): string {
  const b64 = assertSshPublicKey(key).split(' ')[1]!;
  return `SHA256:${createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** Throws InputError unless `s` is a dotted-quad IPv4 address. */
function assertIpv4(s: string, what: string): void {
  if (typeof s !== 'string' || !isIpv4(s)) throw new InputError(`invalid ${what}: ${JSON.stringify(String(s).slice(0, 40))}`);
}

/** Throws InputError unless `s` is `<IPv4>/<prefix>` with a prefix length of 1–32. */
function assertCidr(s: string, what: string): void {
  const m = typeof s === 'string' ? /^([0-9.]{7,15})\/(3[0-2]|[12][0-9]|[1-9])$/.exec(s) : null;
  if (!m || !isIpv4(m[1]!)) throw new InputError(`invalid ${what}: ${JSON.stringify(String(s).slice(0, 40))} (need a.b.c.d/len)`);
}
