/** GENI AM API v3 wire helpers shared by the manager and tools (docs/geni-v3.md). */
export * from './urn.js';
export * from './geni-time.js';
export * from './identifiers.js';
export * from './rspec/namespaces.js';
export * from './rspec/request.js';
export * from './rspec/advertisement.js';
export * from './rspec/manifest.js';
export * from './compress.js';
