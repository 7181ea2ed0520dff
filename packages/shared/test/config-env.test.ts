/**
 * Options from KVMCRM_ environment variables (config-env.ts), the schema walk (config-fields.ts) and the
 * generated reference's introduction (config-reference.ts, docs/configuration.md). Decision record 030.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, z } from '../dist/config.js';
import { applyEnvironment, isReservedEnvName } from '../dist/config-env.js';
import { envNameOf, listConfigFields } from '../dist/config-fields.js';
import { extractConfigSection, renderConfigIntro, renderConfigSection } from '../dist/config-reference.js';
import { InputError } from '../dist/errors.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const schema = z.object({
  port: z.number().int().min(1).max(65535).default(80).describe('Port.'),
  name: z.string().describe('Name.'),
  debug: z.boolean().default(false),
  roots: z.array(z.string()).default([]),
  tls: z.object({ caFile: z.string(), reloadIntervalSeconds: z.number().positive().default(5) }).describe('TLS files.'),
  db: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('sqlite'), path: z.string() }),
      z.object({ type: z.literal('mysql'), host: z.string(), password: z.string() }),
    ])
    .default({ type: 'sqlite', path: 'x.sqlite' }),
  vm: z.object({ diskGiB: z.number().int().nullable().default(null), mode: z.enum(['a', 'b']).default('a') }).prefault({}),
});

test('envNameOf: upper case, _ before each capital, __ between keys; refuses keys that are not camelCase', () => {
  assert.equal(envNameOf(['database', 'password']), 'KVMCRM_DATABASE__PASSWORD');
  assert.equal(envNameOf(['tls', 'caFile']), 'KVMCRM_TLS__CA_FILE');
  assert.equal(envNameOf(['geni', 'vm', 'maxMemoryMiB']), 'KVMCRM_GENI__VM__MAX_MEMORY_MI_B');
  assert.equal(envNameOf(['actionTimeoutSeconds']), 'KVMCRM_ACTION_TIMEOUT_SECONDS');
  assert.throws(() => envNameOf(['snake_case']), /not camelCase/);
  assert.throws(() => envNameOf(['Upper']), /not camelCase/);
});

test('listConfigFields lists groups, leaves, union variants once, with types, defaults and descriptions', () => {
  const fields = new Map(listConfigFields(schema).map((f) => [f.key, f]));
  assert.deepEqual([...fields.keys()], [
    'port', 'name', 'debug', 'roots', 'tls', 'tls.caFile', 'tls.reloadIntervalSeconds',
    'db', 'db.type', 'db.path', 'db.host', 'db.password', 'vm', 'vm.diskGiB', 'vm.mode',
  ]);
  const port = fields.get('port')!;
  assert.equal(port.type, 'integer 1–65535');
  assert.equal(port.defaultValue, 80);
  assert.equal(port.description, 'Port.');
  assert.equal(fields.get('name')!.required, true);
  assert.equal(fields.get('tls')!.kind, 'group');
  assert.equal(fields.get('tls')!.description, 'TLS files.');
  assert.equal(fields.get('tls.reloadIntervalSeconds')!.type, 'number > 0');
  assert.equal(fields.get('db.type')!.type, '"sqlite" | "mysql"');
  assert.equal(fields.get('db.type')!.condition, undefined);
  assert.equal(fields.get('db.host')!.condition, 'db.type = "mysql"');
  assert.equal(fields.get('vm')!.hasDefault, true);
  assert.deepEqual(fields.get('vm')!.defaultValue, { diskGiB: null, mode: 'a' });
  assert.equal(fields.get('vm.diskGiB')!.nullable, true);
  assert.equal(fields.get('roots')!.kind, 'json');
});

test('applyEnvironment sets each KVMCRM_ option at its path, parsed by its type, over the file values', () => {
  const env = {
    KVMCRM_PORT: '8443', KVMCRM_DEBUG: 'true', KVMCRM_ROOTS: '["/a","/b"]', KVMCRM_TLS__CA_FILE: 'env-ca.pem',
    KVMCRM_DB__TYPE: 'mysql', KVMCRM_DB__HOST: 'db.lan', KVMCRM_DB__PASSWORD: 's3cret', KVMCRM_VM__DISK_GI_B: 'null',
    KVMCRM_ADMIN_URL: 'https://vtctl.example/', KVMCRM_TEST_MYSQL_URL: 'mysql://x', PATH: '/usr/bin',
  };
  const raw = { name: 'file', tls: { caFile: 'file-ca.pem' }, vm: { diskGiB: 3 } };
  const merged = applyEnvironment(raw, schema, env, 'test');
  assert.deepEqual(merged, {
    name: 'file', port: 8443, debug: true, roots: ['/a', '/b'], tls: { caFile: 'env-ca.pem' },
    db: { type: 'mysql', host: 'db.lan', password: 's3cret' }, vm: { diskGiB: null },
  });
  assert.deepEqual(raw.tls, { caFile: 'file-ca.pem' }, 'the file object is not changed');
  assert.deepEqual(schema.parse(merged).db, { type: 'mysql', host: 'db.lan', password: 's3cret' });
});

test('applyEnvironment refuses unknown KVMCRM_ names (all listed), bad numbers, booleans, JSON and groups', () => {
  const raw = { name: 'n', tls: { caFile: 'c' } };
  assert.throws(() => applyEnvironment(raw, schema, { KVMCRM_PROT: '1', KVMCRM_TLS_CA_FILE: 'x', KVMCRM_NAME: 'ok' }, 'the-daemon'),
    (e: unknown) => e instanceof InputError && /KVMCRM_PROT, KVMCRM_TLS_CA_FILE are not options of the-daemon/.test(e.message));
  assert.throws(() => applyEnvironment(raw, schema, { KVMCRM_PORT: '80x' }, 't'), /KVMCRM_PORT: "80x" is not a number \(option port: integer 1–65535\)/);
  assert.throws(() => applyEnvironment(raw, schema, { KVMCRM_PORT: '' }, 't'), /is not a number/);
  assert.throws(() => applyEnvironment(raw, schema, { KVMCRM_DEBUG: 'yes' }, 't'), /KVMCRM_DEBUG: "yes" must be true or false/);
  assert.throws(() => applyEnvironment(raw, schema, { KVMCRM_ROOTS: '[/a]' }, 't'), /KVMCRM_ROOTS: not valid JSON/);
  assert.throws(() => applyEnvironment(raw, schema, { KVMCRM_TLS: '{}' }, 't'), /group of options; set its fields/);
  assert.throws(() => applyEnvironment({ name: 'n', tls: 'oops' }, schema, { KVMCRM_TLS__CA_FILE: 'x' }, 't'), /tls in the file is not an object/);
  // a value of the wrong type for the schema is refused by the schema after the overlay
  assert.equal(schema.safeParse(applyEnvironment(raw, schema, { KVMCRM_PORT: '70000' }, 't')).success, false);
  // without KVMCRM_ options the file is returned as it is
  assert.equal(applyEnvironment(raw, schema, { KVMCRM_LOG_LEVEL: 'debug', HOME: '/root' }, 't'), raw);
});

test('reserved names: exact names and prefixes', () => {
  for (const n of ['KVMCRM_MANAGER_CONFIG', 'KVMCRM_ADMIN_PASSWORD', 'KVMCRM_TEST_ANYTHING', 'KVMCRM_DEMO_AGENT_PORT', 'KVMCRM_PYTHON2']) assert.ok(isReservedEnvName(n), n);
  for (const n of ['KVMCRM_ADMIN', 'KVMCRM_PASSWORD', 'KVMCRM_TESTX', 'KVMCRM_PYTHON3']) assert.ok(!isReservedEnvName(n), n);
});

test('loadConfigFile lays env over the file and names the file in validation errors', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-config-env-'));
  try {
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ name: 'from-file', tls: { caFile: 'ca.pem' } }));
    const o = loadConfigFile(file, schema, { env: { KVMCRM_NAME: 'from-env', KVMCRM_PORT: '9' }, program: 'p' });
    assert.equal(o.name, 'from-env');
    assert.equal(o.port, 9);
    assert.equal(loadConfigFile(file, schema).name, 'from-file', 'no env given: the file only');
    assert.throws(() => loadConfigFile(file, schema, { env: { KVMCRM_PORT: '0' } }), (e: unknown) => e instanceof InputError && e.message.startsWith(`config ${file}: port:`));
    assert.throws(() => loadConfigFile(file, schema, { env: { KVMCRM_NOPE: '1' }, program: 'p' }), /KVMCRM_NOPE is not an option of p/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the reference renders one row per field with its env name; docs/configuration.md has the current introduction', () => {
  const section = renderConfigSection({ id: 'x', title: 'x', configFile: '/etc/x.json', schema });
  assert.match(section, /^<!-- BEGIN x -->/);
  assert.match(section, /\| &nbsp;&nbsp;`db.host` \| string \| \*\*required\*\* \| `KVMCRM_DB__HOST` \| \(when `db.type = "mysql"`\) \|/);
  assert.match(section, /\| `port` \| integer 1–65535 \| `80` \| `KVMCRM_PORT` \| Port. \|/);
  const doc = readFileSync(path.join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
  assert.equal(extractConfigSection(doc, 'intro'), renderConfigIntro(), 'docs/configuration.md is stale: run npm run docs:config');
});
