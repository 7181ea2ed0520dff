/**
 * Unit tests of the thin XML-RPC method layer: `/xmlrpc/plugin` (pluginApi, docs/ocf-protocol.md §2.2) and
 * `/xmlrpc/agent` (agentApi, §5.1). Methods are called directly with positional params, with fakes for unit tests
 * of the ports (`testing/fakes.ts`) behind the real services on SQLite `:memory:`; no socket, so
 * `createXmlRpcHandler` (and `system.listMethods`) is out of scope here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachEngine, type Engine } from '../../dist/testing/test-databases.js';
import { InputError, libvirtEventResponse, parseMethodResponse, PreSerialisedResponse, serialiseRspec, type XmlRpcCallContext, type XmlRpcMethod } from '@kvm-crm/shared';
import { ActionRecord } from '../../dist/db/entities/action.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';
import {
  addHost,
  agentStatus,
  CLIENT_CB,
  createAction,
  openWorld,
  provisionVm,
  query,
  SERVER_UUID,
  silentLogger,
  sleep,
  waitFor,
  type World,
} from '../../dist/testing/fakes.js';
import { agentApi } from '../../dist/api/agent-api.js';
import { PLUGIN_API_HELP, pluginApi } from '../../dist/api/plugin-api.js';

const ctx: XmlRpcCallContext = { log: silentLogger(), principal: { name: 'expedient', roles: ['clearinghouse'] } };

async function setup(t: Parameters<typeof openWorld>[0], engine: Engine = 'sqlite') {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const plugin = pluginApi({ provisioning: w.provisioning, information: w.information, monitoring: w.monitoring, amVersion: '9.8.7', sendSyncTimeoutSeconds: 1 });
  // Agent methods run as the endpoint's authentication identifies a caller: the registered server host1.
  const agentCtx: XmlRpcCallContext = { log: silentLogger(), principal: { name: 'host1', roles: ['agent'] } };
  const agent = Object.fromEntries(Object.entries(agentApi({ provisioning: w.provisioning, monitoring: w.monitoring })).map(([k, m]) => [k, (p: unknown[]) => m(p, agentCtx)]));
  return { w, plugin, agent };
}

/** Calls `method` with `params` (sync throws included) and returns the result. */
async function call(methods: Record<string, XmlRpcMethod>, name: string, params: unknown[]): Promise<unknown> {
  const m = methods[name];
  assert.ok(m, `method ${name} exists`);
  const result = await m(params, ctx);
  if (!(result instanceof PreSerialisedResponse)) return result;
  // a pre-serialised answer (listResources, decision 031) is decoded as a client would
  const decoded = await parseMethodResponse(Buffer.concat(result.chunks).toString('utf8'));
  assert.ok('value' in decoded, 'a pre-serialised answer is not a fault');
  return decoded.value;
}

/** Asserts that the call fails with an InputError whose message matches. */
async function inputError(methods: Record<string, XmlRpcMethod>, name: string, params: unknown[], message: RegExp): Promise<void> {
  await assert.rejects(call(methods, name, params), (e: unknown) => {
    assert.ok(e instanceof InputError, `${name}(${JSON.stringify(params)}): ${String(e)}`);
    assert.match(e.message, message, `${name}(${JSON.stringify(params)})`);
    return true;
  });
}

const counts = async (w: World) => [await w.tx.dataSource.getRepository(ActionRecord).count(), await w.tx.dataSource.getRepository(VirtualMachine).count()];

forEachEngine('plugin: the method table matches the help table', async (t, engine) => {
  const { plugin } = await setup(t, engine);
  assert.deepEqual(Object.keys(plugin).sort(), Object.keys(PLUGIN_API_HELP).sort());
  assert.deepEqual(Object.keys(plugin).sort(), ['force_update_exp_vms', 'get_am_info', 'get_ocf_am_version', 'listResources', 'list_vm_templates', 'ping', 'send', 'send_sync']);
});

forEachEngine('plugin send: missing, extra or non-string params → InputError, nothing processed; valid → nil', async (t, engine) => {
  const { w, plugin } = await setup(t, engine);
  const xml = query(createAction());
  await inputError(plugin, 'send', [], /^missing parameter 1 \(callBackUrl\)$/);
  await inputError(plugin, 'send', [CLIENT_CB], /^missing parameter 2 \(xml\)$/);
  await inputError(plugin, 'send', [null, xml], /^missing parameter 1 \(callBackUrl\)$/);
  await inputError(plugin, 'send', [CLIENT_CB, xml, 'extra'], /^too many parameters: 3, at most 2$/);
  await inputError(plugin, 'send', [42, xml], /^parameter 1 \(callBackUrl\) must be a string$/);
  await inputError(plugin, 'send', [CLIENT_CB, { xml }], /^parameter 2 \(xml\) must be a string$/);
  await inputError(plugin, 'send', [CLIENT_CB, [xml]], /^parameter 2 \(xml\) must be a string$/);
  await inputError(plugin, 'send', ['None', xml], /URL/);
  await inputError(plugin, 'send', [CLIENT_CB, 'not xml'], /not well-formed XML/);
  await sleep(50);
  assert.equal(w.agent.sent.length, 0);
  assert.deepEqual(await counts(w), [0, 0]);

  assert.equal(await call(plugin, 'send', [CLIENT_CB, xml]), null);
  await waitFor('the create at the agent', () => w.agent.sent.length === 1);
  assert.equal(w.agent.action(0).type, 'create');
});

forEachEngine('plugin send_sync: param errors → InputError; a nil callBackUrl means "None" (no callback); waits for the result', async (t, engine) => {
  const { w, plugin } = await setup(t, engine);
  const a = createAction();
  await inputError(plugin, 'send_sync', [], /^missing parameter 2 \(xml\)$/);
  await inputError(plugin, 'send_sync', [CLIENT_CB], /^missing parameter 2 \(xml\)$/);
  await inputError(plugin, 'send_sync', [CLIENT_CB, query(a), 'x'], /^too many parameters: 3, at most 2$/);
  await inputError(plugin, 'send_sync', [true, query(a)], /^parameter 1 \(callBackUrl\) must be a string$/);
  await inputError(plugin, 'send_sync', [CLIENT_CB, 7], /^parameter 2 \(xml\) must be a string$/);
  assert.equal(w.agent.sent.length, 0);

  const answering = (async () => {
    await waitFor('the create at the agent', () => w.agent.sent.length === 1);
    await w.provisioning.handleAgentStatus(agentStatus(a.id, 'SUCCESS'));
  })();
  assert.equal(await call(plugin, 'send_sync', [null, query(a)]), true);
  await answering;
  assert.equal(w.notifier.sent.length, 0, 'no callback');

  // The configured timeout (1 s here) applies.
  assert.equal(await call(plugin, 'send_sync', ['None', query(createAction())]), 'TIMEOUT');
});

forEachEngine('plugin listResources: param errors → InputError; omitted/nil filters are "None"; the hash round-trips', async (t, engine) => {
  const { w, plugin } = await setup(t, engine);
  await provisionVm(w, { name: 'vm-1' }, { principal: 'expedient' });
  await inputError(plugin, 'listResources', [], /^missing parameter 1 \(remoteHashValue\)$/);
  await inputError(plugin, 'listResources', ['0', 'None', 'None', 'x'], /^too many parameters: 4, at most 3$/);
  await inputError(plugin, 'listResources', [0], /^parameter 1 \(remoteHashValue\) must be a string$/);
  await inputError(plugin, 'listResources', ['0', 5], /^parameter 2 \(projectUUID\) must be a string$/);
  await inputError(plugin, 'listResources', ['0', 'None', ['s']], /^parameter 3 \(sliceUUID\) must be a string$/);

  const expected = await w.information.listResources('0');
  assert.match(expected[1], /<name>vm-1<\/name>/);
  assert.deepEqual(await call(plugin, 'listResources', ['0']), expected);
  assert.deepEqual(await call(plugin, 'listResources', ['0', null, null]), expected);
  assert.deepEqual(await call(plugin, 'listResources', ['0', 'None', 'None']), expected);
  assert.deepEqual(await call(plugin, 'listResources', [expected[0]]), [expected[0], '']);
  const filtered = (await call(plugin, 'listResources', ['0', 'ffffffff-0000-4000-8000-000000000000'])) as [string, string];
  assert.notEqual(filtered[0], expected[0]);
  assert.doesNotMatch(filtered[1], /vm-1/);
});

forEachEngine('plugin list_vm_templates and force_update_exp_vms: param errors → InputError; valid calls reach the service', async (t, engine) => {
  const { w, plugin } = await setup(t, engine);
  await inputError(plugin, 'list_vm_templates', [], /^missing parameter 1 \(server_uuid\)$/);
  await inputError(plugin, 'list_vm_templates', [SERVER_UUID, 'x'], /^too many parameters: 2, at most 1$/);
  await inputError(plugin, 'list_vm_templates', [1], /^parameter 1 \(server_uuid\) must be a string$/);
  await inputError(plugin, 'list_vm_templates', ['host1'], /server_uuid must be a UUID/);
  w.agent.templates = [{ name: 'debian12', format: 'qcow2' }];
  assert.deepEqual(await call(plugin, 'list_vm_templates', [SERVER_UUID]), [{ name: 'debian12', format: 'qcow2' }]);

  await inputError(plugin, 'force_update_exp_vms', ['None', 'None', 'x'], /^too many parameters: 3, at most 2$/);
  await inputError(plugin, 'force_update_exp_vms', [1], /^parameter 1 \(client_id\) must be a string$/);
  await inputError(plugin, 'force_update_exp_vms', ['None', false], /^parameter 2 \(vm_id\) must be a string$/);
  await inputError(plugin, 'force_update_exp_vms', ['host1'], /client_id must be a server UUID/);
  assert.deepEqual(w.agent.forceListCalls, []);
  w.agent.activeVms.set('host1', { 'abcdef00-0000-4000-8000-000000000000': 'x' });
  assert.deepEqual(await call(plugin, 'force_update_exp_vms', []), {}, "both omitted: every server; a VM outside the caller's projects is not reported");
  assert.deepEqual(w.agent.forceListCalls, [{ server: 'host1', vmUuid: 'None' }]);
});

forEachEngine('plugin ping, get_am_info, get_ocf_am_version', async (t, engine) => {
  const { plugin } = await setup(t, engine);
  assert.equal(await call(plugin, 'ping', ['hello']), 'hello');
  assert.deepEqual(await call(plugin, 'ping', [{ a: 1 }]), { a: 1 });
  assert.equal(await call(plugin, 'ping', []), '');
  assert.deepEqual(await call(plugin, 'get_am_info', ['']), { version: '9.8.7' });
  assert.equal(await call(plugin, 'get_ocf_am_version', []), '9.8.7');
});

forEachEngine('agent sendAsync: param errors and bad XML → InputError; a provisioning status and a libvirt event are applied → nil', async (t, engine) => {
  const { w, agent } = await setup(t, engine);
  await inputError(agent, 'sendAsync', [], /^missing parameter 1 \(xml\)$/);
  await inputError(agent, 'sendAsync', ['<rspec/>', 'x'], /^too many parameters: 2, at most 1$/);
  await inputError(agent, 'sendAsync', [42], /^parameter 1 \(xml\) must be a string$/);
  await inputError(agent, 'sendAsync', ['this is not xml'], /not well-formed XML/);

  const a = createAction({ name: 'web01' });
  await w.provisioning.submit(CLIENT_CB, query(a));
  await waitFor('the create at the agent', () => w.agent.sent.length === 1);
  assert.equal(await call(agent, 'sendAsync', [agentStatus(a.id, 'SUCCESS')]), null);
  const vms = w.tx.dataSource.getRepository(VirtualMachine);
  assert.equal((await vms.findOneBy({ uuid: a.vmUuid }))?.state, 'created (stopped)');

  w.notifier.sent.length = 0;
  const event = serialiseRspec(libvirtEventResponse({ name: 'web01', uuid: a.vmUuid, status: 'Started' }), { dialect: 'agent' });
  assert.match(event, /xmlns=/);
  assert.equal(await call(agent, 'sendAsync', [event]), null);
  assert.equal((await vms.findOneBy({ uuid: a.vmUuid }))?.state, 'running');
  assert.deepEqual(w.notifier.sent, [{ url: CLIENT_CB, xml: event.replace(/ xmlns="[^"]*"/, '') }], 'forwarded in the manager dialect');
});
