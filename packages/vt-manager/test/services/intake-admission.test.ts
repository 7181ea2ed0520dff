/**
 * Decision 039 at the service level, on both engines: `send`'s actions are intake rows committed before it answers,
 * then admitted in the background (stored with the removal of their row, or refused with exactly one FAILED status);
 * a duplicate id is refused at admission; a row another admission took is skipped (the delete guard); admission
 * follows arrival order (a start sent after its create is admitted after it); rows left behind are picked up (at
 * start: this instance's; in a sweep: expired leases); the cap refuses a message whole with nothing stored.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ConflictError } from '@kvm-crm/shared';
import { validateActions } from '../../dist/domain/action-validation.js';
import { insertIntakeRows } from '../../dist/repositories/intake/insert-intake-rows.js';
import { IpamService } from '../../dist/services/ipam-service.js';
import { ProvisioningService } from '../../dist/services/provisioning-service.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import {
  addHost, AGENT_CB, CLIENT_CB, createAction, lifecycleAction, openWorld, query, SERVER_UUID, silentLogger, waitFor, type World,
} from '../../dist/testing/fakes.js';

const count = async (w: World, table: string) => Number(((await w.tx.dataSource.query(`SELECT COUNT(*) AS n FROM ${table}`)) as Array<{ n: number | string }>)[0]?.n);

/** A second provisioning service on the same database and fakes, as another manager instance `instanceId`. */
function instance(w: World, instanceId: string, extra: { maxQueuedHandOvers?: number } = {}) {
  return new ProvisioningService(w.tx, new IpamService(), w.agent, w.notifier, { agentCallbackUrl: AGENT_CB, logger: silentLogger(), instanceId, ...extra });
}

/** Stores intake rows as a `send` of `owner` would have, its lease running `leaseSeconds` (negative: expired). */
async function leftBehind(w: World, owner: string, leaseSeconds: number, ...actions: Array<ReturnType<typeof createAction> | ReturnType<typeof lifecycleAction>>) {
  const rows = validateActions(actions).map((action) => ({ action, callbackUrl: CLIENT_CB, principal: 'alice' }));
  return w.tx.run((em) => insertIntakeRows(em, rows, owner, leaseSeconds));
}

forEachEngine('send: the actions are durable when it answers, admitted and handed over after; the intake row is gone', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const a = createAction();
  const { accepted, handedOver } = await w.provisioning.accept(CLIENT_CB, query(a), { principal: 'alice' });
  assert.deepEqual(accepted, [a.id]);
  assert.equal((await count(w, 'action_intake')) + (await count(w, 'action')), 1, 'stored when send answers: as an intake row or already admitted');
  assert.equal((await handedOver).size, 0);
  assert.equal(await count(w, 'action_intake'), 0);
  assert.equal(await count(w, 'action'), 1);
  assert.equal(await count(w, 'virtual_machine'), 1);
  assert.equal(w.agent.sent.length, 1, 'handed to the agent');
  assert.deepEqual(w.notifier.of(a.id), [], 'no status yet: the agent reports');
});

forEachEngine('a refusal at admission: exactly one FAILED status, nothing stored, the intake row gone', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const start = lifecycleAction('start', randomUUID());
  const refused = await (await w.provisioning.accept(CLIENT_CB, query(start), { principal: 'alice' })).handedOver;
  assert.deepEqual([...refused], [[start.id, `no VM with uuid ${start.server?.virtualMachines[0]?.uuid}`]]);
  assert.deepEqual(w.notifier.of(start.id).map((s) => [s.status, s.description]), [['FAILED', refused.get(start.id)]]);
  assert.equal(await count(w, 'action_intake'), 0);
  assert.equal(await count(w, 'action'), 0);
  assert.equal(w.agent.sent.length, 0);
});

forEachEngine('a duplicate action id is refused at admission with today\'s text; the first is stored', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const first = createAction();
  const again = createAction({ actionId: first.id });
  const [s1, s2] = await Promise.all([w.provisioning.accept(CLIENT_CB, query(first)), w.provisioning.accept(CLIENT_CB, query(again))]);
  assert.equal((await s1.handedOver).size, 0);
  assert.deepEqual([...(await s2.handedOver)], [[first.id, `action id ${first.id} is already used`]]);
  assert.deepEqual(w.notifier.of(first.id).map((s) => s.status), ['FAILED'], 'one FAILED (for the second); the first waits for its agent');
  assert.equal(await count(w, 'virtual_machine'), 1);
  assert.equal(await count(w, 'action_intake'), 0);
});

forEachEngine('admission follows arrival order: a start sent right after its create is admitted after it', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const creates = Array.from({ length: 4 }, () => createAction());
  const sends = [];
  for (const c of creates) {
    sends.push(await w.provisioning.accept(CLIENT_CB, query(c)));
    sends.push(await w.provisioning.accept(CLIENT_CB, query(lifecycleAction('start', c.vmUuid))));
  }
  const refused = await Promise.all(sends.map((s) => s.handedOver));
  // The creates stay open (the fake agent reports nothing), so each start is refused as busy: which shows its
  // create was admitted before it (a start admitted first would read "no VM with uuid …").
  for (const [i, c] of creates.entries()) {
    assert.equal(refused[2 * i]!.size, 0, `create ${i} stored`);
    const start = sends[2 * i + 1]!.accepted[0]!;
    assert.match(refused[2 * i + 1]!.get(start) ?? '', new RegExp(`is busy with action ${c.id} \\(create\\)$`), `start ${i} admitted after its create`);
  }
  assert.equal(await count(w, 'action'), 4);
  assert.deepEqual(w.agent.sent.map((_, i) => w.agent.action(i).id), creates.map((c) => c.id), 'creates handed over in arrival order');
});

forEachEngine('the delete guard: a row two instances both claimed is admitted once, the other skips it', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const a = createAction();
  await leftBehind(w, 'mgr-dead', -1, a);
  const one = instance(w, 'mgr-one');
  const two = instance(w, 'mgr-two');
  // Hold mgr-one's admissions (its queue waits on its last admission; test-only reach into a private field) so that
  // mgr-two takes the same row meanwhile.
  let open!: () => void;
  (one.intake.durable as unknown as { lastAdmission: Promise<void> }).lastAdmission = new Promise<void>((r) => (open = r));
  assert.equal(await one.pickUpIntake(false), 1);
  // mgr-two's clock is past mgr-one's lease: it claims the row again while mgr-one still holds it in memory.
  assert.equal(await two.pickUpIntake(false, new Date(Date.now() + 3_600_000)), 1);
  await waitFor('mgr-two admitted and handed it over', () => w.agent.sent.length === 1);
  assert.equal(await count(w, 'action_intake'), 0);
  open();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(w.agent.sent.length, 1, 'sent once: mgr-one found its row gone and skipped it');
  assert.equal(await count(w, 'action'), 1);
  assert.deepEqual(w.notifier.of(a.id), [], 'no FAILED for the skipped copy (no "already used")');
});

forEachEngine('pick-up: at start the rows of this instance id (not a live lease of another), admitted in id order', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const c = createAction();
  const s = lifecycleAction('start', c.vmUuid);
  await leftBehind(w, 'mgr-a', 60, c, s);
  const other = instance(w, 'mgr-b');
  assert.equal(await other.pickUpIntake(false), 0, 'a live lease of another instance is left alone');
  assert.equal(await other.pickUpIntake(true), 0, 'also at its start');
  const restarted = instance(w, 'mgr-a');
  assert.equal(await restarted.pickUpIntake(true), 2);
  // The create stays open (the fake agent reports nothing): the start, admitted after it, is refused as busy.
  await waitFor('the start refused, the create handed over', () => w.notifier.of(s.id).length === 1 && w.agent.sent.length === 1);
  assert.deepEqual(w.notifier.of(s.id).map((x) => [x.status, x.description]), [['FAILED', `VM vm1 is busy with action ${c.id} (create)`]]);
  assert.deepEqual(w.agent.sent.map((_, i) => w.agent.action(i).id), [c.id], 'the create handed over');
  assert.equal(await count(w, 'action_intake'), 0);
});

forEachEngine('the cap: a message past maxQueuedHandOvers is refused whole ("manager busy"), nothing stored', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const p = instance(w, 'mgr-cap', { maxQueuedHandOvers: 2 });
  await assert.rejects(p.accept(CLIENT_CB, query(createAction(), createAction(), createAction())), (e: unknown) => e instanceof ConflictError && /^manager busy/.test(e.message));
  assert.equal(await count(w, 'action_intake'), 0);
  assert.equal(await count(w, 'action'), 0);
});

/** Holds `p`'s admissions until the returned function is called (test-only reach into a private field). */
function holdAdmissions(p: ProvisioningService): () => void {
  let open!: () => void;
  (p.intake.durable as unknown as { lastAdmission: Promise<void> }).lastAdmission = new Promise<void>((r) => (open = r));
  return open;
}

forEachEngine('sweeps do not queue again the rows a pick-up already queued: the cap counts each row once', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  await leftBehind(w, 'mgr-dead', -1, createAction(), createAction(), createAction());
  const p = instance(w, 'mgr-one', { maxQueuedHandOvers: 8 });
  const open = holdAdmissions(p); // an admission ahead is still running
  assert.deepEqual([await p.pickUpIntake(false), await p.pickUpIntake(false), await p.pickUpIntake(false)], [3, 0, 0]);
  assert.equal((p.intake as unknown as { lane: { heldActions: number } }).lane.heldActions, 3, 'each row counted once (test-only reach into a private field)');
  const more = await p.accept(CLIENT_CB, query(createAction(), createAction(), createAction(), createAction(), createAction()));
  open();
  assert.equal((await more.handedOver).size, 0);
  await waitFor('all 8 handed over', () => w.agent.sent.length === 8);
  assert.equal(await count(w, 'action_intake'), 0);
});

forEachEngine('order per VM across a crash: a start accepted after a restart waits for the dead manager\'s create', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const c = createAction();
  await leftBehind(w, 'mgr-dead', 2, c); // accepted by a manager that died; its lease runs 2 s more
  const restarted = instance(w, `mgr-${randomUUID()}`); // a new process: a new instance id
  assert.equal(await restarted.pickUpIntake(true), 0, 'the live lease of another id is left alone');
  const s = lifecycleAction('start', c.vmUuid);
  const first = await restarted.accept(CLIENT_CB, query(s), { principal: 'alice' });
  assert.equal((await first.handedOver).size, 0, 'not refused ("no VM"): it waits');
  assert.equal(await count(w, 'action_intake'), 2, 'both rows wait');
  assert.deepEqual(w.notifier.of(s.id), []);
  await new Promise((r) => setTimeout(r, 2100));
  assert.equal(await restarted.pickUpIntake(false), 2, 'once the lease ran out, both rows, in id order');
  // The create is admitted first; the start after it finds the VM (busy with its open create, as when both are sent
  // back to back), never "no VM".
  await waitFor('the start refused as busy, the create handed over', () => w.notifier.of(s.id).length === 1 && w.agent.sent.length === 1);
  assert.deepEqual(w.notifier.of(s.id).map((x) => [x.status, x.description]), [['FAILED', `VM vm1 is busy with action ${c.id} (create)`]]);
  assert.equal(await count(w, 'action_intake'), 0);
});

forEachEngine('the direct path (send_sync, vtctl) waits for the send admissions queued before it', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const c = createAction();
  const sent = await w.provisioning.accept(CLIENT_CB, query(c), { principal: 'alice' });
  const s = lifecycleAction('start', c.vmUuid);
  const direct = await w.provisioning.submit('', query(s), { allowNoCallback: true, principal: 'alice' });
  assert.equal((await sent.handedOver).size, 0);
  assert.equal((await direct.handedOver).get(s.id), `VM vm1 is busy with action ${c.id} (create)`, 'the create was admitted first');
});

forEachEngine('intake rows hold no OCF <users> password; the callback URL is sealed', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  const c = createAction();
  c.server!.virtualMachines[0]!.xenConfiguration!.users = [{ name: 'alice', password: 'S3cretPassw0rd' }];
  const p = instance(w, 'mgr-pw');
  const open = holdAdmissions(p);
  await p.accept(CLIENT_CB, query(c), { principal: 'alice' });
  const rows = (await w.tx.dataSource.query('SELECT action_json, callback_url FROM action_intake')) as Array<{ action_json: string; callback_url: string }>;
  open();
  assert.equal(rows.length, 1);
  assert.ok(!rows[0]!.action_json.includes('S3cretPassw0rd'), 'no password');
  assert.ok(rows[0]!.action_json.includes('"alice"'), 'the user name is kept');
  assert.ok(!rows[0]!.callback_url.includes('http'), 'callback URL sealed');
});

forEachEngine('a stopping manager gives its waiting rows back: another takes them over at once', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'host1', SERVER_UUID, 20);
  await leftBehind(w, 'mgr-stopping', 60, createAction(), createAction());
  const stopping = instance(w, 'mgr-stopping');
  const next = instance(w, 'mgr-next');
  assert.equal(await next.pickUpIntake(true), 0, 'the lease runs');
  await stopping.releaseIntake();
  assert.equal(await next.pickUpIntake(false), 2);
  await waitFor('both handed over', () => w.agent.sent.length === 2);
});
