/** The public face of `console/` (`@kvm-crm/shared/console`): the console relay and its WebSocket plumbing. */
export * from './console-relay.js';
export * from './ws-console-endpoint.js';
