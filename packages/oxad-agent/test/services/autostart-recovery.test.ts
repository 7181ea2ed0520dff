/**
 * Unit tests of the AutostartRecovery (decision record 021): which shut-off domains marked autostart the agent
 * starts at its start, and the Started events it queues. libvirt is an in-memory fake for unit tests; queued
 * documents are recorded and parsed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, parseRspec } from '@kvm-crm/shared';
import { AutostartRecovery, type RecoveryCandidate } from '../../dist/services/autostart-recovery.js';
import type { AutostartDomains } from '../../dist/services/ports.js';

const logger = createLogger({ component: 'test', silent: true });
const PREFIX = 'kvmcrm-h1-';
const EVENTS = 'https://u:secret@manager:8445/xmlrpc/agent';
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** libvirt in memory for unit tests: domain → state, reason, autostart; records starts. */
class FakeDomains implements AutostartDomains {
  readonly d = new Map<string, { state: string; reason: string; autostart: boolean; startFails?: string }>();
  readonly started: string[] = [];
  add(name: string, state: string, reason: string, autostart: boolean, startFails?: string) {
    this.d.set(name, { state, reason, autostart, ...(startFails ? { startFails } : {}) });
  }
  async domStateReason(name: string) {
    const x = this.d.get(name);
    return x && { state: x.state, reason: x.reason };
  }
  async autostart(name: string) {
    const x = this.d.get(name);
    if (!x) throw new Error(`no domain ${name}`);
    return x.autostart;
  }
  async setAutostart(name: string, enabled: boolean) {
    this.d.get(name)!.autostart = enabled;
  }
  async start(name: string) {
    const x = this.d.get(name)!;
    if (x.startFails) throw new Error(x.startFails);
    x.state = 'running';
    x.reason = 'booted';
    this.started.push(name);
  }
}

function candidates(fake: FakeDomains, names: Record<string, string>): RecoveryCandidate[] {
  return [...fake.d].map(([name, x]) => ({ name, uuid: name.slice(-36), state: x.state, metadata: names[name] ? { vmName: names[name] } : {} }));
}

test('starts our shut-off autostart domains unless the guest shut itself down or migrated; queues Started for each', async () => {
  const fake = new FakeDomains();
  const n = (i: number) => `${PREFIX}${uuid(i)}`;
  fake.add(n(1), 'shut off', 'unknown', true); // after a libvirtd restart / host boot
  fake.add(n(2), 'shut off', 'destroyed', true); // power cut
  fake.add(n(3), 'shut off', 'shutdown', true); // the guest powered off while the agent was down
  fake.add(n(4), 'shut off', 'destroyed', false); // stopped through kvm-crm: mark cleared
  fake.add(n(5), 'running', 'booted', true); // libvirtd's own autostart already started it
  fake.add(n(6), 'shut off', 'migrated', true);
  fake.add(`kvmcrm-h2-${uuid(7)}`, 'shut off', 'unknown', true); // another agent's domain
  const queued: Array<{ url: string; name?: string; uuid?: string; status?: string; label?: string }> = [];
  const recovery = new AutostartRecovery(fake, async (url, xml, label) => {
    const vm = parseRspec(xml).response!.monitoring!.actions[0]!.server!.virtualMachines[0]!;
    queued.push({ url, name: vm.name, uuid: vm.uuid, status: vm.status, label });
  }, { domainPrefix: PREFIX, eventsUrl: EVENTS, logger });

  const out = await recovery.run(candidates(fake, { [n(1)]: 'web01' }));

  assert.deepEqual(fake.started, [n(1), n(2)]);
  assert.deepEqual(out.map((o) => [o.domain, o.reason, o.outcome]), [
    [n(1), 'unknown', 'started'], [n(2), 'destroyed', 'started'], [n(3), 'shutdown', 'left'], [n(6), 'migrated', 'left'],
  ]);
  assert.equal(fake.d.get(`kvmcrm-h2-${uuid(7)}`)!.state, 'shut off', "another agent's domain is not touched");
  assert.equal(fake.d.get(n(3))!.autostart, true, 'the mark of a left domain is not changed at start');
  assert.deepEqual(queued.map((q) => [q.url, q.name, q.uuid, q.status]), [
    [EVENTS, 'web01', uuid(1), 'Started'],
    [EVENTS, n(2), uuid(2), 'Started'], // no metadata: named by its domain, as the event forwarder does
  ]);
  assert.ok(out.every((o) => o.outcome !== 'started' || typeof o.startMs === 'number'));
});

test('a domain that fails to start is reported failed, the others still start; no event without an events URL', async () => {
  const fake = new FakeDomains();
  fake.add(`${PREFIX}${uuid(1)}`, 'shut off', 'unknown', true, 'error: Cannot access storage file');
  fake.add(`${PREFIX}${uuid(2)}`, 'shut off', 'unknown', true);
  const queued: string[] = [];
  const out = await new AutostartRecovery(fake, async (_u, xml) => void queued.push(xml), { domainPrefix: PREFIX, logger }).run(candidates(fake, {}));
  assert.deepEqual(out.map((o) => o.outcome), ['failed', 'started']);
  assert.match(out[0]!.error ?? '', /Cannot access storage file/);
  assert.equal(queued.length, 0);
});

test('a domain gone or started by someone else between the reconciliation and the check is left alone', async () => {
  const fake = new FakeDomains();
  fake.add(`${PREFIX}${uuid(1)}`, 'shut off', 'unknown', true);
  const list = candidates(fake, {});
  fake.d.get(`${PREFIX}${uuid(1)}`)!.state = 'running';
  assert.deepEqual(await new AutostartRecovery(fake, async () => undefined, { domainPrefix: PREFIX, logger }).run(list), []);
  assert.deepEqual(fake.started, []);
});

test('recovery runs under the VM lock: a stop accepted first clears the mark and the domain is not started', async () => {
  const { KeyedMutex } = await import('../../dist/services/concurrency.js');
  const fake = new FakeDomains();
  const name = `${PREFIX}${uuid(1)}`;
  fake.add(name, 'shut off', 'unknown', true);
  const locks = new KeyedMutex();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const stop = locks.run(uuid(1), async () => {
    await gate;
    await fake.setAutostart(name, false); // what the provisioning's stop does first
  });
  const keys: string[] = [];
  const run = new AutostartRecovery(fake, async () => undefined, {
    domainPrefix: PREFIX, logger, lock: { exclusive: (k, task) => (keys.push(k), locks.run(k, task)) },
  }).run(candidates(fake, {}));
  release();
  await stop;
  assert.deepEqual(await run, []);
  assert.deepEqual(fake.started, []);
  assert.deepEqual(keys, [uuid(1)]);
});
