/**
 * vtctl commands about clearinghouse callbacks (decision 014): `user set-callback-policy` and `callback list|drop`,
 * through the admin RPC. Tables are printed with aligned columns; `--json` prints what the manager answered.
 */
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';

const collect = (v: string, acc: string[]) => [...acc, v];

/** `rows` as a table with aligned columns (`(none)` when empty). */
export function alignedTable(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cells = [columns.map((c) => c.toUpperCase()), ...rows.map((r) => columns.map((c) => String(r[c] ?? '').replace(/\s+/g, ' ')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/**
 * Adds `set-callback-policy` to the `user` command and a `callback` command to `program`. `client(cmd)` makes the
 * admin client; `json()` tells whether `--json` was given.
 */
export function addCallbackCommands(program: Command, user: Command, client: (cmd: Command) => XmlRpcClient, json: () => boolean): void {
  const out = (value: unknown, table: () => string) => process.stdout.write(json() ? JSON.stringify(value, null, 2) + '\n' : table());

  user
    .command('set-callback-policy <name>')
    .description('what the callback URLs of a clearinghouse may target beyond https to public addresses')
    .option('--allow-http', 'allow plain http callbacks (a legacy clearinghouse)')
    .option('--no-allow-http', 'https callbacks only (the default)')
    .option('--allow <cidr|origin>', 'allow a CIDR (10.0.0.0/8, 127.0.0.1/32, fd00::/8) or an origin (https://ch.example:8443); repeatable', collect, [])
    .option('--clear', 'start from the default policy (no http, nothing allowed) before applying the other options')
    .action(async function (this: Command, name: string, o: { allowHttp?: boolean; allow: string[]; clear?: boolean }) {
      // commander sets allowHttp true by default when --no-allow-http is declared: send it only when given.
      const given = this.getOptionValueSource('allowHttp') === 'cli';
      const r = await client(this).call<{ name: string; allowHttp: boolean; allow: string[] }>('user.setCallbackPolicy', [
        { name, allow: o.allow, ...(given ? { allowHttp: o.allowHttp === true } : {}), ...(o.clear ? { clear: true } : {}) },
      ]);
      out(r, () => alignedTable([{ name: r.name, allowHttp: r.allowHttp, allow: r.allow.join(' ') || '(https to public addresses only)' }], ['name', 'allowHttp', 'allow']));
    });

  const callback = program.command('callback').description('pending and failed status deliveries to clearinghouse callbacks');
  callback
    .command('list')
    .description('deliveries waiting in the outbox: URL (credentials hidden), attempts, next try, last error')
    .option('--limit <n>', 'at most this many, oldest first', '200')
    .action(async function (this: Command, o: { limit: string }) {
      const rows = await client(this).call<Array<Record<string, unknown>>>('callback.list', [{ limit: Number(o.limit) }]);
      out(rows, () => alignedTable(rows, ['id', 'url', 'attempts', 'nextAttemptAt', 'lastError']));
    });
  callback
    .command('drop [ids...]')
    .description('drop deliveries by id, or every delivery to --callback-url (audit-logged)')
    // Not `--url`: that is vtctl's own option (the admin RPC URL), and commander gives it to the program.
    .option('--callback-url <url>', 'the callback URL (credentials are ignored when comparing)')
    .action(async function (this: Command, ids: string[], o: { callbackUrl?: string }) {
      const numbers = ids.map((id) => {
        if (!/^[0-9]+$/.test(id)) throw new Error(`not a delivery id: ${JSON.stringify(id)}`);
        return Number(id);
      });
      const r = await client(this).call<{ dropped: number[] }>('callback.drop', [{ ...(numbers.length ? { ids: numbers } : {}), ...(o.callbackUrl ? { url: o.callbackUrl } : {}) }]);
      out(r, () => `dropped ${r.dropped.length}${r.dropped.length ? `: ${r.dropped.join(' ')}` : ''}\n`);
    });
}
