/**
 * The host inventory behind `get_host_info`: the parsers on recorded command output, the service over fake facts,
 * the XML-RPC method, and once against the real host (libvirt present) for plausible values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { AuthenticationError } from '@kvm-crm/shared';
import { buildHostInfo, HostInfoError, parseMeminfo, parseNodeInfo, parseVirshVersion } from '../../dist/domain/host-info.js';
import { HostInventory, type HostFacts } from '../../dist/services/host-inventory.js';
import { LocalHostFacts } from '../../dist/adapters/host-facts.js';
import { Virsh } from '../../dist/adapters/virsh.js';
import { agentApi } from '../../dist/api/agent-api.js';
import { libvirtUnavailableReason, TEST_LIBVIRT_URI } from '../../dist/testing/libvirt-test-env.js';

// Recorded on a Debian 12 host (libvirt 9.0.0, QEMU 7.2) and a two-socket server.
const NODEINFO = `CPU model:           x86_64
CPU(s):              2
CPU frequency:       2096 MHz
CPU socket(s):       1
Core(s) per socket:  2
Thread(s) per core:  1
NUMA cell(s):        1
Memory size:         24683748 KiB`;
const NODEINFO_2S = NODEINFO.replace('CPU(s):              2', 'CPU(s):              64').replace('Core(s) per socket:  2', 'Core(s) per socket:  16')
  .replace('Thread(s) per core:  1', 'Thread(s) per core:  2').replace('NUMA cell(s):        1', 'NUMA cell(s):        2');
const VERSION = `Compiled against library: libvirt 9.0.0
Using library: libvirt 9.0.0
Using API: QEMU 9.0.0
Running hypervisor: QEMU 7.2.22`;
const MEMINFO = 'MemTotal:       24683748 kB\nMemFree:         1000000 kB\nMemAvailable:   20480000 kB\nBuffers:          123 kB\n';
const CPUINFO = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2096.060\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n';

class FakeFacts implements HostFacts {
  statfsPaths: string[] = [];
  cpuinfo: string | Error = CPUINFO;
  hostname() { return 'kvm1'; }
  async nodeInfo() { return NODEINFO; }
  async version() { return VERSION; }
  async procFile(name: 'cpuinfo' | 'meminfo') {
    if (name === 'meminfo') return MEMINFO;
    if (this.cpuinfo instanceof Error) throw this.cpuinfo;
    return this.cpuinfo;
  }
  async statfs(p: string) {
    this.statfsPaths.push(p);
    return { bsize: 4096, blocks: 26214400, bavail: 13107200 }; // 100 GiB, 50 GiB free
  }
  async bridges() { return ['br1', 'br0']; }
}

test('parsers: virsh nodeinfo, virsh version, /proc/meminfo', () => {
  assert.deepEqual(parseNodeInfo(NODEINFO), { cpuModel: 'x86_64', cpus: 2, frequencyMHz: 2096, sockets: 1, coresPerSocket: 2, threadsPerCore: 1, numaCells: 1, memoryKiB: 24683748 });
  assert.deepEqual(parseVirshVersion(VERSION), { libvirt: '9.0.0', qemu: '7.2.22' });
  assert.deepEqual(parseMeminfo(MEMINFO), { totalMiB: 24105, freeMiB: 20000 });
  assert.deepEqual(parseMeminfo('MemTotal: 2048 kB\nMemFree: 1024 kB\n'), { totalMiB: 2, freeMiB: 1 }, 'old kernels: MemFree');
  assert.throws(() => parseNodeInfo(NODEINFO.replace(/^CPU frequency.*$/m, '')), (e: unknown) => e instanceof HostInfoError && /no "CPU frequency"/.test(e.message));
  assert.throws(() => parseVirshVersion('Using library: libvirt 9.0.0\n'), /Running hypervisor: QEMU/);
  assert.throws(() => parseMeminfo('MemFree: 1 kB'), /no MemTotal/);
});

test('HostInventory combines the facts: topology, memory, storage of the storage root, versions, bridges, OCF fields', async () => {
  const facts = new FakeFacts();
  const info = await new HostInventory(facts, { storageRoot: '/var/lib/kvm-crm', hypervisor: 'kvm' }).get();
  assert.deepEqual(info, {
    hostname: 'kvm1', hypervisor: 'kvm', cpuModel: 'AMD EPYC', cpus: 2, cpuSockets: 1, cpuCoresPerSocket: 2, cpuThreadsPerCore: 1,
    cpuFrequencyMHz: 2096, memoryTotalMiB: 24105, memoryFreeMiB: 20000, storageTotalMiB: 102400, storageFreeMiB: 51200,
    storageTotalGiB: 100, storageFreeGiB: 50, libvirtVersion: '9.0.0', qemuVersion: '7.2.22', bridges: ['br0', 'br1'],
    numberOfCPUs: 2, CPUFrequency: 2096, memory: 24105, discSpaceGB: 100,
  });
  assert.deepEqual(facts.statfsPaths, ['/var/lib/kvm-crm']);
  facts.cpuinfo = new Error('EACCES');
  assert.equal((await new HostInventory(facts, { storageRoot: '/x', hypervisor: 'qemu' }).get()).cpuModel, 'x86_64', 'nodeinfo model without /proc/cpuinfo');
  const two = buildHostInfo({ hostname: 'h', hypervisor: 'kvm', nodeinfo: NODEINFO_2S, virshVersion: VERSION, cpuinfo: '', meminfo: MEMINFO, statfs: { bsize: 4096, blocks: 1, bavail: 0 }, bridges: [] });
  assert.deepEqual([two.cpus, two.cpuSockets, two.cpuCoresPerSocket, two.cpuThreadsPerCore], [64, 2, 16, 2], 'sockets per NUMA cell × cells');
});

test('get_host_info(password) returns the struct; a wrong password is refused', async () => {
  const api = agentApi({
    password: 'pw', provisioning: { submit: () => undefined }, monitoring: { submit: () => undefined },
    templates: { list: async () => [], resolve: async () => { throw new Error('none'); } }, domains: { listAll: async () => [] }, domainPrefix: 'kvmcrm-',
    host: new HostInventory(new FakeFacts(), { storageRoot: '/srv', hypervisor: 'qemu' }),
  });
  const info = (await api['get_host_info']!(['pw'], {} as never)) as Record<string, unknown>;
  assert.equal(info.hypervisor, 'qemu');
  assert.equal(info.numberOfCPUs, 2);
  assert.deepEqual(info.bridges, ['br0', 'br1']);
  await assert.rejects(async () => api['get_host_info']!(['wrong'], {} as never), AuthenticationError);
});

test('the real host: plausible CPUs, memory, storage, versions and bridges', async (t) => {
  const skip = await libvirtUnavailableReason();
  if (skip) return t.skip(skip);
  const info = await new HostInventory(new LocalHostFacts(new Virsh({ uri: TEST_LIBVIRT_URI })), { storageRoot: os.tmpdir(), hypervisor: 'qemu' }).get();
  t.diagnostic(JSON.stringify(info));
  assert.ok(info.cpus > 0 && info.cpus === os.cpus().length, `cpus ${info.cpus}`);
  assert.equal(info.cpuSockets * info.cpuCoresPerSocket * info.cpuThreadsPerCore >= 1, true);
  assert.ok(info.cpuFrequencyMHz > 0);
  assert.ok(info.cpuModel.length > 0);
  assert.ok(info.memoryTotalMiB > 0 && info.memoryTotalMiB >= info.memoryFreeMiB, `memory ${info.memoryFreeMiB}/${info.memoryTotalMiB}`);
  assert.ok(Math.abs(info.memoryTotalMiB - Math.floor(os.totalmem() / 1048576)) <= 1);
  assert.ok(info.storageTotalMiB > 0 && info.storageTotalMiB >= info.storageFreeMiB);
  assert.match(info.libvirtVersion, /^\d+\.\d+/);
  assert.match(info.qemuVersion, /^\d+\.\d+/);
  for (const b of info.bridges) assert.match(b, /^[A-Za-z0-9_.-]+$/);
  assert.equal(info.numberOfCPUs, info.cpus);
  assert.equal(info.memory, info.memoryTotalMiB);
});
