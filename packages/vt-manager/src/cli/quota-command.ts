/**
 * `vtctl user set-quota NAME [--vms N] [--vcpus N] [--memory-mib N] [--addresses N] [--none]` and `vtctl user show
 * NAME` (docs/decisions/015-quotas-and-intake-limits.md): per-principal limits through the admin RPC.
 */
import type { Command } from 'commander';
import type { XmlRpcClient } from '@kvm-crm/shared';

/**
 * A whole-number option value.
 * @throws Error naming the option when it is not a whole number from 0.
 */
function wholeNumber(option: string): (v: string) => number {
  return (v) => {
    if (!/^\d{1,10}$/.test(v)) throw new Error(`${option} must be a whole number`);
    return Number(v);
  };
}

/** Adds `set-quota` and `show` to the `user` command; `client` builds the admin RPC client, `print` writes results. */
export function addQuotaCommands(user: Command, client: (cmd: Command) => XmlRpcClient, print: (value: unknown) => void): void {
  user
    .command('set-quota <name>')
    .description("set a principal's limits (the others stay); --none removes its quota (no limit)")
    .option('--vms <n>', 'most VMs', wholeNumber('--vms'))
    .option('--vcpus <n>', 'most vCPUs over its VMs', wholeNumber('--vcpus'))
    .option('--memory-mib <n>', 'most guest memory over its VMs, MiB', wholeNumber('--memory-mib'))
    .option('--addresses <n>', 'most IPv4 addresses', wholeNumber('--addresses'))
    .option('--none', 'no quota: no limit at all')
    .action(async function (this: Command, name: string, o: { vms?: number; vcpus?: number; memoryMib?: number; addresses?: number; none?: boolean }) {
      const limits = Object.fromEntries(Object.entries({ vms: o.vms, vcpus: o.vcpus, memoryMib: o.memoryMib, addresses: o.addresses }).filter(([, v]) => v !== undefined));
      print(await client(this).call('user.setQuota', [{ name, ...limits, ...(o.none ? { none: true } : {}) }]));
    });
  user
    .command('show <name>')
    .description('one principal: roles, login, quota and usage')
    .action(async function (this: Command, name: string) {
      print(await client(this).call('user.show', [{ name }]));
    });
}
