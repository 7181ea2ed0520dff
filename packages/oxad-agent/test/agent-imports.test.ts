/**
 * What loading the agent loads (issue #14 goal 6, decision 036): a fresh `node` imports the agent's modules
 * (`dist/index.js`, every module of the agent) and reports each file it loaded, ES modules through a loader hook and
 * CommonJS through `require.cache`. The agent imports `@kvm-crm/shared` by subpath, so the shared index, GENI, the
 * certificate store's minting code path in node-forge (`node-forge/lib/index.js`, x509, RSA) and `ws` (loaded by the
 * first console upgrade) must not be among them; the parts the agent does use must be.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const AGENT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Runs in Node's loader thread: appends every file: URL it loads to $LOADED_LOG.
const HOOK = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  const r = await next(url, context);
  if (url.startsWith('file:')) appendFileSync(process.env.LOADED_LOG, url + '\\n');
  return r;
}`;

const CHILD = `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}));
await import(${JSON.stringify(path.join(AGENT_DIR, 'dist/index.js'))});
for (const f of Object.keys(createRequire(import.meta.url).cache)) appendFileSync(process.env.LOADED_LOG, pathToFileURL(f).href + '\\n');`;

/** The files (paths, symlinks as loaded) a fresh node loads when it imports the agent's modules. */
async function loadedByAgent(): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'agent-imports-'));
  try {
    const log = path.join(dir, 'loaded.txt');
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHILD], { cwd: AGENT_DIR, env: { ...process.env, LOADED_LOG: log }, timeout: 60_000 });
    return [...new Set((await readFile(log, 'utf8')).split('\n').filter(Boolean).map((u) => fileURLToPath(u)))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the agent loads the parts of @kvm-crm/shared it uses, not its index, GENI, all of node-forge or ws', async () => {
  const files = await loadedByAgent();
  const has = (re: RegExp) => files.some((f) => re.test(f));
  // What it must load (the test would pass vacuously if the hook saw nothing).
  assert.ok(has(/oxad-agent\/dist\/agent-app\.js$/), 'the agent itself');
  assert.ok(has(/shared\/dist\/xmlrpc\/server\.js$/), 'the XML-RPC server');
  assert.ok(has(/shared\/dist\/tls\/reloadable-tls\.js$/), 'reloadable TLS');
  assert.ok(has(/node_modules\/express\//), 'express');
  // What it must not.
  const unwanted = files.filter((f) =>
    /shared\/dist\/index\.js$/.test(f) ||
    /shared\/dist\/geni\//.test(f) ||
    /shared\/dist\/(secret-box|password-hash)\.js$/.test(f) ||
    /node_modules\/node-forge\/lib\/(index|x509|rsa|pki|tls|pkcs12)\.js$/.test(f) ||
    /node_modules\/ws\//.test(f));
  assert.deepEqual(unwanted, []);
});
