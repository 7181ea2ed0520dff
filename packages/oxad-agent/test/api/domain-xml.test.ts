/**
 * The agent's `get_domain_xml(password, vmUuid)` extension (decision 024) with a fake virsh: the XML of domain
 * `<prefix><uuid>` (uuid lower-cased); a wrong password and a bad uuid are refused before virsh is asked; the
 * method is not offered without a dumpxml dependency.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthenticationError, InputError } from '@kvm-crm/shared';
import { agentApi } from '../../dist/api/agent-api.js';

const VM = 'c0ffee00-1234-4abc-8def-0123456789ab';
const base = {
  password: 'pw', provisioning: { submit: () => undefined }, monitoring: { submit: () => undefined },
  templates: { list: async () => [], resolve: async () => { throw new Error('none'); } }, domains: { listAll: async () => [] }, domainPrefix: 'kc-',
  host: { get: async () => { throw new Error('none'); } },
};

test('get_domain_xml answers the domain XML of <prefix><uuid>; refuses a wrong password or a bad uuid before virsh', async () => {
  const asked: string[] = [];
  const api = agentApi({ ...base, domainXml: { dumpXml: async (name: string) => (asked.push(name), `<domain type='kvm'><name>${name}</name></domain>`) } });
  const call = (params: unknown[]) => Promise.resolve(api['get_domain_xml']!(params, {} as never));
  assert.equal(await call(['pw', VM.toUpperCase()]), `<domain type='kvm'><name>kc-${VM}</name></domain>`);
  await assert.rejects(call(['nope', VM]), AuthenticationError);
  await assert.rejects(call(['pw', '../../etc/passwd']), InputError);
  assert.deepEqual(asked, [`kc-${VM}`]);
  assert.equal(agentApi(base)['get_domain_xml'], undefined, 'not offered without virsh');
});
