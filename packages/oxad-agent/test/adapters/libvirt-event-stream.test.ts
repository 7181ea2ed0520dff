/**
 * Tests of the libvirt event stream adapter: the line parser on lines captured from this machine's
 * `virsh event` (virsh 9.0.0), the child management (restart with backoff, stop) with small shell scripts standing in
 * for virsh, and the real thing: a prefixed test domain on `qemu:///system` is defined, started, destroyed and
 * undefined while the stream runs, its events are forwarded through the real EventForwarder and VmIdentityResolver
 * to an in-memory reporter, and everything the run created is removed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createLogger, parseRspec } from '@kvm-crm/shared';
import { renderSeedFiles } from '../../dist/domain/cloud-init-seed.js';
import { renderDomainXml } from '../../dist/domain/domain-xml.js';
import { buildProbeBootSector } from '../../dist/domain/probe-boot-sector.js';
import { EventForwarder } from '../../dist/services/event-forwarder.js';
import { VmIdentityResolver } from '../../dist/services/vm-identity.js';
import { type TestRun, createTestRun, libvirtUnavailableReason, TEST_LIBVIRT_URI } from '../../dist/testing/libvirt-test-env.js';
import { LibvirtEventStream, parseLifecycleEventLine, type LifecycleEvent } from '../../dist/adapters/libvirt-event-stream.js';
import type { StatusReporter } from '../../dist/services/ports.js';
import { QemuImg } from '../../dist/adapters/qemu-img.js';
import { writeSeedIso } from '../../dist/adapters/seed-iso.js';
import { Virsh } from '../../dist/adapters/virsh.js';

const logger = createLogger({ component: 'test', silent: true });

/** Lines printed by `virsh -c qemu:///system event --loop --all --timestamp` here (define, start, suspend, resume, reset, desc --title, destroy, undefine). */
const CAPTURED = [
  "2026-11-22 04:01:49.464+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Defined Added",
  "2026-11-22 04:01:49.745+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Resumed Unpaused",
  "2026-11-22 04:01:49.746+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Started Booted",
  "2026-11-22 04:01:50.763+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Suspended Paused",
  "2026-11-22 04:01:50.776+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Resumed Unpaused",
  "2026-11-22 04:06:49.326+0000: event 'reboot' for domain 'kvmcrm-evcapture-x1'",
  "2026-11-22 04:06:49.365+0000: event 'metadata-change' for domain 'kvmcrm-evcapture-x1': type title, uri <null>",
  "2026-11-22 04:01:53.608+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Shutdown Finished after host request",
  "2026-11-22 04:01:53.611+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Stopped Destroyed",
  "2026-11-22 04:01:53.626+0000: event 'lifecycle' for domain 'kvmcrm-evcapture-x1': Undefined Removed",
];

test('parses the lifecycle lines virsh prints, with and without --timestamp', () => {
  const parsed = CAPTURED.map(parseLifecycleEventLine);
  const d = 'kvmcrm-evcapture-x1';
  assert.deepEqual(parsed, [
    { domain: d, event: 'Defined', detail: 'Added', timestamp: '2026-11-22 04:01:49.464+0000' },
    { domain: d, event: 'Resumed', detail: 'Unpaused', timestamp: '2026-11-22 04:01:49.745+0000' },
    { domain: d, event: 'Started', detail: 'Booted', timestamp: '2026-11-22 04:01:49.746+0000' },
    { domain: d, event: 'Suspended', detail: 'Paused', timestamp: '2026-11-22 04:01:50.763+0000' },
    { domain: d, event: 'Resumed', detail: 'Unpaused', timestamp: '2026-11-22 04:01:50.776+0000' },
    undefined,
    undefined,
    { domain: d, event: 'Shutdown', detail: 'Finished after host request', timestamp: '2026-11-22 04:01:53.608+0000' },
    { domain: d, event: 'Stopped', detail: 'Destroyed', timestamp: '2026-11-22 04:01:53.611+0000' },
    { domain: d, event: 'Undefined', detail: 'Removed', timestamp: '2026-11-22 04:01:53.626+0000' },
  ]);
  // Without --timestamp (as `virsh event --loop --event lifecycle` prints it here).
  assert.deepEqual(parseLifecycleEventLine("event 'lifecycle' for domain 'x': Started Booted"), { domain: 'x', event: 'Started', detail: 'Booted' });
  // A detail virsh may leave empty, a CR line end, a name with spaces and quotes (not ours, but parsed whole).
  assert.deepEqual(parseLifecycleEventLine("event 'lifecycle' for domain 'x': unknown"), { domain: 'x', event: 'unknown', detail: '' });
  assert.deepEqual(parseLifecycleEventLine("event 'lifecycle' for domain 'x': Stopped Shutdown\r"), { domain: 'x', event: 'Stopped', detail: 'Shutdown' });
  assert.deepEqual(parseLifecycleEventLine("event 'lifecycle' for domain 'it's a vm': Started Booted"), { domain: "it's a vm", event: 'Started', detail: 'Booted' });
});

test('ignores every other line virsh prints', () => {
  for (const line of ['', 'event loop interrupted', 'events received: 0', 'event loop timed out', "event 'reboot' for domain 'x'", "event 'rtc-change' for domain 'x': 0", 'error: failed to connect to the hypervisor']) {
    assert.equal(parseLifecycleEventLine(line), undefined, line);
  }
});

describe('child management (shell scripts standing in for virsh)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-event-stream-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function script(name: string, body: string): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, `#!/bin/sh\n${body}\n`);
    await chmod(file, 0o755);
    return file;
  }

  async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('passes the argv, parses the output, restarts a dying child with doubling delays up to the maximum', async () => {
    const log = path.join(dir, 'spawns.log');
    const binary = await script(
      'dying-virsh',
      [
        `printf '%s %s\\n' "$(date +%s%N)" "$*" >> '${log}'`,
        `echo "2026-11-22 04:01:49.746+0000: event 'lifecycle' for domain 'kvmcrm-a': Started Booted"`,
        'echo "events received: 1"',
        'echo "error: Disconnected from qemu:///system due to end of file" >&2',
        'exit 1',
      ].join('\n'),
    );
    const events: LifecycleEvent[] = [];
    const stream = new LibvirtEventStream({ binary, uri: 'qemu:///system', logger, restartDelaySeconds: 0.1, maxRestartDelaySeconds: 0.4 }, (e) => events.push(e));
    stream.start();
    stream.start(); // idempotent
    await waitFor('6 spawns', async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').length >= 6);
    await stream.stop();
    const spawnsAtStop = stream.spawnCount;
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    for (const l of lines) assert.equal(l.slice(l.indexOf(' ') + 1), '-c qemu:///system event --loop --event lifecycle --timestamp');
    const times = lines.map((l) => Number(BigInt(l.split(' ')[0]!) / 1_000_000n));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Expected delays 100, 200, 400, 400, 400 ms (plus the script's own run time).
    for (const [i, min] of [100, 200, 400, 400, 400].entries()) {
      assert.ok(gaps[i]! >= min - 15, `gap ${i} = ${gaps[i]} ms, expected >= ${min}: ${gaps.join(', ')}`);
    }
    assert.ok(gaps[4]! < 1500, `the delay is capped: ${gaps.join(', ')}`);
    assert.ok(events.length >= 5, `events from every run: ${events.length}`);
    assert.deepEqual(events[0], { domain: 'kvmcrm-a', event: 'Started', detail: 'Booted', timestamp: '2026-11-22 04:01:49.746+0000' });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(stream.spawnCount, spawnsAtStop, 'no restart after stop');
    assert.equal(stream.pid, undefined);
  });

  test('stop() kills a long-lived child by its PID and waits for it', async () => {
    const binary = await script('sleepy-virsh', `echo "event 'lifecycle' for domain 'kvmcrm-b': Defined Added"\nexec sleep 300`);
    const events: LifecycleEvent[] = [];
    const stream = new LibvirtEventStream({ binary, logger }, (e) => events.push(e));
    stream.start();
    await waitFor('the first event', () => events.length === 1);
    const pid = stream.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 0); // alive
    const started = Date.now();
    await stream.stop();
    assert.ok(Date.now() - started < 2000, 'SIGTERM suffices');
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    assert.equal(stream.pid, undefined);
    assert.equal(stream.spawnCount, 1);
  });

  test('a program that cannot be started is retried, an exception in onEvent does not stop the stream', async () => {
    const missing = new LibvirtEventStream({ binary: path.join(dir, 'no-such-virsh'), logger, restartDelaySeconds: 0.05 }, () => undefined);
    missing.start();
    await waitFor('3 attempts', () => missing.spawnCount >= 3);
    await missing.stop();

    const binary = await script('two-events', `echo "event 'lifecycle' for domain 'a': Started Booted"\necho "event 'lifecycle' for domain 'b': Started Booted"\nexec sleep 300`);
    const seen: string[] = [];
    const stream = new LibvirtEventStream({ binary, logger }, (e) => {
      seen.push(e.domain);
      if (e.domain === 'a') throw new Error('handler bug');
    });
    stream.start();
    await waitFor('both events', () => seen.length === 2);
    assert.deepEqual(seen, ['a', 'b']);
    await stream.stop();
  });

  test('rejects a malformed URI', () => {
    assert.throws(() => new LibvirtEventStream({ uri: 'qemu:///system --readonly', logger }, () => undefined), /invalid libvirt URI/);
  });
});

/** Records the libvirt events the forwarder reports, parsed. */
class RecordingReporter implements StatusReporter {
  readonly reports: Array<{ url: string; id?: string; name?: string; uuid?: string; status?: string }> = [];
  async report(url: string, xml: string): Promise<boolean> {
    const a = parseRspec(xml).response!.monitoring!.actions[0]!;
    const vm = a.server!.virtualMachines[0]!;
    this.reports.push({ url, id: a.id, name: vm.name, uuid: vm.uuid, status: vm.status });
    return true;
  }
}

describe('LibvirtEventStream against the real libvirt (qemu:///system)', async () => {
  const skip = await libvirtUnavailableReason();
  const virsh = new Virsh({ uri: TEST_LIBVIRT_URI, timeoutSeconds: 60 });
  const qemuImg = new QemuImg();
  const eventsUrl = 'https://events:secret@manager.invalid:8445/xmlrpc/agent';
  let run: TestRun;
  let templatePath: string;
  let stream: LibvirtEventStream | undefined;
  const events: LifecycleEvent[] = [];
  const reporter = new RecordingReporter();
  let forwarder: EventForwarder;

  before(async () => {
    if (skip) return;
    run = await createTestRun(virsh);
    const raw = path.join(run.templatesDir, 'probe.raw');
    await writeFile(raw, Buffer.concat([buildProbeBootSector(`KVMCRM-EVENTS-${run.runId}\n`), Buffer.alloc(1024 * 1024 - 512)]));
    templatePath = path.join(run.templatesDir, 'probe.qcow2');
    await qemuImg.convert(raw, templatePath, 'qcow2', { sourceFormat: 'raw' });
    await chmod(templatePath, 0o644);
    const identities = new VmIdentityResolver(virsh, { domainPrefix: run.domainPrefix, logger });
    forwarder = new EventForwarder(identities, reporter, { eventsUrl, domainPrefix: run.domainPrefix, logger });
  });

  after(async () => {
    if (skip || !run) return;
    await stream?.stop();
    const problems = await run.cleanup();
    assert.deepEqual(problems, [], 'cleanup problems');
    assert.deepEqual((await virsh.listAll()).filter((d) => d.name.startsWith(run.domainPrefix)), [], 'no test domain left');
  });

  /** Writes a diskless domain XML (defines and undefines only, never started) and returns its path. */
  async function blankDomainXml(name: string): Promise<string> {
    const file = path.join(run.root, `${name}.xml`);
    await writeFile(file, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os></domain>\n`);
    return file;
  }

  async function waitForEvent(what: string, match: (e: LifecycleEvent) => boolean, ms = 20_000): Promise<LifecycleEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      if (Date.now() > deadline) assert.fail(`no ${what} event within ${ms} ms; saw ${JSON.stringify(events.slice(-10))}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * virsh gives no sign when its event callback is registered: define and undefine a blank domain until the stream
   * reports it, so that the events that follow cannot be missed.
   */
  async function untilListening(tag: string): Promise<void> {
    const name = `${run.domainPrefix}warmup-${tag}`;
    const xml = await blankDomainXml(name);
    const deadline = Date.now() + 20_000;
    for (;;) {
      await virsh.define(xml);
      await virsh.undefine(name);
      const seen = await waitForEvent('warm-up', (e) => e.domain === name && e.event === 'Undefined', 500).then(() => true, () => false);
      if (seen) return;
      if (Date.now() > deadline) assert.fail('the event stream never reported the warm-up domain');
    }
  }

  test('streams Defined/Started/Stopped/Undefined of a test domain, forwarded as OCF events', { skip }, async (t) => {
    stream = new LibvirtEventStream({ uri: TEST_LIBVIRT_URI, logger, restartDelaySeconds: 0.2 }, (e) => {
      events.push(e);
      forwarder.handle(e);
    });
    stream.start();
    await untilListening('1');

    // A VM as the provisioning service makes it: `<prefix><vm uuid>`, our metadata, the probe template.
    const uuid = randomUUID();
    const name = `${run.domainPrefix}${uuid}`;
    const dir = await run.vmDir(uuid);
    const diskPath = path.join(dir, 'disk.qcow2');
    await qemuImg.createOverlay({ backingPath: templatePath, backingFormat: 'qcow2', overlayPath: diskPath });
    const seedIsoPath = path.join(dir, 'seed.iso');
    await writeSeedIso(renderSeedFiles({ instanceId: uuid, hostname: 'probe01', nics: [] }), seedIsoPath);
    const xmlPath = path.join(dir, 'domain.xml');
    await writeFile(
      xmlPath,
      renderDomainXml({
        name, uuid, title: 'probe01', domainType: 'qemu', memoryMiB: 32, vcpus: 1, diskPath, backing: { path: templatePath, format: 'qcow2' },
        seedIsoPath, serialLogPath: path.join(dir, 'serial.log'), nics: [],
        metadata: { vmUuid: uuid, vmName: 'probe01', projectId: 'project-1', sliceId: 'slice-1', actionId: 'action-1', template: 'probe' },
      }),
    );

    await virsh.define(xmlPath);
    await waitForEvent('Defined', (e) => e.domain === name && e.event === 'Defined');
    await virsh.start(name);
    await waitForEvent('Started', (e) => e.domain === name && e.event === 'Started');
    await virsh.destroy(name);
    await waitForEvent('Stopped', (e) => e.domain === name && e.event === 'Stopped');
    await virsh.undefine(name);
    await waitForEvent('Undefined', (e) => e.domain === name && e.event === 'Undefined');

    const ours = events.filter((e) => e.domain === name);
    t.diagnostic(`events: ${ours.map((e) => `${e.event} ${e.detail}`).join(' | ')}`);
    const key = ['Defined', 'Started', 'Stopped', 'Undefined'];
    assert.deepEqual(
      ours.filter((e) => key.includes(e.event)).map((e) => `${e.event} ${e.detail}`),
      ['Defined Added', 'Started Booted', 'Stopped Destroyed', 'Undefined Removed'],
    );
    for (const e of ours) assert.match(e.timestamp ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$/);

    await forwarder.idle();
    const reports = reporter.reports.filter((r) => r.uuid === uuid);
    t.diagnostic(`forwarded: ${reports.map((r) => r.status).join(', ')}`);
    assert.deepEqual(reports.map((r) => r.status).filter((s) => s !== 'Resumed'), ['Defined', 'Started', 'Stopped', 'Undefined'], 'in order, Shutdown not forwarded');
    for (const r of reports) {
      assert.equal(r.url, eventsUrl);
      assert.equal(r.id, 'callback');
      assert.equal(r.name, 'probe01', 'VM name from our metadata, also for Undefined');
    }
    assert.ok(!reporter.reports.some((r) => r.status === 'UNKNOWN'));
  });

  test('restarts after its virsh child is killed, and stop() leaves no child', { skip }, async () => {
    assert.ok(stream, 'started by the previous test');
    const oldPid = stream.pid!;
    const spawns = stream.spawnCount;
    process.kill(oldPid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (stream.spawnCount === spawns || stream.pid === undefined) {
      if (Date.now() > deadline) assert.fail('the stream was not restarted');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(stream.pid, oldPid);
    await untilListening('2');

    const name = `${run.domainPrefix}after-restart`;
    await virsh.define(await blankDomainXml(name));
    await virsh.undefine(name);
    await waitForEvent('Undefined after restart', (e) => e.domain === name && e.event === 'Undefined');

    const pid = stream.pid!;
    await stream.stop();
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the virsh child is gone');
    assert.equal(stream.pid, undefined);
    await forwarder.close();
  });
});
