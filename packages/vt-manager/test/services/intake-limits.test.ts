/**
 * Issue 9 item 8 at the service level: actions per message capped (the whole message refused, nothing stored);
 * the refusals of one message coalesced into one outbox row; a principal's callback backlog capped; the outbox
 * served fairly across callback URLs (one URL's backlog of 1,001 rows does not starve another URL).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ConflictError, InputError, parseRspec } from '@kvm-crm/shared';
import { DbClientNotifier } from '../../dist/adapters/db-client-notifier.js';
import { IpamService } from '../../dist/services/ipam-service.js';
import { ProvisioningService } from '../../dist/services/provisioning-service.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import {
  addHost, AGENT_CB, CLIENT_CB, createAction, FakeAgentGateway, lifecycleAction, openWorld, query, SERVER_UUID, silentLogger, sleep, type World,
} from '../../dist/testing/fakes.js';

const count = async (w: World, table: string) => Number(((await w.tx.dataSource.query(`SELECT COUNT(*) AS n FROM ${table}`)) as Array<{ n: number | string }>)[0]?.n);

/** The action id of a status document. */
const idOf = (xml: string) => parseRspec(xml).response?.provisioning?.actions[0]?.id;

/** A provisioning service whose statuses go through a DbClientNotifier (the outbox) that never wakes by itself. */
function withOutbox(w: World, deliver: (url: string, xml: string, principal: string | null) => Promise<void>, options: { maxPendingStatusesPerPrincipal?: number } = {}) {
  const outbox = new (class extends DbClientNotifier {
    override wake(): void {}
  })(w.tx, deliver, { logger: silentLogger(), retryDelaySeconds: 1 });
  const provisioning = new ProvisioningService(w.tx, new IpamService(), new FakeAgentGateway(), outbox, { agentCallbackUrl: AGENT_CB, logger: silentLogger(), ...options });
  return { outbox, provisioning };
}

forEachEngine('a message with 65 actions is refused whole with one fault; nothing is stored or sent', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const actions = Array.from({ length: 65 }, () => createAction());
  await assert.rejects(
    w.provisioning.submit(CLIENT_CB, query(...actions)),
    (e: unknown) => e instanceof InputError && e.message === 'the message holds 65 actions; at most 64 per message',
  );
  assert.equal(await count(w, 'action'), 0);
  assert.equal(await count(w, 'virtual_machine'), 0);
  assert.equal(w.notifier.sent.length, 0);
  assert.equal(w.agent.sent.length, 0);
});

forEachEngine('the refusals of one message are one outbox row, delivered in order as one attempt', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const delivered: string[] = [];
  const { outbox, provisioning } = withOutbox(w, async (_url, xml) => void delivered.push(idOf(xml) ?? '?'));
  const refused = Array.from({ length: 3 }, () => lifecycleAction('start', randomUUID()));
  await (await provisioning.submit(CLIENT_CB, query(...refused), { principal: 'alice' })).handedOver;
  assert.equal(await count(w, 'notification'), 1, 'one row for the three refusals');
  assert.equal(await outbox.deliverDue(), 1, 'one delivery');
  assert.deepEqual(delivered, refused.map((a) => a.id), 'each status its own document, in message order');
  assert.equal(await count(w, 'notification'), 0);
});

forEachEngine('a coalesced row that fails half-way keeps only its undelivered documents', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const delivered: string[] = [];
  let failAt = 1;
  const { outbox, provisioning } = withOutbox(w, async (_url, xml) => {
    if (delivered.length === failAt) throw new Error('callback down');
    delivered.push(idOf(xml) ?? '?');
  });
  const refused = Array.from({ length: 3 }, () => lifecycleAction('start', randomUUID()));
  await (await provisioning.submit(CLIENT_CB, query(...refused), { principal: 'alice' })).handedOver;
  assert.equal(await outbox.deliverDue(), 0);
  failAt = -1;
  await sleep(2100); // the retry is due (MySQL DATETIME keeps whole seconds)
  assert.equal(await outbox.deliverDue(), 1);
  assert.deepEqual(delivered, refused.map((a) => a.id), 'each delivered once, in order');
});

forEachEngine("a principal whose callback backlog is full gets a fault for new sends; others are not affected", async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const { provisioning } = withOutbox(w, async () => {
    throw new Error('callback down');
  }, { maxPendingStatusesPerPrincipal: 3 });
  await (await provisioning.submit(CLIENT_CB, query(...Array.from({ length: 3 }, () => lifecycleAction('start', randomUUID()))), { principal: 'alice' })).handedOver;
  const before = await count(w, 'notification');
  await assert.rejects(
    provisioning.submit(CLIENT_CB, query(createAction()), { principal: 'alice' }),
    (e: unknown) => e instanceof ConflictError && e.message === 'callback backlog full: 3 statuses for your actions are not yet accepted by your callback (at most 3); fix the callback, then send again',
  );
  assert.equal(await count(w, 'notification'), before, 'nothing stored');
  assert.equal(await count(w, 'action'), 0);
  const bob = createAction({ projectId: randomUUID() });
  await (await provisioning.submit(CLIENT_CB, query(bob), { principal: 'bob' })).handedOver;
  assert.equal(await count(w, 'action'), 1, "bob's create is stored");
});

forEachEngine("one callback's backlog of 1,001 rows does not starve another callback's status", async (t, engine) => {
  const w = await openWorld(t, { engine });
  const flooded = 'https://flood:pw@flood.example/cb';
  const delivered: string[] = [];
  const outbox = new DbClientNotifier(w.tx, async (url, xml) => {
    if (url === flooded) throw new Error('flooded callback down');
    delivered.push(idOf(xml) ?? '?');
  }, { logger: silentLogger() });
  const doc = (id: string) => `<?xml version="1.0"?><rspec><response><provisioning><action id="${id}" type="start"><status>FAILED</status></action></provisioning></response></rspec>`;
  await w.tx.run(async (em) => {
    for (let i = 0; i < 1001; i++) await outbox.enqueue(em, flooded, doc(`flood-${i}`));
  });
  await w.tx.run((em) => outbox.enqueue(em, CLIENT_CB, doc('quiet-1')));
  await outbox.deliverDue();
  assert.deepEqual(delivered, ['quiet-1'], 'the other callback is served in the same pass');
});

forEachEngine('each delivery is checked under the principal recorded on its outbox row (its own callback policy)', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const principals: Array<string | null> = [];
  const { outbox, provisioning } = withOutbox(w, async (_url, _xml, principal) => void principals.push(principal));
  await (await provisioning.submit(CLIENT_CB, query(lifecycleAction('start', randomUUID())), { principal: 'alice' })).handedOver;
  assert.equal(await outbox.deliverDue(), 1);
  assert.deepEqual(principals, ['alice']);
});
