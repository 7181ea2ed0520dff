/**
 * vtctl inventory changes without SQL (issue 10): `server remove|set|add-bridge|remove-bridge` and `range
 * remove|unsubscribe|exclude|include`, through the admin RPC. Each prints one line saying what changed (`--json`:
 * `true`); a refusal exits 1 with the manager's reason.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';

/** `ipv4` or `mac` from the `--ipv4`/`--mac` flags. @throws Error unless exactly one is given. */
function kindOf(o: { ipv4?: boolean; mac?: boolean }): 'ipv4' | 'mac' {
  if (!o.ipv4 === !o.mac) throw new Error('give exactly one of --ipv4 or --mac');
  return o.ipv4 ? 'ipv4' : 'mac';
}

/**
 * Adds the inventory change commands to the existing `server` and `range` commands. `client(cmd)` makes the admin
 * client; `json()` tells whether `--json` was given.
 */
export function addInventoryCommands(server: Command, range: Command, client: (cmd: Command) => XmlRpcClient, json: () => boolean): void {
  const done = async (cmd: Command, method: string, params: Record<string, unknown>, text: string) => {
    const r = await client(cmd).call(method, [params]);
    process.stdout.write(json() ? JSON.stringify(r) + '\n' : `${text}\n`);
  };

  server.command('remove <name>')
    .description('unregister a server with its bridges and subscriptions (refused while VMs remain on it)')
    .action(async function (this: Command, name: string) {
      await done(this, 'server.remove', { name }, `server ${name} removed`);
    });
  server.command('set <name>')
    .description("change a server's agent URL and/or OCF agent password")
    .option('--agent-url <url>', 'new agent URL, https://host:9229/')
    .option('--agent-password-file <file>', 'file holding the new OCF agent password')
    .action(async function (this: Command, name: string, o: { agentUrl?: string; agentPasswordFile?: string }) {
      if (!o.agentUrl && !o.agentPasswordFile) throw new Error('give --agent-url and/or --agent-password-file');
      const agentPassword = o.agentPasswordFile ? readFileSync(o.agentPasswordFile, 'utf8').trim() : undefined;
      await done(this, 'server.set', { name, ...(o.agentUrl ? { agentUrl: o.agentUrl } : {}), ...(agentPassword !== undefined ? { agentPassword } : {}) }, `server ${name} updated`);
    });
  server.command('add-bridge <name> <bridge>')
    .description('register another host bridge; new VMs get a NIC on it')
    .action(async function (this: Command, name: string, bridge: string) {
      await done(this, 'server.addBridge', { name, bridge }, `bridge ${bridge} added to ${name}`);
    });
  server.command('remove-bridge <name> <bridge>')
    .description('unregister a bridge (refused for the management bridge and while a VM NIC uses it)')
    .action(async function (this: Command, name: string, bridge: string) {
      await done(this, 'server.removeBridge', { name, bridge }, `bridge ${bridge} removed from ${name}`);
    });

  range.command('remove <name>')
    .description('delete a range with its exclusions and subscriptions (refused while addresses of it are allocated)')
    .option('--ipv4', 'an IPv4 range')
    .option('--mac', 'a MAC range')
    .action(async function (this: Command, name: string, o: { ipv4?: boolean; mac?: boolean }) {
      await done(this, 'range.remove', { kind: kindOf(o), name }, `range ${name} removed`);
    });
  range.command('unsubscribe <server>')
    .description('stop a server drawing addresses from a range (refused while its VMs hold addresses of it)')
    .option('--ipv4 <range>')
    .option('--mac <range>')
    .action(async function (this: Command, serverName: string, o: { ipv4?: string; mac?: string }) {
      if (!o.ipv4 === !o.mac) throw new Error('give exactly one of --ipv4 <range> or --mac <range>');
      const [kind, rangeName] = o.ipv4 ? ['ipv4', o.ipv4] : ['mac', o.mac ?? ''];
      await done(this, 'range.unsubscribe', { server: serverName, kind, range: rangeName }, `${serverName} unsubscribed from ${rangeName}`);
    });
  for (const [verb, help] of [
    ['exclude', 'never hand out this address (refused while a VM has it)'],
    ['include', 'hand out an excluded address again'],
  ] as const) {
    range.command(`${verb} <range> <address>`)
      .description(help)
      .option('--ipv4', 'an IPv4 range (the default)')
      .option('--mac', 'a MAC range')
      .action(async function (this: Command, rangeName: string, address: string, o: { ipv4?: boolean; mac?: boolean }) {
        const kind = o.mac ? 'mac' : 'ipv4';
        await done(this, `range.${verb}`, { kind, range: rangeName, address }, `${address} ${verb}d in ${rangeName}`);
      });
  }
}
