/**
 * IP address classification and CIDR matching for the callback URL policy (docs/security.md "Controls", decision
 * 014). Addresses are normalised first: an IPv4-mapped (`::ffff:127.0.0.1`, `::ffff:7f00:1`) or IPv4-compatible
 * (`::127.0.0.1`) IPv6 address is classified and matched as the IPv4 address it carries, so no spelling of a
 * loopback or private address slips through as "IPv6".
 */
import { BlockList, isIP } from 'node:net';
import { InputError } from '../errors.js';

/** Why an address is not a public unicast address; `public` when it is one. */
export type AddressClass = 'public' | 'unspecified' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'reserved';

/** A normalised address: IPv4 dotted quad, or IPv6 in Node's canonical form. */
export interface NormalisedAddress {
  address: string;
  family: 'ipv4' | 'ipv6';
}

/** Special-purpose ranges (RFC 6890 and friends), per class; anything IPv6 outside 2000::/3 is `reserved` too. */
const SPECIAL: ReadonlyArray<[Exclude<AddressClass, 'public'>, string[]]> = [
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  [
    'reserved',
    // Benchmarking, documentation, IETF, "this host on this network", 240/4 and broadcast; IPv6 documentation,
    // 6to4 and Teredo (they embed IPv4 addresses we would not see), NAT64.
    ['192.0.0.0/24', '192.0.2.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4', '2001:db8::/32', '2002::/16', '2001::/32', '64:ff9b::/96'],
  ],
];

const specialLists = SPECIAL.map(([cls, cidrs]) => {
  const list = new BlockList();
  for (const c of cidrs) addCidr(list, c);
  return [cls, list] as const;
});
const GLOBAL_UNICAST_V6 = new BlockList();
GLOBAL_UNICAST_V6.addSubnet('2000::', 3, 'ipv6');

/** The 8 16-bit groups of an IPv6 address (validated by `isIP` before). */
function ipv6Groups(address: string): number[] {
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/**
 * `address` (an IP literal, with or without `[]`) normalised: IPv4-mapped and IPv4-compatible IPv6 become IPv4.
 * @throws InputError when it is not an IP address.
 */
export function normaliseAddress(address: string): NormalisedAddress {
  const a = address.replace(/^\[|\]$/g, '');
  const v = isIP(a);
  if (v === 4) return { address: a, family: 'ipv4' };
  if (v !== 6) throw new InputError(`not an IP address: ${JSON.stringify(a.slice(0, 64))}`);
  const g = ipv6Groups(a);
  const high = g.slice(0, 5).every((x) => x === 0);
  const embedsV4 = high && (g[5] === 0xffff || (g[5] === 0 && ((g[6] ?? 0) !== 0 || (g[7] ?? 0) > 1)));
  if (embedsV4) {
    const six = g[6] ?? 0;
    const seven = g[7] ?? 0;
    return { address: [six >> 8, six & 255, seven >> 8, seven & 255].join('.'), family: 'ipv4' };
  }
  // The WHATWG URL parser writes IPv6 in its canonical (RFC 5952) form.
  return { address: new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]/`).hostname.slice(1, -1), family: 'ipv6' };
}

/** The class of `address` (see {@link AddressClass}); IPv4-mapped IPv6 is classified as its IPv4 address. */
export function classifyAddress(address: string): AddressClass {
  const n = normaliseAddress(address);
  for (const [cls, list] of specialLists) if (list.check(n.address, n.family)) return cls;
  if (n.family === 'ipv6' && !GLOBAL_UNICAST_V6.check(n.address, 'ipv6')) return 'reserved';
  return 'public';
}

/**
 * Adds `cidr` (`10.0.0.0/8`, `fd00::/8`, or a bare address meaning /32 or /128) to `list`.
 * @throws InputError when it is not a CIDR or the prefix is out of range.
 */
export function addCidr(list: BlockList, cidr: string): void {
  const [addr = '', prefix, extra] = cidr.split('/');
  if (extra !== undefined || !isIP(addr.replace(/^\[|\]$/g, ''))) throw new InputError(`not a CIDR: ${JSON.stringify(cidr.slice(0, 64))}`);
  const n = normaliseAddress(addr);
  const max = n.family === 'ipv4' ? 32 : 128;
  // A mapped IPv6 CIDR (::ffff:10.0.0.0/104) is the IPv4 one with 96 bits fewer.
  const mappedShift = isIP(addr.replace(/^\[|\]$/g, '')) === 6 && n.family === 'ipv4' ? 96 : 0;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) - mappedShift : NaN;
  if (!(bits >= 0 && bits <= max)) throw new InputError(`not a CIDR: ${JSON.stringify(cidr.slice(0, 64))} (prefix 0-${max})`);
  list.addSubnet(n.address, bits, n.family);
}

/** Whether `cidr` is a CIDR {@link addCidr} accepts. */
export function isCidr(cidr: string): boolean {
  try {
    addCidr(new BlockList(), cidr);
    return true;
  } catch {
    return false;
  }
}

/** Whether `address` lies in one of `cidrs` (both normalised: a mapped IPv6 address matches its IPv4 CIDR). */
export function addressInCidrs(address: string, cidrs: readonly string[]): boolean {
  if (cidrs.length === 0) return false;
  const list = new BlockList();
  for (const c of cidrs) addCidr(list, c);
  const n = normaliseAddress(address);
  return list.check(n.address, n.family);
}
