/**
 * `@kvm-crm/vt-manager/testing`: test support for the manager, kept out of the production code (nothing outside
 * `src/testing/` imports it). Test databases on SQLite and MySQL/MariaDB ({@link forEachEngine}), and in-memory
 * fakes of the ports with rspec builders and a wired {@link openWorld}.
 */
export * from './test-databases.js';
export * from './fakes.js';
export * from './capacity-fakes.js';
export * from './geni-fakes.js';
export * from './geni-credentials.js';
export * from './migration-fakes.js';
export * from './inventory-seed.js';
