/**
 * The callback URL policy (docs/security.md "Controls", decision 014): where the manager may POST a client's
 * statuses (`sendAsync`, docs/ocf-protocol.md §3.3). Checked when `send`/`send_sync` take a callback URL and again
 * for every delivery, where the resolved address is pinned: the name is resolved once, every address it resolves
 * to is checked, and the connection goes to exactly the checked address (a `lookup` that answers it), so a DNS
 * answer that changes between check and connect (rebinding) cannot redirect the delivery.
 *
 * Default: https only; the target must be a public unicast address. Per principal an admin may allow plain http
 * (`allowHttp`, legacy clearinghouses) and targets by CIDR (`10.0.0.0/8`, `127.0.0.1/32`, `fd00::/8`) or by origin
 * (`https://ch.example:8443`: that scheme, host and port, whatever it resolves to; an `http://` origin also allows
 * plain http for that origin).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { promisify } from 'node:util';
import { InputError, NotAllowedError } from '../errors.js';
import { redactCredentials } from '../redact.js';
import { parsePeerUrl, type PeerUrl } from '../xmlrpc/callback-url.js';
import { addressInCidrs, classifyAddress, isCidr, normaliseAddress } from './ip-address.js';

/** Longest callback URL accepted, in characters. */
export const MAX_CALLBACK_URL_LENGTH = 1024;

/** What one principal's callbacks may target beyond the default (https, public addresses). */
export interface CallbackPolicy {
  /** Plain http allowed (a legacy clearinghouse). */
  allowHttp: boolean;
  /** Allowed targets: CIDRs and origins (see the top of this file). */
  allow: string[];
}

/** The default policy: https to public addresses only. */
export const DEFAULT_CALLBACK_POLICY: Readonly<CallbackPolicy> = Object.freeze({ allowHttp: false, allow: [] });

/** Resolves a host name to all its addresses (`dns.lookup` with `all: true` in production). */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

const lookupAll = promisify(dnsLookup);
/** `dns.lookup(hostname, { all: true })`: what the operating system would connect to. */
export const resolveWithSystem: ResolveAll = (hostname) => lookupAll(hostname, { all: true, verbatim: true });

/** A checked callback target: where to connect, pinned. */
export interface PinnedTarget extends PeerUrl {
  /** `scheme://host:port` without credentials. */
  origin: string;
  /** The checked address the connection must go to. */
  address: string;
  family: 4 | 6;
}

/**
 * Checks an allow entry: a CIDR or an origin (`https://host[:port]`, nothing else).
 * @throws InputError naming the entry when it is neither.
 */
export function assertAllowEntry(entry: string): void {
  if (isCidr(entry)) return;
  let u: URL | undefined;
  try {
    u = new URL(entry);
  } catch {
    u = undefined;
  }
  const bare = u && (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash;
  if (!bare || entry.replace(/\/$/, '') !== u!.origin) {
    throw new InputError(`allow entry ${JSON.stringify(entry.slice(0, 100))} is neither a CIDR (10.0.0.0/8, 127.0.0.1/32, fd00::/8) nor an origin (https://host:port)`);
  }
}

/** `url`'s origin as policies spell it (`new URL(...).origin`: lower-case host, default port dropped). */
function originOf(url: URL): string {
  return url.origin;
}

/**
 * The checks that need no name resolution: length, scheme, credentials syntax, http only when allowed.
 * @throws InputError for a malformed, too long or non-http(s) URL; NotAllowedError for plain http without
 *   `allowHttp` (or an http origin allowance). Messages show the URL without credentials.
 */
export function checkCallbackUrl(raw: string, policy: CallbackPolicy, principal = 'NAME'): PeerUrl & { origin: string } {
  if (raw.length > MAX_CALLBACK_URL_LENGTH) throw new InputError(`callback URL of ${raw.length} characters: at most ${MAX_CALLBACK_URL_LENGTH}`);
  const peer = parsePeerUrl(raw);
  const origin = originOf(peer.url);
  if (peer.url.protocol === 'http:' && !policy.allowHttp && !policy.allow.includes(origin)) {
    throw new NotAllowedError(`callback URL ${redactCredentials(origin)}/ uses plain http: only https is allowed for this clearinghouse (an admin can allow it: vtctl user set-callback-policy ${principal} --allow-http)`);
  }
  return { ...peer, origin };
}

/**
 * Whether `address` may be a callback target under `policy` for a URL of `origin`: a public unicast address, an
 * address inside an allowed CIDR, or any address of an allowed origin.
 * @returns undefined when allowed, else the reason (`"127.0.0.1, a loopback address"`).
 */
export function refusedAddress(address: string, origin: string, policy: CallbackPolicy): string | undefined {
  if (policy.allow.includes(origin)) return undefined;
  const cls = classifyAddress(address);
  if (cls === 'public') return undefined;
  if (addressInCidrs(address, policy.allow.filter(isCidr))) return undefined;
  return `${normaliseAddress(address).address}, a${cls === 'unspecified' ? 'n' : ''} ${cls} address`;
}

/** Options of {@link pinCallbackTarget}. */
export interface PinOptions {
  /** Name resolution. Default {@link resolveWithSystem}. */
  resolve?: ResolveAll;
  /** The principal, named in refusals (what an admin should configure). Default `NAME`. */
  principal?: string;
}

/**
 * Checks `raw` against `policy`, resolves its host once and checks every address it resolves to, and returns the
 * target pinned to the first one.
 * @throws InputError / NotAllowedError as {@link checkCallbackUrl}; NotAllowedError when an address is not allowed
 *   (the message says which, of what class, and what an admin can allow); InputError when the name does not resolve.
 */
export async function pinCallbackTarget(raw: string, policy: CallbackPolicy, options: PinOptions = {}): Promise<PinnedTarget> {
  const principal = options.principal ?? 'NAME';
  const resolve = options.resolve ?? resolveWithSystem;
  const checked = checkCallbackUrl(raw, policy, principal);
  const host = checked.url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  try {
    addresses = isLiteral(host) ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await resolve(host);
  } catch (err) {
    throw new InputError(`callback host ${JSON.stringify(host.slice(0, 100))} does not resolve (${(err as { code?: string }).code ?? 'lookup failed'})`);
  }
  if (addresses.length === 0) throw new InputError(`callback host ${JSON.stringify(host.slice(0, 100))} does not resolve`);
  for (const a of addresses) {
    const why = refusedAddress(a.address, checked.origin, policy);
    if (why) {
      const via = isLiteral(host) ? '' : ` (${host} resolves to it)`;
      throw new NotAllowedError(
        `callback URL ${checked.origin}/ targets ${why}${via}: not allowed for this clearinghouse (an admin can allow it: vtctl user set-callback-policy ${principal} --allow CIDR|ORIGIN)`,
      );
    }
  }
  const first = addresses[0]!;
  return { ...checked, address: first.address, family: first.family === 6 ? 6 : 4 };
}

function isLiteral(host: string): boolean {
  try {
    normaliseAddress(host);
    return true;
  } catch {
    return false;
  }
}

/**
 * A `lookup` for http(s).request options that answers `target`'s pinned address whatever the name, so the
 * connection goes where the policy was checked (TLS still verifies the certificate against the URL's host name).
 */
export function pinnedLookup(target: { address: string; family: 4 | 6 }): LookupFunction {
  return (_hostname, options, callback) => {
    if (options?.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}
