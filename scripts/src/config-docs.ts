#!/usr/bin/env node
/**
 * Writes docs/configuration.md, the configuration reference GENERATED from the daemons' zod option schemas
 * (`npm run docs:config`; decision record 030). `--check` writes nothing and exits 1 when the file is stale (the
 * unit tests of shared, vt-manager and oxad-agent check their sections the same way).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from '@kvm-crm/shared';
import { managerConfigReference } from '@kvm-crm/vt-manager';
import { agentConfigReference } from '@kvm-crm/oxad-agent';

const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/configuration.md');
const text = renderConfigReference([managerConfigReference, agentConfigReference]);
let current = '';
try {
  current = readFileSync(target, 'utf8');
} catch {
  current = ''; // not written yet: stale
}
if (process.argv.includes('--check')) {
  if (current !== text) {
    process.stderr.write(`${target} is stale: run npm run docs:config\n`);
    process.exit(1);
  }
  process.stdout.write(`${target} is up to date\n`);
} else if (current === text) {
  process.stdout.write(`${target} unchanged\n`);
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
