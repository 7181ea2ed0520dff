/** The public face of `rspec/` (`@kvm-crm/shared/rspec`): the OCF rspec model, its parser, serialiser and builders. */
export * from './model.js';
export * from './parse.js';
export * from './serialise.js';
export * from './builders.js';
