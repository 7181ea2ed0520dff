/**
 * The public face of `xmlrpc/` (`@kvm-crm/shared/xmlrpc`): the XML-RPC server handler and client, parameter
 * helpers, callback URLs and the HTTPS listener both daemons serve it on.
 */
export * from './server.js';
export * from './pre-serialised.js';
export * from './client.js';
export * from './params.js';
export * from './clip.js';
export * from './callback-url.js';
export * from './https-server.js';
