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
