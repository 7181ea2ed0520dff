/**
 * Fakes for unit tests (agent gateway, client notifier; the real engines: every test runs on SQLite `:memory:` and
 * on a fresh MariaDB/MySQL database, see testing/test-databases.ts): project ownership between clearinghouses,
 * DB-stored principals, and secrets encrypted at rest.
 */
import assert from 'node:assert/strict';
import { hashPassword, NotFoundError, parseRspec } from '@kvm-crm/shared';
import { forEachEngine, type Engine } from '../../dist/testing/test-databases.js';
import { TransactionRunner } from '../../dist/db/transaction-runner.js';
import { PrincipalService } from '../../dist/services/principal-service.js';
import { BasicAuthenticator } from '../../dist/services/basic-authenticator.js';
import {
  addHost, agentStatus, CLIENT_CB, createAction, lifecycleAction, openWorld, provisionVm, query, SERVER_UUID, waitFor, type World,
} from '../../dist/testing/fakes.js';

async function world(t: Parameters<typeof openWorld>[0], engine: Engine): Promise<World> {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  return w;
}

function lastStatus(w: World, actionId: string) {
  for (const { xml } of [...w.notifier.sent].reverse()) {
    const a = parseRspec(xml).response?.provisioning?.actions[0];
    if (a?.id === actionId) return a;
  }
  return undefined;
}

forEachEngine('a clearinghouse cannot act on, see or query the VMs of a project another one created', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'alice-vm' }, { principal: 'alice' });
  const before = (await w.tx.dataSource.query('SELECT uuid, state FROM virtual_machine')) as unknown[];

  const stop = lifecycleAction('hardStop', vm.vmUuid);
  await w.provisioning.submit(CLIENT_CB, query(stop), { principal: 'mallory' });
  const refused = await waitFor('the FAILED', () => lastStatus(w, stop.id));
  assert.equal(refused.status, 'FAILED');
  // Issue 9 item 12: another clearinghouse's VM reads exactly as an unknown one.
  assert.equal(refused.description, `no VM with uuid ${vm.vmUuid}`);
  const intruder = createAction({ name: 'intruder' });
  await w.provisioning.submit(CLIENT_CB, query(intruder), { principal: 'mallory' });
  assert.match((await waitFor('the FAILED', () => lastStatus(w, intruder.id))).description ?? '', /belongs to another clearinghouse/);
  assert.deepEqual(await w.tx.dataSource.query('SELECT uuid, state FROM virtual_machine'), before, 'nothing changed');
  assert.equal(w.agent.sent.length, 1, 'only alice\'s create reached the agent');

  const [, malloryView] = await w.information.listResources('0', 'None', 'None', 'mallory');
  assert.doesNotMatch(malloryView, /alice-vm/);
  const [, aliceView] = await w.information.listResources('0', 'None', 'None', 'alice');
  assert.match(aliceView, /alice-vm/);
  await assert.rejects(w.monitoring.forceUpdate('None', vm.vmUuid, 'mallory'), NotFoundError);
  w.agent.activeVms.set('host1', { [vm.vmUuid]: 'whatever' });
  assert.deepEqual(await w.monitoring.forceUpdate('None', 'None', 'mallory'), {});
  assert.deepEqual(await w.monitoring.forceUpdate('None', 'None', 'alice'), { [vm.vmUuid]: 'alice-vm' });

  const start = lifecycleAction('start', vm.vmUuid);
  await w.provisioning.submit(CLIENT_CB, query(start), { principal: 'alice' });
  await waitFor('the start at the agent', () => w.agent.sent.length === 2);
  await w.provisioning.handleAgentStatus(agentStatus(start.id, 'SUCCESS'));
  assert.equal((await waitFor('SUCCESS', () => lastStatus(w, start.id)?.status === 'SUCCESS' && lastStatus(w, start.id)))?.status, 'SUCCESS');
});

forEachEngine('principals: stored hashed, validated, the database overrides the config, removal works', async (t, engine) => {
  const w = await openWorld(t, { engine });
  const svc = new PrincipalService(w.tx as TransactionRunner, [{ name: 'boot', passwordScrypt: hashPassword('bootstrap-password'), roles: ['admin'] }]);
  await assert.rejects(svc.add({ name: 'ch', password: 'short', roles: ['clearinghouse'] }), /at least 12 characters/);
  await assert.rejects(svc.add({ name: 'ch', password: 'long-enough-pw', roles: ['root'] }), /unknown role "root"/);
  await assert.rejects(svc.add({ name: 'ch', password: 'long-enough-pw', roles: [] }), /at least one role/);
  await assert.rejects(svc.add({ name: 'a:b', password: 'long-enough-pw', roles: ['admin'] }), /invalid user name/);
  assert.deepEqual(await svc.add({ name: 'ch', password: 'long-enough-pw', roles: ['clearinghouse'] }), { name: 'ch', roles: ['clearinghouse'] });
  await assert.rejects(svc.add({ name: 'ch', password: 'long-enough-pw', roles: ['admin'] }), /exists/);
  await svc.add({ name: 'cert-only', roles: ['clearinghouse'] });
  const rows = (await w.tx.dataSource.query('SELECT name, passwordScrypt FROM principal ORDER BY name')) as Array<{ name: string; passwordScrypt: string | null }>;
  assert.match(rows.find((r) => r.name === 'ch')!.passwordScrypt!, /^scrypt\$/);
  assert.ok(!JSON.stringify(rows).includes('long-enough-pw'), 'no clear password in the database');
  assert.deepEqual((await svc.list()).map((p) => [p.name, p.login, p.source]), [['cert-only', 'certificate', 'database'], ['ch', 'password', 'database'], ['boot', 'password', 'config']]);

  const auth = new BasicAuthenticator((n) => svc.find(n));
  assert.ok(await auth.authenticate('ch', 'long-enough-pw', 'clearinghouse'));
  assert.equal(await auth.authenticate('ch', 'long-enough-pw', 'admin'), undefined);
  assert.ok(await auth.authenticate('boot', 'bootstrap-password', 'admin'), 'config bootstrap principal');
  assert.equal(await auth.authenticate('cert-only', '', 'clearinghouse'), undefined, 'no password login for certificate-only principals');
  await svc.remove('ch');
  auth.forget('ch');
  assert.equal(await auth.authenticate('ch', 'long-enough-pw', 'clearinghouse'), undefined);
  await assert.rejects(svc.remove('ch'), /no user "ch"/);
});

forEachEngine('callback URLs and agent passwords are encrypted at rest and read back in clear', async (t, engine) => {
  const w = await world(t, engine);
  const vm = await provisionVm(w, { name: 'sealed' }, { principal: 'alice' });
  const [vmRow] = (await w.tx.dataSource.query('SELECT callbackUrl FROM virtual_machine')) as Array<{ callbackUrl: string }>;
  const [actionRow] = (await w.tx.dataSource.query('SELECT callbackUrl FROM action')) as Array<{ callbackUrl: string }>;
  const [serverRow] = (await w.tx.dataSource.query('SELECT agentPassword FROM server')) as Array<{ agentPassword: string }>;
  for (const raw of [vmRow!.callbackUrl, actionRow!.callbackUrl, serverRow!.agentPassword]) {
    assert.match(raw, /^enc:v1:/);
    assert.doesNotMatch(raw, /expedient:pw|pw@/);
  }
  const stop = lifecycleAction('hardStop', vm.vmUuid);
  await w.provisioning.submit(CLIENT_CB, query(stop), { principal: 'alice' });
  await waitFor('the stop at the agent', () => w.agent.sent.length === 2);
  await w.provisioning.handleAgentStatus(agentStatus(stop.id, 'SUCCESS'));
  await waitFor('the forwarded status', () => w.notifier.sent.some((s) => s.url === CLIENT_CB && s.xml.includes(stop.id)));
  assert.ok(w.agent.sent.every((s) => s.server.agentPassword !== serverRow!.agentPassword), 'the gateway gets the clear password');
});

forEachEngine('an agent may report only on its own server: statuses and events about another host\'s VM change nothing', async (t, engine) => {
  const w = await world(t, engine);
  await addHost(w, 'host2', '5e4e0000-0000-4000-8000-000000000002', 40);
  const vm = await provisionVm(w, { name: 'on-host1' });
  const stop = lifecycleAction('hardStop', vm.vmUuid);
  await w.provisioning.submit(CLIENT_CB, query(stop));
  await waitFor('the stop at the agent', () => w.agent.sent.length === 2);
  const before = await w.tx.dataSource.query('SELECT a.uuid, a.status, v.state FROM action a JOIN virtual_machine v ON v.uuid = a.vmUuid ORDER BY a.id');

  const doc = parseRspec(agentStatus(stop.id, 'SUCCESS'));
  await assert.rejects(w.provisioning.handleProvisioningDocument(doc, { name: 'host2' }), /action .* is not about a VM of server host2/);
  const { libvirtEventResponse, serialiseRspec } = await import('@kvm-crm/shared');
  const event = parseRspec(serialiseRspec(libvirtEventResponse({ name: 'on-host1', uuid: vm.vmUuid, status: 'Stopped' }), { dialect: 'agent' }));
  await assert.rejects(w.monitoring.handleMonitoringDocument(event, () => '', { name: 'host2' }), /not on server host2/);
  assert.deepEqual(await w.tx.dataSource.query('SELECT a.uuid, a.status, v.state FROM action a JOIN virtual_machine v ON v.uuid = a.vmUuid ORDER BY a.id'), before);

  await w.provisioning.handleProvisioningDocument(doc, { name: 'host1' });
  assert.equal((await w.tx.dataSource.query('SELECT status FROM action WHERE uuid = ?', [stop.id]))[0].status, 'SUCCESS', 'its own server may');
});
