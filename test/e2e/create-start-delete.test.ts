/**
 * End to end on real libvirt (TCG where KVM cannot run guests): a VM created through the OCF API boots from the
 * test template with the hostname and IP the manager allocated, and delete removes its domain and disks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { type Cluster, createQuery, domainsWithPrefix, lifecycleQuery, startCluster, virsh, waitForReadyLine, waitForReadyLines } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

interface VmRow {
  uuid: string;
  name: string;
  state: string;
  interfaces: Array<{ name: string; mac: string; ip: string; bridge: string }>;
}

describe('walking skeleton: create, start, reboot, stop, hardStop, delete through the OCF API', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster();
  });
  after(async () => {
    await c?.cleanup();
  });

  test('a created VM boots with the allocated hostname and IP, and delete leaves nothing behind', async () => {
    const name = `web-${c.runId}`;
    const create = createQuery({ serverUuid: c.serverUuid, name, template: TEMPLATE });
    assert.equal(await c.plugin.call('send', [c.clearinghouse.callbackUrl, create.xml]), null, 'send returns nil (§2.2.1)');
    const created = await c.clearinghouse.waitForTerminal(create.actionId);
    assert.deepEqual(created.map((s) => s.status), ['ONGOING', 'SUCCESS'], JSON.stringify(created));
    assert.ok(created.every((s) => s.type === 'create'), 'the manager fills in the action type (§9 item 10)');

    const vms = await c.admin.call<VmRow[]>('vm.list', [{}]);
    const vm = vms.find((v) => v.uuid === create.vmUuid);
    assert.ok(vm, 'the VM is in the manager');
    assert.equal(vm.state, 'created (stopped)');
    const nic = vm.interfaces[0]!;
    assert.match(nic.ip, /^10\.254\.\d+\.10$/, 'first free address of the range');
    assert.equal(nic.bridge, c.bridge);
    const domain = `${c.domainPrefix}${create.vmUuid}`;
    assert.equal((await virsh('domstate', domain)).stdout.trim(), 'shut off', 'created means defined, not running (§7.1)');
    const xml = (await virsh('dumpxml', domain)).stdout;
    assert.match(xml, new RegExp(`<source bridge=['"]${c.bridge}['"]`), 'NIC on the registered bridge');
    assert.match(xml, new RegExp(`<mac address=['"]${nic.mac}['"]`));
    assert.match(xml, /kvm-crm\.dev\/xmlns\/domain\/1/, 'our metadata namespace');

    const start = lifecycleQuery('start', { serverUuid: c.serverUuid, vmUuid: create.vmUuid, name });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, start.xml]);
    assert.deepEqual((await c.clearinghouse.waitForTerminal(start.actionId)).map((s) => s.status), ['ONGOING', 'SUCCESS']);
    assert.equal((await virsh('domstate', domain)).stdout.trim(), 'running');

    // the libvirt Started event travels agent → manager → clearinghouse as an id="callback" message (§6.8)
    const deadline = Date.now() + 30_000;
    while (!c.clearinghouse.documents.some((d) => d.includes('id="callback"') && d.includes(create.vmUuid) && d.includes('<status>Started</status>'))) {
      assert.ok(Date.now() < deadline, 'no Started event reached the clearinghouse');
      await new Promise((r) => setTimeout(r, 200));
    }

    const templates = await c.plugin.call<Array<{ name: string; format: string; virtualSizeBytes: number }>>('list_vm_templates', [c.serverUuid]);
    assert.deepEqual(templates.map((t) => [t.name, t.format]), [['kvm-crm-test', 'qcow2']]);
    assert.ok(templates[0]!.virtualSizeBytes > 0);

    const ready = await waitForReadyLine(path.join(c.storageRoot, 'vms', create.vmUuid, 'console.log'));
    assert.equal(ready.hostname, name, 'the guest took the VM name as hostname');
    assert.equal(ready.ip, `${nic.ip}/24`, 'the guest configured the IP the manager allocated');
    assert.equal(ready.mac, nic.mac);

    const act = async (type: string) => {
      const q = lifecycleQuery(type, { serverUuid: c.serverUuid, vmUuid: create.vmUuid, name });
      await c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml]);
      const statuses = await c.clearinghouse.waitForTerminal(q.actionId);
      assert.deepEqual(statuses.map((s) => s.status), ['ONGOING', 'SUCCESS'], `${type}: ${JSON.stringify(statuses)}`);
      assert.ok(statuses.every((s) => s.type === type));
      return statuses;
    };
    const log = path.join(c.storageRoot, 'vms', create.vmUuid, 'console.log');

    // reboot: the guest goes down through ACPI and boots again, printing a second ready line
    await act('reboot');
    const afterReboot = await waitForReadyLines(log, 2);
    assert.equal(afterReboot[1]!.ip, `${nic.ip}/24`);
    assert.equal((await c.admin.call<VmRow[]>('vm.list', [{}]))[0]!.state, 'running');

    // stop (soft): ACPI shutdown, the guest powers itself off within the grace period
    const stopped = await act('stop');
    assert.equal(stopped.at(-1)!.description, undefined, 'no destroy fallback was needed');
    assert.equal((await virsh('domstate', domain)).stdout.trim(), 'shut off');
    assert.equal((await c.admin.call<VmRow[]>('vm.list', [{}]))[0]!.state, 'stopped');

    // start again, then hardStop (the GUI "stop", §8.2)
    await act('start');
    await waitForReadyLines(log, 3);
    await act('hardStop');
    assert.equal((await virsh('domstate', domain)).stdout.trim(), 'shut off');

    const del = lifecycleQuery('delete', { serverUuid: c.serverUuid, vmUuid: create.vmUuid, name });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, del.xml]);
    assert.deepEqual((await c.clearinghouse.waitForTerminal(del.actionId)).map((s) => s.status), ['ONGOING', 'SUCCESS']);
    assert.notEqual((await virsh('domstate', domain)).exitCode, 0, 'domain undefined');
    assert.equal(await exists(path.join(c.storageRoot, 'vms', create.vmUuid)), false, 'overlay, seed and log removed');
    assert.deepEqual(await c.admin.call('vm.list', [{}]), []);
    const ranges = await c.admin.call<Array<{ kind: string; allocated: number }>>('range.list', []);
    assert.ok(ranges.every((r) => r.allocated === 0), `addresses released: ${JSON.stringify(ranges)}`);
  });

  test('a create naming a missing template fails with a reason and leaves nothing behind', async () => {
    const create = createQuery({ serverUuid: c.serverUuid, name: `bad-${c.runId}`, template: 'no-such-template/disk.qcow2' });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, create.xml]);
    const statuses = await c.clearinghouse.waitForTerminal(create.actionId);
    assert.deepEqual(statuses.map((s) => s.status), ['ONGOING', 'FAILED']);
    assert.match(statuses[1]!.description ?? '', /no template "no-such-template"/);
    assert.deepEqual(await domainsWithPrefix(c.domainPrefix), []);
    assert.equal(await exists(path.join(c.storageRoot, 'vms', create.vmUuid)), false);
    assert.deepEqual(await c.admin.call('vm.list', [{}]), []);
    const ranges = await c.admin.call<Array<{ allocated: number }>>('range.list', []);
    assert.ok(ranges.every((r) => r.allocated === 0), 'no address kept');
  });

  test('a template reference that escapes the catalogue is refused', async () => {
    for (const template of ['../../etc/passwd', '/etc/shadow', 'kvm-crm-test/../../x']) {
      const create = createQuery({ serverUuid: c.serverUuid, name: `esc-${c.runId}`, template });
      await c.plugin.call('send', [c.clearinghouse.callbackUrl, create.xml]);
      const statuses = await c.clearinghouse.waitForTerminal(create.actionId);
      assert.equal(statuses.at(-1)!.status, 'FAILED');
      assert.match(statuses.at(-1)!.description ?? '', /invalid hd-origin-path/);
    }
    assert.deepEqual(await c.admin.call('vm.list', [{}]), []);
  });
});

describe('a full pool', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster({ ipv4: { start: '10.253.0.10', end: '10.253.0.10', netmask: '255.255.255.0', gateway: '10.253.0.1' } });
  });
  after(async () => {
    await c?.cleanup();
  });

  test('the create that finds no free address fails with a reason and leaves nothing behind', async () => {
    const first = createQuery({ serverUuid: c.serverUuid, name: `one-${c.runId}`, template: TEMPLATE });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, first.xml]);
    assert.equal((await c.clearinghouse.waitForTerminal(first.actionId)).at(-1)!.status, 'SUCCESS');

    const second = createQuery({ serverUuid: c.serverUuid, name: `two-${c.runId}`, template: TEMPLATE });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, second.xml]);
    const statuses = await c.clearinghouse.waitForTerminal(second.actionId);
    assert.deepEqual(statuses.map((s) => s.status), ['FAILED'], 'refused before reaching the agent');
    assert.match(statuses[0]!.description ?? '', /IPv4 pool exhausted/);
    assert.deepEqual(await domainsWithPrefix(c.domainPrefix), [`${c.domainPrefix}${first.vmUuid}`]);
    assert.equal(await exists(path.join(c.storageRoot, 'vms', second.vmUuid)), false);
    const vms = await c.admin.call<VmRow[]>('vm.list', [{}]);
    assert.deepEqual(vms.map((v) => v.uuid), [first.vmUuid]);
    const ranges = await c.admin.call<Array<{ kind: string; allocated: number }>>('range.list', []);
    assert.deepEqual(ranges.map((r) => [r.kind, r.allocated]), [['ipv4', 1], ['mac', 1]], 'the failed create kept no MAC either');

    const dup = createQuery({ serverUuid: c.serverUuid, name: `dup-${c.runId}`, template: TEMPLATE, vmUuid: first.vmUuid });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, dup.xml]);
    const dupStatuses = await c.clearinghouse.waitForTerminal(dup.actionId);
    assert.match(dupStatuses.at(-1)!.description ?? '', /exists/);
    assert.equal((await c.admin.call<VmRow[]>('vm.list', [{}]))[0]!.name, `one-${c.runId}`, 'the existing VM is untouched (§9 item 21)');
  });
});
