/**
 * Placement on three real hosts (issue 10 "Placement", "Host inventory and capacity";
 * docs/decisions/019-capacity-accounting-and-placement.md): three agents in network namespaces against one manager
 * (policy `spread`, the default). The agents report their host facts at registration; 9 creates that name no server
 * (`NONE`) land 3/3/3, seen in the manager and in each agent's own domains; an oversized create fails with the
 * capacity reason and leaves nothing behind; a host disabled with `vtctl server disable` gets no new VM; and
 * `vtctl host capacity --json`, run as a process, matches the sum of the VMs.
 *
 * Then one VM made by an operator with `vtctl vm create --disk 1G --data-disk 1G --ssh-key --wait`, naming no host,
 * is placed on an enabled host, started, and its serial log (read with `vtctl vm console-log`) shows the system disk
 * grown to 1 GiB, the 1 GiB data disk and the key's fingerprint; the capacity report counts it with its own sizes.
 *
 * The nine placement VMs are created (overlay, seed, `virsh define`), not started: placement does not need them to
 * boot, and nine TCG guests on this 2-CPU machine would only slow the test down. Only the disk/key VM boots.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { createQuery, domainsWithPrefix, type MultiHostCluster, REPO_ROOT, startCluster } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const VM_MEMORY_MIB = 128;
/** hd-size-mb of every create the harness builds (Expedient's leaked 8200). */
const HD_SIZE_MIB = 8200;
/** Used when ssh-keygen is missing: a valid Ed25519 public key (fingerprint computed by the guest). */
const FIXED_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcZ3Bv9v2sCtq2mBEX8d6x4l0bqNcQm3Fmb8z9iT8Y1 placement-e2e';

/** What a VM was promised: memory and disk in MiB (disk: hd-size-mb plus data disks), vCPUs. */
interface Promised {
  memoryMiB: number;
  diskMiB: number;
  vcpus: number;
}
const OCF_VM: Promised = { memoryMiB: VM_MEMORY_MIB, diskMiB: HD_SIZE_MIB, vcpus: 1 };

interface CapacityRow {
  host: string;
  state: string;
  vms: number;
  cpus: { total: number | null; used: number; available: number | null };
  memoryMiB: { total: number | null; used: number; available: number | null };
  diskGiB: { total: number | null; used: number; available: number | null };
}

describe('placement on three hosts (spread)', () => {
  let c: MultiHostCluster;
  let vtctlArgs: string[];
  /** Creates that succeeded: vm uuid → what it was promised. */
  const created = new Map<string, Promised>();

  before(async () => {
    c = await startCluster({ hosts: 3, monitoring: { intervalSeconds: 0 } });
    // an admin of our own, so vtctl runs as a separate process with its own credentials
    const password = 'ops-password-for-vtctl';
    await c.admin.call('user.add', [{ name: 'ops', password, roles: ['admin'] }]);
    const passwordFile = path.join(c.dir, 'ops.pw');
    await writeFile(passwordFile, password, { mode: 0o600 });
    vtctlArgs = ['--url', `https://${c.network.gateway}:${c.manager.port}/xmlrpc/admin`, '--user', 'ops', '--password-file', passwordFile, '--ca', path.join(c.certsDir, 'ca.crt')];
  });
  after(async () => {
    if (c) await c.cleanup();
  });

  const vtctl = (...args: string[]) => execa('node', [path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js'), ...vtctlArgs, ...args]);
  const domainsPerHost = async () => Promise.all(c.hosts.map(async (h) => (await domainsWithPrefix(h.domainPrefix)).length));
  /** VMs per server name, from the manager's database. */
  const vmsPerServer = async (): Promise<Record<string, number>> => {
    const rows = (await c.manager.dataSource.query('SELECT s.name AS name, COUNT(v.id) AS n FROM server s LEFT JOIN virtual_machine v ON v.serverId = s.id GROUP BY s.name')) as Array<{ name: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
  };
  /** Sends creates naming no server (`NONE`) at once; resolves with each one's terminal statuses. */
  const createUnplaced = async (names: string[], memoryMb = VM_MEMORY_MIB) => {
    const qs = names.map((name) => ({ name, ...createQuery({ serverUuid: 'NONE', name, template: TEMPLATE, memoryMb }) }));
    await Promise.all(qs.map((q) => c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml])));
    return Promise.all(qs.map(async (q) => ({ ...q, statuses: await c.clearinghouse.waitForTerminal(q.actionId) })));
  };

  test('the agents reported their hosts at registration', async () => {
    const hosts = await c.admin.call<Array<{ host: string; cpus: number | null; memoryTotalMiB: number | null; storageTotalGiB: number | null; hypervisor: string | null; bridges: string[] }>>('host.list', []);
    assert.equal(hosts.length, 3);
    for (const h of hosts) {
      assert.ok((h.cpus ?? 0) >= 1, `${h.host}: CPUs`);
      assert.ok((h.memoryTotalMiB ?? 0) > 1024, `${h.host}: memory`);
      assert.ok((h.storageTotalGiB ?? 0) >= 1, `${h.host}: storage`);
      assert.match(h.hypervisor ?? '', /^(kvm|qemu)$/);
      const own = c.hosts.find((x) => x.name === h.host);
      assert.ok(own && h.bridges.includes(own.bridge), `${h.host}: its guest bridge ${own?.bridge} among ${h.bridges.join(',')}`);
    }
  });

  test('9 creates without a host land 3/3/3, in the manager and in each agent\'s own domains', async (t) => {
    const t0 = Date.now();
    const results = await createUnplaced(Array.from({ length: 9 }, (_, i) => `spread${i}-${c.runId}`));
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    process.stdout.write(`# placement e2e: 9 VMs placed and created (not started) on 3 hosts in ${seconds} s: ${JSON.stringify(await vmsPerServer())}\n`);
    for (const r of results) {
      assert.deepEqual(r.statuses.map((s) => s.status), ['ONGOING', 'SUCCESS'], `${r.name}: ${JSON.stringify(r.statuses)}`);
      created.set(r.vmUuid, OCF_VM);
    }
    t.diagnostic(`9 VMs placed and created (not started) on 3 hosts in ${seconds} s`);
    assert.deepEqual(Object.values(await vmsPerServer()), [3, 3, 3]);
    assert.deepEqual(await domainsPerHost(), [3, 3, 3], 'each agent defined 3 domains under its own prefix');
    const shown = await c.admin.call<{ placement: { host: string; policy: string; candidates: Array<{ host: string; freeMemoryMiB: number }> } }>('action.show', [{ id: results[0]!.actionId }]);
    assert.equal(shown.placement.policy, 'spread');
    assert.equal(shown.placement.candidates.length, 3);
    assert.ok(c.hosts.some((h) => h.name === shown.placement.host));
    const out = await vtctl('action', 'show', results[0]!.actionId);
    assert.match(out.stdout, /"policy":"spread"/, 'vtctl action show prints the decision');
  });

  test('an oversized create fails with the capacity reason and leaves nothing behind', async () => {
    const before = { vms: await vmsPerServer(), domains: await domainsPerHost(), ranges: await c.admin.call<unknown[]>('range.list', []) };
    const [r] = await createUnplaced([`huge-${c.runId}`], 1024 * 1024);
    assert.ok(r);
    assert.deepEqual(r.statuses.map((s) => s.status), ['FAILED']);
    assert.match(r.statuses[0]!.description ?? '', /^no host can take the VM \(1048576 MiB, 1 vCPUs\): host \S+ has \d+ MiB free for VMs, 1048576 MiB asked; /);
    assert.deepEqual(await vmsPerServer(), before.vms);
    assert.deepEqual(await domainsPerHost(), before.domains);
    assert.deepEqual(await c.admin.call<unknown[]>('range.list', []), before.ranges, 'no address taken');
    assert.deepEqual(await c.admin.call<unknown[]>('action.list', [{ vm: r.vmUuid }]), [], 'no action stored');
  });

  test('a host disabled with vtctl server disable gets none of the next creates', async () => {
    const [h1] = c.hosts;
    assert.ok(h1);
    await vtctl('server', 'disable', h1.name);
    const results = await createUnplaced(Array.from({ length: 4 }, (_, i) => `after${i}-${c.runId}`));
    for (const r of results) {
      assert.deepEqual(r.statuses.map((s) => s.status), ['ONGOING', 'SUCCESS'], `${r.name}: ${JSON.stringify(r.statuses)}`);
      created.set(r.vmUuid, OCF_VM);
    }
    assert.deepEqual(await domainsPerHost(), [3, 5, 5]);
    const table = (await vtctl('host', 'capacity')).stdout;
    assert.match(table, new RegExp(`^${h1.name}\\s+disabled\\s+3\\s`, 'm'));
  });

  test('a VM made with vtctl vm create --disk 1G --data-disk 1G --ssh-key and no host boots on an enabled host with the grown disk, the data disk and the key', { timeout: 600_000 }, async () => {
    const work = path.join(c.dir, 'key');
    const keygen = await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'placement-e2e', '-f', work], { reject: false });
    const keyFile = `${work}.pub`;
    const fingerprint = keygen.exitCode === 0 ? (await execa('ssh-keygen', ['-lf', keyFile])).stdout.split(' ')[1] : undefined;
    if (keygen.exitCode !== 0) await writeFile(keyFile, `${FIXED_KEY}\n`);
    const name = `disky-${c.runId}`;
    const t0 = Date.now();
    const made = await vtctl('vm', 'create', name, '--template', TEMPLATE, '--memory', '128M', '--disk', '1G', '--data-disk', '1G', '--ssh-key', keyFile, '--wait');
    assert.match(made.stderr, /create disky-\S+: SUCCESS after \d+s$/m);
    const [vm] = (JSON.parse((await vtctl('--json', 'vm', 'list')).stdout) as Array<{ uuid: string; name: string; server: string; ip: string }>).filter((v) => v.name === name);
    assert.ok(vm, 'listed');
    const [h1] = c.hosts;
    assert.notEqual(vm.server, h1?.name, 'never on the disabled host');
    const host = c.hosts.find((h) => h.name === vm.server);
    assert.ok(host, `placed on one of the cluster's hosts (${vm.server})`);
    created.set(vm.uuid, { memoryMiB: 128, diskMiB: 1024 + 1024, vcpus: 1 });
    const t1 = Date.now();
    await vtctl('vm', 'start', name, '--wait');
    let log = '';
    const deadline = Date.now() + 240_000;
    while (!/kvm-crm-guest (ready|error)/.test(log) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      log = (await vtctl('vm', 'console-log', name)).stdout;
    }
    const bootSeconds = ((Date.now() - t1) / 1000).toFixed(1);
    assert.match(log, new RegExp(`kvm-crm-guest ready hostname=${name} ip=${vm.ip.replace(/\./g, '\\.')}`), log.slice(-1500));
    assert.match(log, /kvm-crm-guest disks vda=1024 vdb=1024\b/, 'the system disk grown to 1 GiB and a 1 GiB data disk');
    if (fingerprint) assert.match(log, new RegExp(`kvm-crm-guest key ${fingerprint.replace(/[+/]/g, '\\$&')} ssh-ed25519 placement-e2e`));
    else assert.match(log, /kvm-crm-guest key SHA256:\S+ ssh-ed25519 placement-e2e/);
    const onDisk = await readFile(path.join(host.storageRoot, 'vms', vm.uuid, 'console.log'), 'utf8');
    assert.ok(onDisk.startsWith(log.slice(0, 200)), 'console-log shows the file the agent of its host keeps');
    await vtctl('vm', 'hard-stop', name, '--wait');
    process.stdout.write(`# placement e2e: disk/key VM on ${host.name}: create --wait ${((t1 - t0) / 1000).toFixed(1)} s, start to ready line ${bootSeconds} s\n`);
  });

  test('vtctl host capacity --json (a process) matches the sum of the VMs', async () => {
    const rows = JSON.parse((await vtctl('host', 'capacity', '--json')).stdout) as CapacityRow[];
    const placed = (await c.manager.dataSource.query('SELECT v.uuid AS uuid, s.name AS host FROM virtual_machine v JOIN server s ON s.id = v.serverId')) as Array<{ uuid: string; host: string }>;
    assert.deepEqual(placed.map((p) => p.uuid).sort(), [...created.keys()].sort(), 'the manager holds exactly the VMs created');
    assert.equal(rows.length, 3);
    for (const row of rows) {
      const mine = placed.filter((p) => p.host === row.host).map((p) => created.get(p.uuid)!);
      const sum = (k: keyof Promised) => mine.reduce((a, v) => a + v[k], 0);
      assert.equal(row.vms, mine.length, `${row.host}: VM count`);
      assert.equal(row.memoryMiB.used, sum('memoryMiB'), `${row.host}: memory promised`);
      assert.equal(row.cpus.used, sum('vcpus'), `${row.host}: vCPUs promised`);
      assert.equal(row.diskGiB.used, Math.round((sum('diskMiB') / 1024) * 10) / 10, `${row.host}: disk promised`);
      assert.equal(row.memoryMiB.available, (row.memoryMiB.total ?? 0) - row.memoryMiB.used);
      assert.equal(row.cpus.available, (row.cpus.total ?? 0) - row.cpus.used);
    }
    assert.equal(rows.reduce((s, r) => s + r.vms, 0), created.size);
    assert.equal(rows.reduce((s, r) => s + r.memoryMiB.used, 0), [...created.values()].reduce((a, v) => a + v.memoryMiB, 0));
    const table = (await vtctl('host', 'capacity')).stdout;
    for (const row of rows) assert.match(table, new RegExp(`^${row.host}\\s+${row.state}\\s+${row.vms}\\s`, 'm'), 'the table says the same');
  });
});
