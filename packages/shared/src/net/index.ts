/** The public face of `net/` (`@kvm-crm/shared/net`): IP address checks and callback targets. */
export * from './ip-address.js';
export * from './callback-target.js';
