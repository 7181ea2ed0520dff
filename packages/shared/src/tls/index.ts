/**
 * The public face of `tls/`: our certificate authority, certificate descriptions and roles, CRLs, the CA folder of
 * `vtctl certs`, peer checks and reloadable TLS material. Files inside `tls/` import each other directly, never
 * this file.
 */
export * from './certificate-info.js';
export * from './tls-types.js';
export * from './protocol-version.js';
export * from './certificate-authority.js';
export * from './crl.js';
export * from './peer-identity.js';
export * from './reloadable-tls.js';
export * from './certificate-store.js';
