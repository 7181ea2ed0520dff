/**
 * The manager's options from its file plus KVMCRM_ environment variables (decision record 030), and the freshness
 * of its section of the generated docs/configuration.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractConfigSection, InputError, isReservedEnvName, listConfigFields, renderConfigSection } from '@kvm-crm/shared';
import { loadManagerOptions, managerConfigReference, managerOptionsSchema } from '../dist/manager-options.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BASE = {
  publicUrl: 'https://vtam.example:8445',
  tls: { caFile: 'ca.crt', certFile: 'manager.crt', keyFile: 'manager.key' },
  agentCallback: { user: 'agents', password: 'a-long-callback-pw' },
};

function withConfig(body: (file: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-manager-env-'));
  try {
    const file = path.join(dir, 'manager.json');
    writeFileSync(file, JSON.stringify(BASE));
    body(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('KVMCRM_ variables set the MySQL database, nested options and paths (relative to the config folder)', () => {
  withConfig((file) => {
    const o = loadManagerOptions(file, {
      KVMCRM_DATABASE__TYPE: 'mysql', KVMCRM_DATABASE__HOST: 'db.lan', KVMCRM_DATABASE__PORT: '3307',
      KVMCRM_DATABASE__USERNAME: 'vt', KVMCRM_DATABASE__PASSWORD: 'pw from env', KVMCRM_DATABASE__DATABASE: 'vtam',
      KVMCRM_LISTEN__PORT: '9445', KVMCRM_PLACEMENT__POLICY: 'pack', KVMCRM_GENI__VM__MAX_MEMORY_MI_B: '8192',
      KVMCRM_TLS__CRL_FILE: 'crl.pem', KVMCRM_ADMIN_URL: 'https://ignored/', KVMCRM_MANAGER_CONFIG: file,
    });
    assert.deepEqual(o.database, { type: 'mysql', host: 'db.lan', port: 3307, username: 'vt', password: 'pw from env', database: 'vtam' });
    assert.deepEqual(o.listen, { host: '0.0.0.0', port: 9445 });
    assert.equal(o.placement.policy, 'pack');
    assert.equal(o.geni.vm.maxMemoryMiB, 8192);
    assert.equal(o.tls.crlFile, path.join(path.dirname(file), 'crl.pem'));
    assert.equal(o.database.type === 'mysql' && o.database.password, 'pw from env');
    // without the variables: the file's values and the defaults
    const plain = loadManagerOptions(file, {});
    assert.deepEqual(plain.database, { type: 'sqlite', path: path.join(path.dirname(file), 'manager.sqlite') });
  });
});

test('an unknown KVMCRM_ variable, an agent option or a bad value stops the manager with a clear error', () => {
  withConfig((file) => {
    assert.throws(() => loadManagerOptions(file, { KVMCRM_DATABASE_PASSWORD: 'x' }), (e: unknown) => e instanceof InputError && /KVMCRM_DATABASE_PASSWORD is not an option of vt-manager/.test(e.message));
    assert.throws(() => loadManagerOptions(file, { KVMCRM_STORAGE_ROOT: '/srv' }), /KVMCRM_STORAGE_ROOT is not an option of vt-manager/);
    assert.throws(() => loadManagerOptions(file, { KVMCRM_LISTEN__PORT: 'http' }), /KVMCRM_LISTEN__PORT: "http" is not a number/);
    assert.throws(() => loadManagerOptions(file, { KVMCRM_PLACEMENT__POLICY: 'random' }), (e: unknown) => e instanceof InputError && /placement\.policy/.test(e.message));
  });
});

test('every option has an env name that is unique and not reserved; every top-level option is described', () => {
  const fields = listConfigFields(managerOptionsSchema);
  const names = fields.filter((f) => f.kind !== 'group').map((f) => f.envName);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.ok(!isReservedEnvName(n), `${n} collides with a reserved name`);
  for (const f of fields.filter((x) => x.path.length === 1)) assert.ok(f.description, `${f.key} has no .describe() text`);
});

test('docs/configuration.md has the current vt-manager section (else: npm run docs:config)', () => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
  assert.equal(extractConfigSection(doc, 'vt-manager'), renderConfigSection(managerConfigReference), 'docs/configuration.md is stale: run npm run docs:config');
});
