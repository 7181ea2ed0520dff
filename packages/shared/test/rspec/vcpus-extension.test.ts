import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRspec } from '../../dist/rspec/parse.js';
import { serialiseRspec } from '../../dist/rspec/serialise.js';

test('the vcpus extension round-trips after memory-mb and is absent unless set', () => {
  const doc = { query: { provisioning: { actions: [{ type: 'modify', id: 'a1', server: { virtualMachines: [{ uuid: 'u', xenConfiguration: { memoryMb: 256, vcpus: 2 } }] } }] } } };
  const xml = serialiseRspec(doc, { dialect: 'manager' });
  assert.match(xml, /<memory-mb>256<\/memory-mb>\n\s+<vcpus>2<\/vcpus>\n/);
  assert.equal(parseRspec(xml).query!.provisioning!.actions[0]!.server!.virtualMachines[0]!.xenConfiguration!.vcpus, 2);
  delete (doc.query.provisioning.actions[0]!.server.virtualMachines[0]!.xenConfiguration as { vcpus?: number }).vcpus;
  assert.doesNotMatch(serialiseRspec(doc, { dialect: 'manager' }), /vcpus/);
  assert.throws(() => parseRspec(xml.replace('<vcpus>2</vcpus>', '<vcpus>two</vcpus>')), /vcpus must be an integer/);
});
