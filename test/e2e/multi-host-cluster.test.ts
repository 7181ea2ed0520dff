/**
 * Three hosts on one machine (issue 10, "Several hosts, for real"; docs/decisions/018-hosts-as-network-namespaces.md):
 * three oxad-agent processes, each in its own network namespace with its own address, certificate, storage root,
 * guest bridge and domain prefix, against one manager that reaches them only through their namespace addresses.
 * One VM per named host boots (TCG) with the address of its host's range, each agent lists only its own domain,
 * a killed agent makes only its server unavailable, and the clean-up leaves nothing of the run behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { XmlRpcClient } from '@kvm-crm/shared';
import {
  type ClusterHost,
  createQuery,
  domainsWithPrefix,
  lifecycleQuery,
  type MultiHostCluster,
  networkLeftovers,
  startCluster,
  virsh,
  waitForReadyLine,
} from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
/** Monitoring of this test's manager: a round per second, a server is down after 2 failed pings. */
const MONITORING = { intervalSeconds: 1, failureThreshold: 2 };

interface VmRow {
  uuid: string;
  name: string;
  state: string;
  interfaces: Array<{ mac: string; ip: string; bridge: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The manager's `available` flag per server name, as monitoring last set it (read from its database). */
async function availability(c: MultiHostCluster): Promise<Record<string, boolean>> {
  const rows = (await c.manager.dataSource.query('SELECT name, available FROM server')) as Array<{ name: string; available: number | boolean }>;
  return Object.fromEntries(rows.map((r) => [r.name, Boolean(r.available)]));
}

/** An XML-RPC client of `host`'s agent as the manager is (its certificate; the agent must present the host's name). */
function agentClient(c: MultiHostCluster, host: ClusterHost): XmlRpcClient {
  return new XmlRpcClient({ url: host.agentUrl, tls: c.manager.tls.clientTls({ expectPeer: { name: host.name, role: 'agent' } }), timeoutSeconds: 10 });
}

describe('three hosts on one machine, each agent in its own network namespace', () => {
  let c: MultiHostCluster;
  let upSeconds = 0;
  let cleanedUp = false;
  const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);
  before(async () => {
    const t0 = Date.now();
    c = await startCluster({ hosts: 3, monitoring: MONITORING });
    upSeconds = (Date.now() - t0) / 1000;
  });
  after(async () => {
    if (c && !cleanedUp) await c.cleanup();
  });

  test('three servers are registered under their namespace addresses and monitored as available', async (t) => {
    t.diagnostic(`cluster of 3 hosts up in ${upSeconds.toFixed(1)} s (management network ${c.network.subnet})`);
    const servers = await c.admin.call<Array<{ name: string; uuid: string; agentUrl: string; bridges: Array<{ name: string }> }>>('server.list', []);
    assert.deepEqual(
      servers.map((s) => [s.name, s.uuid, s.agentUrl, s.bridges.map((b) => b.name)]).sort(),
      c.hosts.map((h) => [h.name, h.serverUuid, `https://${h.address}:9229/`, [h.bridge]]).sort(),
    );
    assert.equal(new Set(c.hosts.map((h) => h.address)).size, 3, 'three addresses');
    assert.equal(new Set(c.hosts.map((h) => h.storageRoot)).size, 3, 'three storage roots');
    assert.equal(new Set(c.hosts.map((h) => h.domainPrefix)).size, 3, 'three domain prefixes');
    for (const h of c.hosts) {
      assert.ok(h.pid, `${h.name}: agent running`);
      // the agent process is inside the host's namespace: the same network namespace object
      const [inProcess, named] = await Promise.all([stat(`/proc/${h.pid}/ns/net`), stat(`/run/netns/${h.netns}`)]);
      assert.equal(inProcess.ino, named.ino, `${h.name}: agent pid ${h.pid} runs in namespace ${h.netns}`);
      const addr = await execa('ip', ['-n', h.netns, '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      assert.match(addr.stdout, new RegExp(`inet ${h.address.replace(/\./g, '\\.')}/24`));
      // the agent presents its own certificate (CN = the host's name) on its namespace address
      assert.equal(await agentClient(c, h).call('ping', ['hello']), 'hello');
    }
    // a monitoring round of the manager's own: ping + listActiveVMs to each agent through its namespace address
    const round = await c.manager.monitoring.monitorOnce();
    assert.deepEqual(round.map((r) => [r.server, r.available, r.error]).sort(), c.hosts.map((h) => [h.name, true, undefined]).sort());
    assert.deepEqual(await availability(c), Object.fromEntries(c.hosts.map((h) => [h.name, true])));
  });

  test('a VM created on each named host boots there, and each agent lists only its own domain', async (t) => {
    const t0 = Date.now();
    const vms = c.hosts.map((h) => ({ host: h, name: `vm${h.index}-${c.runId}`, create: createQuery({ serverUuid: h.serverUuid, name: `vm${h.index}-${c.runId}`, template: TEMPLATE }) }));
    for (const v of vms) await c.plugin.call('send', [c.clearinghouse.callbackUrl, v.create.xml]);
    for (const v of vms) {
      const statuses = await c.clearinghouse.waitForTerminal(v.create.actionId);
      assert.deepEqual(statuses.map((s) => s.status), ['ONGOING', 'SUCCESS'], `${v.host.name}: ${JSON.stringify(statuses)}`);
    }
    const created = seconds(t0);
    const t1 = Date.now();
    const starts = vms.map((v) => lifecycleQuery('start', { serverUuid: v.host.serverUuid, vmUuid: v.create.vmUuid, name: v.name }));
    for (const s of starts) await c.plugin.call('send', [c.clearinghouse.callbackUrl, s.xml]);
    for (const s of starts) assert.deepEqual((await c.clearinghouse.waitForTerminal(s.actionId)).map((x) => x.status), ['ONGOING', 'SUCCESS']);
    const started = seconds(t1);
    const t2 = Date.now();

    const rows = await c.admin.call<VmRow[]>('vm.list', [{}]);
    const ready = await Promise.all(vms.map((v) => waitForReadyLine(path.join(v.host.storageRoot, 'vms', v.create.vmUuid, 'console.log'))));
    t.diagnostic(`3 VMs: created in ${created} s, started in ${started} s, ready lines ${seconds(t2)} s later; ${seconds(t0)} s in all`);
    const m = parseInt(c.runId.slice(0, 2), 16);
    vms.forEach((v, k) => {
      const row = rows.find((r) => r.uuid === v.create.vmUuid);
      assert.ok(row, `${v.name} in the manager`);
      const nic = row.interfaces[0]!;
      assert.equal(nic.bridge, v.host.bridge, `${v.name}: NIC on its host's guest bridge`);
      assert.equal(nic.ip, `10.254.${m}.${20 * v.host.index + 10}`, `${v.name}: first address of its host's range`);
      assert.equal(ready[k]!.hostname, v.name);
      assert.equal(ready[k]!.ip, `${nic.ip}/24`, `${v.name}: the guest configured the address the manager allocated`);
      assert.equal(ready[k]!.mac, nic.mac);
    });

    for (const v of vms) {
      const own = `${v.host.domainPrefix}${v.create.vmUuid}`;
      const xml = (await virsh('dumpxml', own)).stdout;
      assert.match(xml, new RegExp(`<source bridge=['"]${v.host.bridge}['"]`), `${own}: plugged into ${v.host.bridge}`);
      // the agent answers for its own domain only, although libvirt runs all three
      const listed = await agentClient(c, v.host).call<Record<string, string>>('force_list_active_vms', [v.host.agentPassword, 'None']);
      assert.deepEqual(Object.values(listed), [own], `${v.host.name} lists only its own domain`);
      assert.deepEqual(await domainsWithPrefix(v.host.domainPrefix), [own]);
    }
    assert.equal((await domainsWithPrefix(c.domainPrefix)).length, 3, 'three domains of the run in the one libvirtd');

    // monitoring's listActiveVMs answers keep each VM running on its own server
    await sleep(2500 * MONITORING.intervalSeconds);
    const after = await c.admin.call<VmRow[]>('vm.list', [{}]);
    assert.deepEqual(after.map((r) => r.state), ['running', 'running', 'running']);
  });

  test('host 2 loses its agent: server 2 is marked unavailable after the failure threshold, the others stay available', async (t) => {
    const [h1, h2, h3] = c.hosts as [ClusterHost, ClusterHost, ClusterHost];
    const pid = h2.pid;
    assert.ok(pid);
    await h2.kill();
    assert.equal(h2.pid, undefined);
    assert.throws(() => process.kill(pid, 0), `agent pid ${pid} is gone`);
    const killedAt = Date.now();
    for (;;) {
      if (!(await availability(c))[h2.name]) break;
      assert.ok(Date.now() - killedAt < 20_000, `server 2 still available ${Date.now() - killedAt} ms after its agent died`);
      await sleep(200);
    }
    t.diagnostic(`server 2 unavailable ${seconds(killedAt)} s after its agent was killed (threshold ${MONITORING.failureThreshold}, interval ${MONITORING.intervalSeconds} s)`);
    await sleep(3000 * MONITORING.intervalSeconds); // three more rounds
    assert.deepEqual(await availability(c), { [h1.name]: true, [h2.name]: false, [h3.name]: true });
    // its VM keeps running under libvirt: only the agent died
    assert.equal((await virsh('list', '--name')).stdout.split('\n').filter((n) => n.startsWith(h2.domainPrefix)).length, 1);

    // the agent comes back (same namespace, address and certificate) and the server with it
    await h2.restart();
    const restartedAt = Date.now();
    while (!(await availability(c))[h2.name]) {
      assert.ok(Date.now() - restartedAt < 20_000, 'server 2 not available again after its agent restarted');
      await sleep(200);
    }
    assert.deepEqual(await availability(c), { [h1.name]: true, [h2.name]: true, [h3.name]: true });
  });

  test('clean-up removes the agents, domains, namespaces, veths, bridges and folders of the run', async (t) => {
    const pids = c.hosts.map((h) => h.pid);
    cleanedUp = true;
    const t0 = Date.now();
    await c.cleanup();
    t.diagnostic(`clean-up in ${seconds(t0)} s`);
    for (const pid of pids) {
      assert.ok(pid);
      assert.throws(() => process.kill(pid, 0), `agent pid ${pid} is gone`);
    }
    assert.deepEqual(await domainsWithPrefix(c.domainPrefix), []);
    assert.deepEqual(await networkLeftovers(c.runId), { namespaces: [], links: [] });
    assert.equal(await access(c.dir).then(() => true, () => false), false, `${c.dir} removed`);
  });
});
