/**
 * The pure part of capacity accounting and placement (src/domain/capacity.ts, decision record 019): totals with
 * overcommit, the capacity messages, and the three policies' choices.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { choose, hostCapacity, resourcesAsked, shortfall, type Candidate } from '../../dist/domain/capacity.js';
import { createAction } from '../../dist/testing/fakes.js';

const RATIOS = { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 };

test('capacity: size × overcommit less what the VMs were promised; unknown size: unknown capacity', () => {
  const cap = hostCapacity({ cpus: 2, memoryTotalMiB: 4096, storageTotalGiB: 10 }, { vcpus: 3, memoryMiB: 1024, diskMiB: 2048, vms: 2 }, RATIOS);
  assert.deepEqual(cap.total, { vcpus: 8, memoryMiB: 4096, diskMiB: 10240 });
  assert.deepEqual(cap.free, { vcpus: 5, memoryMiB: 3072, diskMiB: 8192 });
  assert.equal(hostCapacity({ cpus: null, memoryTotalMiB: null, storageTotalGiB: null }, { vcpus: 0, memoryMiB: 0, diskMiB: 0, vms: 0 }, RATIOS).free, null);
});

test('shortfall: memory, then vCPUs, then disk, in the words of the issue', () => {
  const free = { vcpus: 2, memoryMiB: 512, diskMiB: 10240 };
  assert.equal(shortfall('kvm2', free, { vcpus: 1, memoryMiB: 2048, diskMiB: 0 }), 'host kvm2 has 512 MiB free for VMs, 2048 MiB asked');
  assert.equal(shortfall('kvm2', free, { vcpus: 4, memoryMiB: 256, diskMiB: 0 }), 'host kvm2 has 2 vCPUs free for VMs, 4 asked');
  assert.equal(shortfall('kvm2', free, { vcpus: 1, memoryMiB: 256, diskMiB: 20480 }), 'host kvm2 has 10 GiB free for VMs, 20 GiB asked');
  assert.equal(shortfall('kvm2', free, { vcpus: 2, memoryMiB: 512, diskMiB: 10240 }), undefined, 'exactly full fits');
  assert.equal(shortfall('kvm2', null, { vcpus: 64, memoryMiB: 1 << 20, diskMiB: 1 << 30 }), undefined, 'unknown capacity is not checked');
});

test('resources asked: hd-size-mb plus the data disks', () => {
  const a = createAction({ memoryMb: 512, vcpus: 2 });
  const cfg = a.server?.virtualMachines[0]?.xenConfiguration;
  assert.ok(cfg);
  cfg.dataDisks = [{ sizeMb: 1024 }, { sizeMb: 2048 }, {}];
  assert.deepEqual(resourcesAsked(a, { vcpus: 2, memoryMb: 512, hdSizeMb: 8200 }), { vcpus: 2, memoryMiB: 512, diskMiB: 8200 + 3072 });
  assert.deepEqual(resourcesAsked(createAction(), { vcpus: 1, memoryMb: 256, hdSizeMb: null }), { vcpus: 1, memoryMiB: 256, diskMiB: 0 });
});

const host = (name: string, memoryMiB: number, vms = 0, excluded?: string): Candidate => ({ name, vms, free: { vcpus: 8, memoryMiB, diskMiB: 10240 }, ...(excluded ? { excluded } : {}) });
const ASK = { vcpus: 1, memoryMiB: 512, diskMiB: 0 };

test('spread takes the most free memory, pack the least that fits, round-robin the next by name that fits', () => {
  const hosts = [host('kvm1', 1024), host('kvm2', 4096), host('kvm3', 600), host('kvm4', 256)];
  assert.equal(choose('spread', hosts, ASK).host, 'kvm2');
  assert.equal(choose('pack', hosts, ASK).host, 'kvm3');
  assert.equal(choose('round-robin', hosts, ASK).host, 'kvm1', 'no previous choice: the first by name');
  assert.equal(choose('round-robin', hosts, ASK, 'kvm1').host, 'kvm2');
  assert.equal(choose('round-robin', hosts, ASK, 'kvm3').host, 'kvm1', 'kvm4 is too full: wraps round');
  assert.equal(choose('spread', [host('b', 1024, 1), host('a', 1024, 3), host('c', 1024, 1)], ASK).host, 'b', 'ties: fewer VMs, then name');
});

test('down, disabled, draining and unreported hosts are never chosen; every verdict is given', () => {
  const hosts: Candidate[] = [host('kvm1', 9000, 0, 'host kvm1 is down'), host('kvm2', 9000, 0, 'host kvm2 is draining'), { name: 'kvm3', vms: 0, free: null }, host('kvm4', 100)];
  for (const policy of ['spread', 'pack', 'round-robin'] as const) {
    const c = choose(policy, hosts, ASK);
    assert.equal(c.host, undefined, policy);
    assert.deepEqual(c.candidates.map((v) => v.why), ['host kvm1 is down', 'host kvm2 is draining', 'host kvm3 has not reported its capacity', 'host kvm4 has 100 MiB free for VMs, 512 MiB asked']);
  }
});

test('GiB in messages: free rounded down, asked rounded up, whole numbers without a decimal', async () => {
  const { gib } = await import('../../dist/domain/capacity.js');
  assert.deepEqual([gib(8184), gib(8200, 'ceil'), gib(10240), gib(10240, 'ceil'), gib(1536)], ['7.9', '8.1', '10', '10', '1.5']);
});
