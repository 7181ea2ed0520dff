/**
 * Unit tests of the EventForwarder (libvirt lifecycle events → OCF `callback` messages, docs/ocf-protocol.md §6.8,
 * §8.9). The VM identities and the StatusReporter are in-memory fakes for unit tests, with controllable delays; no
 * libvirt, no socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, parseRspec, UpstreamError } from '@kvm-crm/shared';
import type { LifecycleEvent } from '../../dist/adapters/libvirt-event-stream.js';
import type { StatusKind, StatusReporter } from '../../dist/services/ports.js';
import { EventForwarder, type EventVmIdentities } from '../../dist/services/event-forwarder.js';
import type { VmIdentity } from '../../dist/services/vm-identity.js';

// ---------------------------------------------------------------------------------------------------------------
// Fakes for unit tests

const logger = createLogger({ component: 'test', silent: true });
const PREFIX = 'kvmcrm-';
const EVENTS_URL = 'https://events:secret@10.0.0.9:8445/xmlrpc/agent';
const WEB = 'c0ffee00-1234-4abc-8def-0123456789ab';
const DB = '0badcafe-0000-4000-8000-000000000042';

/** Domain name → identity; `released` records release calls; `delayMs` delays every lookup. */
class FakeIdentities implements EventVmIdentities {
  readonly known = new Map<string, VmIdentity>();
  readonly calls: string[] = [];
  delayMs = 0;
  failWith: Error | undefined;
  async resolve(name: string, opts: { refresh?: boolean } = {}): Promise<VmIdentity | undefined> {
    this.calls.push(`resolve ${name}${opts.refresh ? ' refresh' : ''}`);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failWith) throw this.failWith;
    return this.known.get(name);
  }
  async release(name: string): Promise<VmIdentity | undefined> {
    this.calls.push(`release ${name}`);
    const found = this.known.get(name) ?? this.identityFromName(name);
    this.known.delete(name);
    return found;
  }
  identityFromName(name: string): VmIdentity | undefined {
    const uuid = name.slice(PREFIX.length);
    return name.startsWith(PREFIX) && /^[0-9a-f-]{36}$/.test(uuid) ? { name, uuid } : undefined;
  }
}

/** Records deliveries (parsed); `delayFor` makes a delivery slow, `gates` holds one until released. */
class FakeReporter implements StatusReporter {
  readonly delivered: Array<{ url: string; xml: string; name?: string; uuid?: string; status?: string }> = [];
  readonly started: string[] = [];
  delayFor: (vm: { name?: string; status?: string }) => number = () => 0;
  answer = true;
  /** The `kind` of each report (decision 038: events are `event`). */
  readonly kinds: Array<StatusKind | undefined> = [];
  async report(url: string, xml: string, kind?: StatusKind): Promise<boolean> {
    this.kinds.push(kind);
    const vm = parseRspec(xml).response!.monitoring!.actions[0]!.server!.virtualMachines[0]!;
    this.started.push(`${vm.name} ${vm.status}`);
    const ms = this.delayFor(vm);
    if (ms) await new Promise((r) => setTimeout(r, ms));
    this.delivered.push({ url, xml, name: vm.name, uuid: vm.uuid, status: vm.status });
    return this.answer;
  }
  statuses(name?: string): string[] {
    return this.delivered.filter((d) => name === undefined || d.name === name).map((d) => `${d.name} ${d.status}`);
  }
}

function ev(domain: string, event: string, detail = ''): LifecycleEvent {
  return { domain, event, detail, timestamp: '2026-11-22 04:01:49.746+0000' };
}

function setup(opts: { maxPending?: number } = {}) {
  const identities = new FakeIdentities();
  identities.known.set(`${PREFIX}${WEB}`, { name: 'web01', uuid: WEB });
  identities.known.set(`${PREFIX}${DB}`, { name: 'db01', uuid: DB });
  const reporter = new FakeReporter();
  const fwd = new EventForwarder(identities, reporter, { eventsUrl: EVENTS_URL, domainPrefix: PREFIX, logger, ...opts });
  return { identities, reporter, fwd };
}

// ---------------------------------------------------------------------------------------------------------------

test('a lifecycle event of ours becomes the §8.9 message, sent to the events URL', async () => {
  const { reporter, fwd } = setup();
  fwd.handle(ev(`${PREFIX}${WEB}`, 'Started', 'Booted'));
  await fwd.idle();
  assert.equal(reporter.delivered.length, 1);
  assert.equal(reporter.delivered[0]!.url, EVENTS_URL);
  assert.deepEqual(reporter.kinds, ['event'], 'queued as an event: a terminal status may overtake it (decision 038)');
  assert.equal(
    reporter.delivered[0]!.xml,
    `<?xml version="1.0" encoding="UTF-8"?>
<rspec xmlns="http://www.fp7-ofelia.eu/CF/vt_am/rspec">
    <response>
        <monitoring>
            <action type="listActiveVMs" id="callback">
                <server>
                    <virtual-machines>
                        <name>web01</name>
                        <uuid>${WEB}</uuid>
                        <status>Started</status>
                    </virtual-machines>
                </server>
                <status>SUCCESS</status>
            </action>
        </monitoring>
    </response>
</rspec>
`,
  );
});

test('filters to our prefix and maps through the lifecycle table (Shutdown not forwarded)', async () => {
  const { reporter, fwd, identities } = setup();
  const web = `${PREFIX}${WEB}`;
  for (const e of [
    ev('someone-else', 'Started', 'Booted'),
    ev(`x${web}`, 'Started', 'Booted'),
    ev(web, 'Defined', 'Added'),
    ev(web, 'Resumed', 'Unpaused'),
    ev(web, 'Started', 'Booted'),
    ev(web, 'Suspended', 'Paused'),
    ev(web, 'Resumed', 'Unpaused'),
    ev(web, 'PMSuspended', 'Memory'),
    ev(web, 'Shutdown', 'Finished after host request'),
    ev(web, 'Stopped', 'Destroyed'),
    ev(web, 'Crashed', 'Panicked'),
    ev(web, 'Hibernated', 'Somehow'),
    ev(web, 'Undefined', 'Removed'),
  ]) {
    fwd.handle(e);
  }
  await fwd.idle();
  assert.deepEqual(reporter.statuses(), [
    'web01 Defined', 'web01 Resumed', 'web01 Started', 'web01 Suspended', 'web01 Resumed', 'web01 Suspended',
    'web01 Stopped', 'web01 Stopped', 'web01 UNKNOWN', 'web01 Undefined',
  ]);
  assert.ok(!identities.calls.some((c) => c.includes('someone-else')), 'foreign domains are not even looked up');
  assert.equal(identities.calls[0], `resolve ${web} refresh`, 'Defined re-reads the domain');
  assert.equal(identities.calls.at(-1), `release ${web}`, 'Undefined releases it');
});

test('events of one domain are delivered in order even when a delivery is slow; other domains do not wait', async () => {
  const { reporter, fwd } = setup();
  reporter.delayFor = (vm) => (vm.name === 'web01' && vm.status === 'Defined' ? 150 : vm.name === 'web01' ? Math.random() * 20 : 0);
  const web = `${PREFIX}${WEB}`;
  const db = `${PREFIX}${DB}`;
  fwd.handle(ev(web, 'Defined', 'Added'));
  fwd.handle(ev(web, 'Started', 'Booted'));
  fwd.handle(ev(db, 'Started', 'Booted'));
  fwd.handle(ev(web, 'Stopped', 'Destroyed'));
  fwd.handle(ev(db, 'Stopped', 'Destroyed'));
  fwd.handle(ev(web, 'Undefined', 'Removed'));
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(reporter.statuses(), ['db01 Started', 'db01 Stopped'], 'db01 delivered while web01 waits for its slow first delivery');
  assert.deepEqual(reporter.started, ['web01 Defined', 'db01 Started', 'db01 Stopped'], 'web01 Started not sent before Defined is acknowledged');
  assert.equal(fwd.pending, 4);
  await fwd.idle();
  assert.deepEqual(reporter.statuses('web01'), ['web01 Defined', 'web01 Started', 'web01 Stopped', 'web01 Undefined']);
  assert.equal(fwd.pending, 0);
});

test('handle() returns at once, whatever the lookups and deliveries take', async () => {
  const { reporter, fwd, identities } = setup();
  identities.delayMs = 200;
  reporter.delayFor = () => 200;
  const started = performance.now();
  for (let i = 0; i < 50; i++) fwd.handle(ev(`${PREFIX}${WEB}`, i % 2 ? 'Started' : 'Stopped', ''));
  assert.ok(performance.now() - started < 50, `handle() blocked for ${(performance.now() - started).toFixed(0)} ms`);
  await fwd.close();
});

test('the VM is looked up when the event arrives, so an undefined domain is still named', async () => {
  const { reporter, fwd, identities } = setup();
  const name = `${PREFIX}${WEB}`;
  reporter.delayFor = (vm) => (vm.status === 'Defined' ? 50 : 0);
  fwd.handle(ev(name, 'Defined', 'Added'));
  fwd.handle(ev(name, 'Started', 'Booted'));
  fwd.handle(ev(name, 'Undefined', 'Removed'));
  identities.known.delete(name); // the domain is gone before the first delivery ends
  await fwd.idle();
  assert.deepEqual(reporter.statuses(), ['web01 Defined', 'web01 Started', 'web01 Undefined']);
  assert.deepEqual(identities.calls, [`resolve ${name} refresh`, `resolve ${name}`, `release ${name}`]);
});

test('an unknown VM is named by `<prefix><uuid>` when it can be, else its event is dropped', async () => {
  const { reporter, fwd, identities } = setup();
  const byName = `${PREFIX}11111111-2222-4333-8444-555555555555`;
  fwd.handle(ev(byName, 'Started', 'Booted'));
  fwd.handle(ev(`${PREFIX}handmade`, 'Started', 'Booted'));
  identities.failWith = new UpstreamError('libvirt unreachable');
  fwd.handle(ev(`${PREFIX}22222222-2222-4333-8444-555555555555`, 'Stopped', 'Destroyed'));
  fwd.handle(ev(`${PREFIX}handmade2`, 'Stopped', 'Destroyed'));
  await fwd.idle();
  assert.deepEqual(reporter.delivered.map((d) => `${d.name} ${d.uuid} ${d.status}`), [
    `${byName} 11111111-2222-4333-8444-555555555555 Started`,
    `${PREFIX}22222222-2222-4333-8444-555555555555 22222222-2222-4333-8444-555555555555 Stopped`,
  ]);
});

test('a failed delivery does not stop the following ones', async () => {
  const { reporter, fwd } = setup();
  reporter.answer = false;
  fwd.handle(ev(`${PREFIX}${WEB}`, 'Started', 'Booted'));
  fwd.handle(ev(`${PREFIX}${WEB}`, 'Stopped', 'Destroyed'));
  await fwd.idle();
  assert.deepEqual(reporter.statuses(), ['web01 Started', 'web01 Stopped']);
});

test('at most maxPending events wait; close() drops the queued ones and waits for the one in flight', async () => {
  const { reporter, fwd } = setup({ maxPending: 3 });
  reporter.delayFor = () => 50;
  for (const e of ['Defined', 'Started', 'Suspended', 'Resumed', 'Stopped']) fwd.handle(ev(`${PREFIX}${WEB}`, e, ''));
  assert.equal(fwd.pending, 3, 'two dropped');
  await new Promise((r) => setTimeout(r, 10));
  await fwd.close();
  assert.deepEqual(reporter.statuses(), ['web01 Defined'], 'the one in flight finished, the queued ones were dropped');
  fwd.handle(ev(`${PREFIX}${WEB}`, 'Undefined', ''));
  assert.equal(fwd.pending, 0, 'nothing accepted after close');
});
