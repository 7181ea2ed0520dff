/**
 * `vtctl geni trust add FILE | list | remove NAME`: the GENI trusted roots (docs/geni-v3.md §9.4) through the admin
 * RPC (`geni.trust.*`). `add` reads a local PEM/GID file (authority certificate first, CA:TRUE, authority URN) and
 * sends its text; the manager checks it, stores it as `<authority>-<kind>.gid` and uses it at once.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';
import { formatRecords } from './table.js';

/** Largest file `add` reads (a GID with its chain is a few KiB). */
const MAX_FILE_BYTES = 64 * 1024;

/**
 * Adds the `trust` command group to the `geni` command. `client(cmd)` makes the admin client; `json()` tells
 * whether the global `--json` was given (`list --json` works too).
 */
export function addGeniTrustCommands(geni: Command, client: (cmd: Command) => XmlRpcClient, json: () => boolean): void {
  const trust = geni.command('trust').description('trusted roots: the authorities whose credentials are accepted');
  trust.command('add <file>')
    .description('trust an authority certificate (PEM or .gid: the authority first, CA:TRUE, urn:…+authority+… in subjectAltName)')
    .action(async function (this: Command, file: string) {
      const pem = readFileSync(file, 'utf8');
      if (Buffer.byteLength(pem) > MAX_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_FILE_BYTES} bytes`);
      const r = (await client(this).call('geni.trust.add', [{ pem }])) as Record<string, unknown>;
      process.stdout.write(json() ? JSON.stringify(r) + '\n' : `trusted ${String(r.urn)} as ${String(r.file)} (until ${String(r.notAfter)})\n`);
    });
  trust.command('list')
    .description('the trusted roots in force')
    .option('--json', 'print JSON')
    .action(async function (this: Command, o: { json?: boolean }) {
      const rows = (await client(this).call('geni.trust.list', [])) as Record<string, unknown>[];
      process.stdout.write(json() || o.json ? JSON.stringify(rows) + '\n' : formatRecords(rows, ['file', 'urn', 'subject', { key: 'notAfter', header: 'NOT AFTER' }]));
    });
  trust.command('remove <name>')
    .description('stop trusting a root: its file name as `list` shows it')
    .action(async function (this: Command, name: string) {
      const r = await client(this).call('geni.trust.remove', [{ name }]);
      process.stdout.write(json() ? JSON.stringify(r) + '\n' : `removed ${name}\n`);
    });
}
