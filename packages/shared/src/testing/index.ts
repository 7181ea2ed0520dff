/**
 * `@kvm-crm/shared/testing`: helpers for the tests of every package (not part of the daemons' code, not exported
 * from the package root). Nothing here imports `node:test` or `node:assert`.
 */
export * from './ocf-fixtures.js';
