/**
 * The manager's reading of an agent's `get_host_info` answer (src/adapters/xmlrpc-agent-gateway.ts `hostFactsFrom`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostFactsFrom } from '../../dist/adapters/xmlrpc-agent-gateway.js';
import { fakeHostFacts } from '../../dist/testing/capacity-fakes.js';

test('get_host_info: the struct is read field by field (extra fields ignored, bridges sorted); a mistyped field is an UpstreamError', () => {
  const answer = { ...fakeHostFacts({ bridges: ['virbr0', 'br0'] }), hostname: 'kvm1', numberOfCPUs: 2, storageTotalMiB: 102400 };
  const facts = hostFactsFrom(answer, 'kvm1');
  assert.deepEqual(facts.bridges, ['br0', 'virbr0']);
  assert.equal(facts.memoryTotalMiB, 1024);
  assert.equal('hostname' in facts, false);
  assert.throws(() => hostFactsFrom({ ...answer, cpus: '2' }, 'kvm1'), /agent of kvm1: get_host_info field cpus is missing or mistyped/);
  assert.throws(() => hostFactsFrom({ ...answer, bridges: 'br0' }, 'kvm1'), /field bridges/);
  assert.throws(() => hostFactsFrom([], 'kvm1'), /did not answer a struct/);
});

test('list_kept_disks: entries are read field by field; a malformed entry or size is an UpstreamError naming it', async () => {
  const { keptDisksFrom } = await import('../../dist/adapters/xmlrpc-agent-gateway.js');
  const entry = {
    id: 'c0ffee00-1234-4abc-8def-0123456789ab-1', vmUuid: 'c0ffee00-1234-4abc-8def-0123456789ab', vmName: 'web01', keptAt: '2026-12-05T00:00:00.000Z',
    actualSizeMiB: 3, files: [{ name: 'disk.qcow2', virtualSizeMiB: 1024, actualSizeMiB: 3 }, { name: 'data-vdb.qcow2', error: 'qemu-img failed' }], extra: 1,
  };
  const { extra: _ignored, ...expected } = entry;
  assert.deepEqual(keptDisksFrom([entry], 'kvm1'), [expected], 'extra fields are dropped');
  assert.deepEqual(keptDisksFrom([], 'kvm1'), []);
  assert.throws(() => keptDisksFrom({}, 'kvm1'), /agent of kvm1: list_kept_disks answer malformed \(not a list\)/);
  assert.throws(() => keptDisksFrom([{ ...entry, vmName: 5 }], 'kvm1'), /entry 0 field vmName/);
  assert.throws(() => keptDisksFrom([{ ...entry, actualSizeMiB: -1 }], 'kvm1'), /field actualSizeMiB/);
  assert.throws(() => keptDisksFrom([{ ...entry, files: [{ name: 'disk.qcow2', virtualSizeMiB: 1.5, actualSizeMiB: 1 }] }], 'kvm1'), /entry 0 file 0 sizes/);
});
