/**
 * Unit tests of the agent's `send` method (docs/ocf-protocol.md §4.2): how a query is split between provisioning and
 * monitoring. The services, the template catalogue and the domain lister are in-memory fakes for unit tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthenticationError, InputError, listActiveVmsQuery, serialiseRspec, type Action, type Rspec } from '@kvm-crm/shared';
import { agentApi } from '../../dist/api/agent-api.js';

const PASSWORD = 'agent-password';
const CALLBACK = 'https://vtadmin:adminpw@10.0.0.9:8445/xmlrpc/agent';

function setup() {
  const submitted: Array<{ part: string; url: string; ids: Array<string | undefined> }> = [];
  const api = agentApi({
    password: PASSWORD,
    provisioning: { submit: (url: string, actions: Action[]) => void submitted.push({ part: 'provisioning', url, ids: actions.map((a) => a.id) }) },
    monitoring: { submit: (url: string, actions: readonly Action[]) => void submitted.push({ part: 'monitoring', url, ids: actions.map((a) => a.id) }) },
    templates: { list: async () => [], resolve: async () => { throw new Error('no templates'); } },
    domains: { listAll: async () => [] },
    domainPrefix: 'kvmcrm-',
    host: { get: async () => { throw new Error('no host info here'); } },
  });
  const send = (doc: Rspec | string, password = PASSWORD) =>
    api['send']!([CALLBACK, 0, password, typeof doc === 'string' ? doc : serialiseRspec(doc, { dialect: 'manager' })], {} as never);
  return { send, submitted };
}

const MONITORING = listActiveVmsQuery({ actionId: 'mon-1', virtualizationType: 'kvm' });
const provisioningAction: Action = {
  type: 'start', id: 'prov-1',
  server: { virtualizationType: 'kvm', virtualMachines: [{ uuid: 'c0ffee00-1234-4abc-8def-0123456789ab', virtualizationType: 'kvm' }] },
};

test('send with a listActiveVMs query hands it to the monitoring service and returns ""', async () => {
  const { send, submitted } = setup();
  assert.equal(await send(MONITORING), '');
  assert.deepEqual(submitted, [{ part: 'monitoring', url: CALLBACK, ids: ['mon-1'] }]);
});

test('send with provisioning and monitoring in one query starts both', async () => {
  const { send, submitted } = setup();
  const doc: Rspec = { query: { provisioning: { actions: [provisioningAction] }, monitoring: MONITORING.query!.monitoring! } };
  assert.equal(await send(doc), '');
  assert.deepEqual(submitted, [
    { part: 'provisioning', url: CALLBACK, ids: ['prov-1'] },
    { part: 'monitoring', url: CALLBACK, ids: ['mon-1'] },
  ]);
});

test('send refuses a query with no action, or with an action without a valid id, and starts nothing', async () => {
  const { send, submitted } = setup();
  await assert.rejects(async () => send({ query: {} }), InputError);
  await assert.rejects(async () => send({ query: { monitoring: { actions: [] } } }), InputError);
  await assert.rejects(async () => send({ response: { monitoring: { actions: [] } } }), /no query/);
  const badMonitoring: Rspec = { query: { provisioning: { actions: [provisioningAction] }, monitoring: { actions: [{ type: 'listActiveVMs', id: 'bad id', server: { virtualizationType: 'kvm', virtualMachines: [] } }] } } };
  await assert.rejects(async () => send(badMonitoring), /invalid action id/);
  await assert.rejects(async () => send(MONITORING, 'wrong-password'), AuthenticationError);
  assert.deepEqual(submitted, []);
});

test('list_vm_templates_detailed: metadata and sizes of the templates that validate; names only for list_vm_templates', async () => {
  const meta = (name: string) => ({ name, disk: `${name}.qcow2`, format: 'qcow2' as const, operatingSystemDistribution: 'Debian', minMemoryMiB: 96 });
  const api = agentApi({
    password: PASSWORD,
    provisioning: { submit: () => undefined },
    monitoring: { submit: () => undefined },
    templates: {
      list: async () => [meta('good'), meta('broken')],
      resolve: async (ref: string) => {
        if (ref === 'broken') throw new Error('image has a backing file');
        return { metadata: meta(ref), diskPath: `/x/${ref}.qcow2`, sizeBytes: 16121856, virtualSizeBytes: 18874368 };
      },
    },
    domains: { listAll: async () => [] },
    domainPrefix: 'kvmcrm-',
    host: { get: async () => { throw new Error('no host info here'); } },
  });
  assert.deepEqual(await api['list_vm_templates_detailed']!([PASSWORD], {} as never), [
    { name: 'good', format: 'qcow2', sizeBytes: 16121856, virtualSizeBytes: 18874368, operatingSystemDistribution: 'Debian', minMemoryMiB: 96 },
  ]);
  assert.deepEqual(await api['list_vm_templates']!([PASSWORD], {} as never), ['good', 'broken']);
  await assert.rejects(async () => api['list_vm_templates_detailed']!(['wrong'], {} as never), /Password mismatch/);
});
