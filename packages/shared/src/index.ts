/** @kvm-crm/shared: what vt-manager and oxad-agent share. This package never imports a daemon. */
export * from './errors.js';
export * from './redact.js';
export * from './logger.js';
export * from './config.js';
export * from './validation.js';
export * from './rspec/model.js';
export * from './xmlrpc/server.js';
export * from './xmlrpc/client.js';
export * from './xmlrpc/params.js';
export * from './xmlrpc/callback-url.js';
export * from './xmlrpc/https-server.js';
export * from './tls/certificate-authority.js';
export * from './password-hash.js';
export * from './rspec/parse.js';
export * from './rspec/serialise.js';
export * from './rspec/builders.js';
export * from './daemon-runner.js';
