/**
 * The agent's options from its file plus KVMCRM_ environment variables (decision record 030), and the freshness of
 * its section of the generated docs/configuration.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractConfigSection, InputError, isReservedEnvName, listConfigFields, renderConfigSection } from '@kvm-crm/shared';
import { agentConfigReference, agentOptionsSchema, loadAgentOptions } from '../dist/agent-options.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BASE = { tls: { caFile: 'ca.crt', certFile: 'agent.crt', keyFile: 'agent.key' }, password: 'file-password' };

function withConfig(body: (file: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-agent-env-'));
  try {
    const file = path.join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify(BASE));
    body(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('KVMCRM_ variables override the password, set booleans, arrays and the storage root', () => {
  withConfig((file) => {
    const o = loadAgentOptions(file, {
      KVMCRM_PASSWORD: 'password-from-env', KVMCRM_REQUIRE_CLIENT_CERTIFICATE: 'false', KVMCRM_STORAGE_ROOT: 'store',
      KVMCRM_BACKUP_ROOTS: '["/srv/backups"]', KVMCRM_CONSOLE__MAX_SESSIONS: '4', KVMCRM_AGENT_CONFIG: file,
    });
    assert.equal(o.password, 'password-from-env');
    assert.equal(o.requireClientCertificate, false);
    assert.equal(o.storageRoot, path.join(path.dirname(file), 'store'));
    assert.deepEqual(o.backupRoots, ['/srv/backups']);
    assert.equal(o.console.maxSessions, 4);
    assert.equal(loadAgentOptions(file, {}).password, 'file-password');
  });
});

test('an unknown KVMCRM_ variable, a manager option or a bad value stops the agent with a clear error', () => {
  withConfig((file) => {
    assert.throws(() => loadAgentOptions(file, { KVMCRM_PASSWROD: 'x' }), (e: unknown) => e instanceof InputError && /KVMCRM_PASSWROD is not an option of oxad-agent/.test(e.message));
    assert.throws(() => loadAgentOptions(file, { KVMCRM_DATABASE__PASSWORD: 'x' }), /KVMCRM_DATABASE__PASSWORD is not an option of oxad-agent/);
    assert.throws(() => loadAgentOptions(file, { KVMCRM_REQUIRE_CLIENT_CERTIFICATE: 'no' }), /must be true or false/);
    assert.throws(() => loadAgentOptions(file, { KVMCRM_BACKUP_ROOTS: '["relative"]' }), (e: unknown) => e instanceof InputError && /backupRoots/.test(e.message));
  });
});

test('commandTimeouts: documented defaults, set from the file or the environment, out-of-range values refused', () => {
  withConfig((file) => {
    assert.deepEqual(loadAgentOptions(file, {}).commandTimeouts, { virshSeconds: 30, virshStartStopSeconds: 300, qemuImgSeconds: 120, qemuImgConvertSeconds: 3600, seedIsoSeconds: 60 });
    writeFileSync(file, JSON.stringify({ ...BASE, commandTimeouts: { virshStartStopSeconds: 900 } }));
    const o = loadAgentOptions(file, { KVMCRM_COMMAND_TIMEOUTS__QEMU_IMG_SECONDS: '30' });
    assert.equal(o.commandTimeouts.virshStartStopSeconds, 900);
    assert.equal(o.commandTimeouts.qemuImgSeconds, 30);
    assert.equal(o.commandTimeouts.virshSeconds, 30, 'the others keep their defaults');
    assert.throws(() => loadAgentOptions(file, { KVMCRM_COMMAND_TIMEOUTS__VIRSH_SECONDS: '1' }), (e: unknown) => e instanceof InputError && /commandTimeouts\.virshSeconds/.test(e.message));
  });
});

test('every option has an env name that is unique and not reserved; every top-level option is described', () => {
  const fields = listConfigFields(agentOptionsSchema);
  const names = fields.filter((f) => f.kind !== 'group').map((f) => f.envName);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.ok(!isReservedEnvName(n), `${n} collides with a reserved name`);
  for (const f of fields.filter((x) => x.path.length === 1)) assert.ok(f.description, `${f.key} has no .describe() text`);
});

test('docs/configuration.md has the current oxad-agent section (else: npm run docs:config)', () => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
  assert.equal(extractConfigSection(doc, 'oxad-agent'), renderConfigSection(agentConfigReference), 'docs/configuration.md is stale: run npm run docs:config');
});
