/**
 * `vtctl geni slivers [--slice URN] [--json]`: the GENI slivers (URN, slice, state, expiry, VM) through the admin
 * RPC (`geni.sliver.list`).
 */
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';
import { formatRecords } from './table.js';

/** Adds `slivers` to the `geni` command group. `json()` tells whether the global `--json` was given. */
export function addGeniSliverCommands(geni: Command, client: (cmd: Command) => XmlRpcClient, json: () => boolean): void {
  geni.command('slivers')
    .description('GENI slivers: URN, slice, allocation and operational state, expiry (UTC), VM')
    .option('--slice <urn>', 'only the slivers of this slice URN')
    .option('--json', 'print JSON')
    .action(async function (this: Command, o: { slice?: string; json?: boolean }) {
      const rows = (await client(this).call('geni.sliver.list', [o.slice ? { slice: o.slice } : {}])) as Record<string, unknown>[];
      process.stdout.write(
        json() || o.json
          ? JSON.stringify(rows) + '\n'
          : formatRecords(rows, ['urn', 'slice', 'allocation', 'operational', 'expires', 'vm', { key: 'vmState', header: 'VM STATE' }, 'failure']),
      );
    });
}
