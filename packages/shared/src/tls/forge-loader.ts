/**
 * node-forge, loaded when first needed instead of at import (issue #14 goal 6, decision 036). The whole library
 * (~880 KB of JavaScript: ciphers, TLS, PKCS#12, …) costs a daemon ~3.7 MiB of RSS; a running agent or manager only
 * reads PEM blocks and CRLs (ASN.1), which need four of its modules (~1 MiB less). Certificates are minted with the
 * whole library, by `vtctl certs` and the test harness, never in a daemon's steady state.
 *
 * `require` (not `import()`): loading stays synchronous, so the functions that use forge keep their signatures, and
 * CommonJS loaded by `require` skips the ESM loader's export scan of forge's sources. Both functions return the
 * same forge object (forge's modules add their parts to it).
 */
import { createRequire } from 'node:module';
import type Forge from 'node-forge';

const require = createRequire(import.meta.url);

/** node-forge with its `asn1`, `pem`, `util` and `pki.oids` parts (not `pki` certificates, not `md`). */
export function forgeAsn1(): typeof Forge {
  for (const part of ['asn1', 'pem', 'oids', 'util']) require(`node-forge/lib/${part}.js`);
  return require('node-forge/lib/forge.js') as typeof Forge;
}

/** The whole of node-forge (certificate building and signing). */
export function forgeFull(): typeof Forge {
  return require('node-forge') as typeof Forge;
}
