/** Metrics and health shared by both daemons (decision record 028). */
export * from './metrics-registry.js';
export * from './readiness.js';
export * from './observability-endpoints.js';
export * from './metrics-options.js';
