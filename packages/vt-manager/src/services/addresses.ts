/**
 * Conversions between textual IPv4/MAC addresses and the integers stored in slot rows.
 */
import { InputError, isIpv4, MAC_PATTERN } from '@kvm-crm/shared';

/** `10.0.0.1` → 167772161. @throws InputError for anything but a dotted-quad address. */
export function ipv4ToInt(s: string): number {
  if (!isIpv4(s)) throw new InputError(`not an IPv4 address: ${JSON.stringify(s)}`);
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

/** 167772161 → `10.0.0.1`. */
export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}


/** `02:00:0A:00:00:10` → integer. @throws InputError for a malformed MAC. */
export function macToInt(s: string): number {
  if (!MAC_PATTERN.test(s)) throw new InputError(`not a MAC address: ${JSON.stringify(s)}`);
  return parseInt(s.replace(/:/g, ''), 16);
}

/** Integer → lower-case colon MAC. */
export function intToMac(n: number): string {
  return (n.toString(16).padStart(12, '0').match(/../g) ?? []).join(':');
}
