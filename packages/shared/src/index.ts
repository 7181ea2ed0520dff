/**
 * @kvm-crm/shared: what vt-manager and oxad-agent share. This package never imports a daemon.
 *
 * This index loads every part (GENI, the CA, the console relay, …). A process that needs a few parts imports their
 * subpaths instead (`@kvm-crm/shared/errors`, `/xmlrpc`, `/tls`, …; package.json "exports"), so it does not load
 * the rest: the agent does (decision 036).
 */
export * from './errors.js';
export * from './redact.js';
export * from './logger.js';
export * from './config.js';
export * from './config-fields.js';
export * from './config-env.js';
export * from './config-reference.js';
export * from './validation.js';
export * from './rspec/index.js';
export * from './xmlrpc/index.js';
export * from './net/index.js';
export * from './tls/index.js';
export * from './atomic-file.js';
export * from './password-hash.js';
export * from './daemon-runner.js';
export * from './secret-box.js';
export * from './geni/index.js';
export * from './console/index.js';
export * from './transfer-ticket.js';
export * from './metrics/index.js';
