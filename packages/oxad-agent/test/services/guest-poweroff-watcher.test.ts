/**
 * Unit tests of the GuestPoweroffWatcher (decision record 021): the autostart mark is cleared when a guest of ours
 * powers itself off, and only then. libvirt is an in-memory fake for unit tests; the VM lock is a real KeyedMutex.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@kvm-crm/shared';
import { KeyedMutex } from '../../dist/services/concurrency.js';
import { GuestPoweroffWatcher } from '../../dist/services/guest-poweroff-watcher.js';

const logger = createLogger({ component: 'test', silent: true });
const PREFIX = 'kvmcrm-h1-';
const UUID = '00000000-0000-4000-8000-000000000001';
const NAME = `${PREFIX}${UUID}`;

/** libvirt in memory for unit tests: one state, reason and mark per domain; records mark changes. */
class FakeDomains {
  readonly d = new Map<string, { state: string; reason: string; autostart: boolean }>();
  readonly calls: string[] = [];
  async domStateReason(name: string) {
    const x = this.d.get(name);
    return x && { state: x.state, reason: x.reason };
  }
  async autostart(name: string) {
    return this.d.get(name)!.autostart;
  }
  async setAutostart(name: string, enabled: boolean) {
    this.calls.push(`autostart ${enabled} ${name}`);
    this.d.get(name)!.autostart = enabled;
  }
}

function setup() {
  const fake = new FakeDomains();
  const locks = new KeyedMutex();
  const lockKeys: string[] = [];
  const lock = { exclusive: <T>(vmUuid: string, task: () => Promise<T>) => { lockKeys.push(vmUuid); return locks.run(vmUuid, task); } };
  return { fake, locks, lockKeys, watcher: new GuestPoweroffWatcher(fake, lock, { domainPrefix: PREFIX, logger }) };
}
const stopped = (domain: string, detail = 'Shutdown') => ({ domain, event: 'Stopped', detail });

test('a guest that powered itself off (Stopped Shutdown, still marked) loses its autostart mark, under the VM lock', async () => {
  const { fake, watcher, lockKeys } = setup();
  fake.d.set(NAME, { state: 'shut off', reason: 'shutdown', autostart: true });
  assert.equal(await watcher.handle(stopped(NAME)), 'cleared');
  assert.equal(fake.d.get(NAME)!.autostart, false);
  assert.deepEqual(fake.calls, [`autostart false ${NAME}`]);
  assert.deepEqual(lockKeys, [UUID]);
});

test('a stop through kvm-crm (mark already cleared) changes nothing', async () => {
  const { fake, watcher } = setup();
  fake.d.set(NAME, { state: 'shut off', reason: 'shutdown', autostart: false });
  assert.equal(await watcher.handle(stopped(NAME)), 'not-marked');
  assert.deepEqual(fake.calls, []);
});

test('other events, other details, other agents\' domains and non-uuid names are ignored', async () => {
  const { fake, watcher } = setup();
  fake.d.set(NAME, { state: 'shut off', reason: 'destroyed', autostart: true });
  assert.equal(watcher.handle(stopped(NAME, 'Destroyed')), undefined, 'a power cut (destroy) keeps the mark');
  assert.equal(watcher.handle({ domain: NAME, event: 'Shutdown', detail: 'Finished after guest request' }), undefined);
  assert.equal(watcher.handle({ domain: NAME, event: 'Started', detail: 'Booted' }), undefined);
  assert.equal(watcher.handle(stopped(`kvmcrm-h2-${UUID}`)), undefined);
  assert.equal(watcher.handle(stopped(`${PREFIX}not-a-uuid`)), undefined);
  await watcher.idle();
  assert.deepEqual(fake.calls, []);
});

test('a start that ran before the check (under the VM lock) keeps its mark', async () => {
  const { fake, watcher, locks } = setup();
  fake.d.set(NAME, { state: 'shut off', reason: 'shutdown', autostart: false });
  // A kvm-crm start holds the VM lock when the Stopped event of the earlier power-off is handled.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const action = locks.run(UUID, () => gate);
  const check = watcher.handle(stopped(NAME))!;
  fake.d.set(NAME, { state: 'running', reason: 'booted', autostart: true });
  release();
  await action;
  assert.equal(await check, 'not-shut-off');
  assert.equal(fake.d.get(NAME)!.autostart, true);
  assert.deepEqual(fake.calls, []);
});

test('a libvirt failure is reported, never thrown', async () => {
  const { fake, watcher } = setup();
  fake.d.set(NAME, { state: 'shut off', reason: 'shutdown', autostart: true });
  fake.setAutostart = async () => {
    throw new Error('libvirt gone');
  };
  assert.equal(await watcher.handle(stopped(NAME)), 'failed');
});
