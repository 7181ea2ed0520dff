import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { createLogger, InputError } from '@kvm-crm/shared';
import { renderSeedFiles } from '../../dist/domain/cloud-init-seed.js';
import { type DomainSpec, parseDomainMetadata, renderDomainXml } from '../../dist/domain/domain-xml.js';
import { buildProbeBootSector } from '../../dist/domain/probe-boot-sector.js';
import { type TestRun, createTestRun, libvirtUnavailableReason, TEST_LIBVIRT_URI } from '../../dist/testing/libvirt-test-env.js';
import { QemuImg } from '../../dist/adapters/qemu-img.js';
import { writeSeedIso } from '../../dist/adapters/seed-iso.js';
import {
  DomainNotFoundError,
  DomainStateError,
  Virsh,
  VirshError,
  isDomainNotFound,
  parseDomStatsStates,
  parseUuidNameList,
} from '../../dist/adapters/virsh.js';
import { LibvirtCallError, LibvirtConnection } from '../../dist/adapters/libvirt-connection.js';
import { LibvirtDomains } from '../../dist/adapters/libvirt-domains.js';

test('parses virsh list and domstats output', () => {
  assert.deepEqual(
    parseUuidNameList('221BDE45-268c-471a-9d52-ebe703b6331a kvmcrm-a\n\n 0f0e0d0c-268c-471a-9d52-ebe703b6331a  other one \n'),
    [
      { uuid: '221bde45-268c-471a-9d52-ebe703b6331a', name: 'kvmcrm-a' },
      { uuid: '0f0e0d0c-268c-471a-9d52-ebe703b6331a', name: 'other one' },
    ],
  );
  const states = parseDomStatsStates("Domain: 'a'\n  state.state=5\n  state.reason=0\n\nDomain: 'b c'\n  state.state=1\n  state.reason=1\n");
  assert.deepEqual([...states], [
    ['a', 'shut off'],
    ['b c', 'running'],
  ]);
  assert.ok(isDomainNotFound("error: failed to get domain 'x'"));
  assert.ok(isDomainNotFound("error: Domain not found: no domain with matching name 'x'"));
  assert.ok(!isDomainNotFound('error: internal error: something'));
});

test('rejects bad domain names and paths before running virsh', async () => {
  const v = new Virsh({ binary: '/nonexistent/virsh' });
  for (const name of ['', '1', '-c', 'a b', "x'", '../x', 'a'.repeat(65)]) {
    await assert.rejects(v.start(name), InputError, name);
  }
  await assert.rejects(v.define('relative.xml'), InputError);
  assert.throws(() => new Virsh({ uri: 'qemu:///system --readonly' }), InputError);
});

// The same behaviour through `virsh` runs and through the agent's held-open connection (decision 041).
for (const via of ['virsh', 'the libvirt connection'] as const) describe(`Virsh against the real libvirt (qemu:///system), through ${via}`, async () => {
  const skip = await libvirtUnavailableReason();
  const connection = via === 'virsh' ? undefined : new LibvirtConnection({ uri: TEST_LIBVIRT_URI, logger: createLogger({ component: 'test', silent: true }) });
  const virsh = connection ? new LibvirtDomains(connection, { uri: TEST_LIBVIRT_URI, timeoutSeconds: 60 }) : new Virsh({ uri: TEST_LIBVIRT_URI, timeoutSeconds: 60 });
  const qemuImg = new QemuImg();
  let run: TestRun;
  let templatePath: string;
  let bridge: string | undefined;
  let defaultNetworkActive = false;
  const qemuUid = Number((await execa('id', ['-u', 'libvirt-qemu'], { reject: false })).stdout || NaN);

  before(async () => {
    if (skip) return;
    await connection?.open();
    run = await createTestRun(virsh);
    // Template: the probe boot sector (prints a marker on COM1 under TCG), padded to 1 MiB, as qcow2, mode 0644.
    const raw = path.join(run.templatesDir, 'probe.raw');
    const sector = buildProbeBootSector(`KVMCRM-SERIAL-${run.runId}\n`);
    await writeFile(raw, Buffer.concat([sector, Buffer.alloc(1024 * 1024 - 512)]));
    templatePath = path.join(run.templatesDir, 'probe.qcow2');
    await qemuImg.convert(raw, templatePath, 'qcow2', { sourceFormat: 'raw' });
    await chmod(templatePath, 0o644);
    const net = await execa('virsh', ['-c', TEST_LIBVIRT_URI, 'net-info', 'default'], { reject: false });
    defaultNetworkActive = !net.failed && /^Active:\s+yes/m.test(net.stdout);
    const br = `kvcrm${run.runId}`;
    if (!(await execa('ip', ['link', 'add', 'name', br, 'type', 'bridge'], { reject: false })).failed) {
      bridge = br;
      await execa('ip', ['link', 'set', br, 'up'], { reject: false });
    }
  });

  after(async () => {
    if (skip || !run) return;
    const problems = await run.cleanup();
    if (bridge) await execa('ip', ['link', 'del', bridge], { reject: false });
    await connection?.close();
    assert.deepEqual(problems, [], 'cleanup problems');
  });

  /** Creates overlay, seed and domain XML of a fresh VM in the run's storage; returns its spec and paths. */
  async function prepareVm(dirMode = 0o711): Promise<{ spec: DomainSpec; xmlPath: string; dir: string }> {
    const uuid = randomUUID();
    const dir = await run.vmDir(uuid);
    await chmod(dir, dirMode);
    const diskPath = path.join(dir, 'disk.qcow2');
    await qemuImg.createOverlay({ backingPath: templatePath, backingFormat: 'qcow2', overlayPath: diskPath });
    const seedIsoPath = path.join(dir, 'seed.iso');
    const nics = [
      ...(defaultNetworkActive ? [{ mac: '52:54:00:aa:00:01', network: 'default' }] : []),
      ...(bridge ? [{ mac: '52:54:00:aa:00:02', bridge }] : []),
    ];
    await writeSeedIso(
      renderSeedFiles({
        instanceId: uuid,
        hostname: 'probe01',
        nics: nics.map((n, i) => ({ name: `eth${i}`, mac: n.mac, addresses: [`10.0.${i}.16/24`] })),
      }),
      seedIsoPath,
    );
    const spec: DomainSpec = {
      name: `${run.domainPrefix}${uuid.slice(0, 8)}`,
      uuid,
      title: 'probe01',
      domainType: 'qemu',
      memoryMiB: 32,
      vcpus: 1,
      diskPath,
      backing: { path: templatePath, format: 'qcow2' },
      seedIsoPath,
      serialLogPath: path.join(dir, 'serial.log'),
      nics,
      metadata: {
        vmUuid: uuid,
        vmName: 'probe01',
        projectId: 'project-1',
        sliceId: 'slice-1',
        projectName: 'R&D <test>',
        actionId: 'action-1',
        template: 'probe',
      },
    };
    const xmlPath = path.join(dir, 'domain.xml');
    await writeFile(xmlPath, renderDomainXml(spec), { mode: 0o600 });
    return { spec, xmlPath, dir };
  }

  async function timed<T>(t: { diagnostic(s: string): void }, what: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await fn();
    t.diagnostic(`${what}: ${(performance.now() - started).toFixed(1)} ms`);
    return result;
  }

  test('define, start, serial log, destroy, undefine; file ownership under dynamic_ownership', { skip }, async (t) => {
    const { spec, xmlPath } = await prepareVm();
    const { name, uuid } = spec;

    assert.equal(await virsh.domState(name), undefined);
    await timed(t, 'define', () => virsh.define(xmlPath));
    assert.equal(await virsh.domState(name), 'shut off');
    assert.equal(await virsh.exists(name), true);
    assert.equal(await virsh.exists(uuid), true, 'lookup by UUID');
    const listed = (await virsh.listAll()).find((d) => d.name === name);
    assert.deepEqual(listed, { name, uuid, state: 'shut off' });
    assert.deepEqual(parseDomainMetadata(await virsh.dumpXml(name)), spec.metadata);
    await assert.rejects(virsh.destroy(name), DomainStateError);

    await timed(t, 'start', () => virsh.start(name));
    assert.equal(await virsh.domState(name), 'running');
    assert.deepEqual(await virsh.domStateReason(name), { state: 'running', reason: 'booted' });
    await virsh.setAutostart(name, true);
    assert.equal(await virsh.autostart(name), true);
    await virsh.setAutostart(name, false);
    assert.equal(await virsh.autostart(name), false);
    await assert.rejects(virsh.start(name), DomainStateError);
    assert.equal((await virsh.listAll()).find((d) => d.name === name)?.state, 'running');
    assert.deepEqual(parseDomainMetadata(await virsh.dumpXml(name)), spec.metadata, 'metadata in the live XML');

    // The guest (the probe boot sector) writes its marker to COM1 -> serial.log.
    const marker = `RPILKVMCRM-SERIAL-${run.runId}\n`;
    const started = performance.now();
    let log = '';
    while (performance.now() - started < 30_000) {
      log = await readFile(spec.serialLogPath, 'latin1').catch(() => '');
      if (log.includes(marker)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.diagnostic(`serial marker after ${(performance.now() - started).toFixed(0)} ms (from start returning)`);
    assert.ok(log.includes(marker), `serial log: ${JSON.stringify(log.slice(0, 200))}`);

    // Ownership while running: libvirt chowns the overlay to the qemu user; template and seed
    // (relabel='no') stay root-owned and are only read.
    const [disk, tpl, seed, serial] = await Promise.all(
      [spec.diskPath, templatePath, spec.seedIsoPath, spec.serialLogPath].map((p) => stat(p)),
    );
    if (Number.isFinite(qemuUid)) assert.equal(disk!.uid, qemuUid, 'overlay owned by libvirt-qemu while running');
    assert.equal(tpl!.uid, 0, 'template stays root-owned');
    assert.equal(tpl!.mode & 0o777, 0o644, 'template mode unchanged');
    assert.equal(seed!.uid, 0, 'seed stays root-owned');
    t.diagnostic(`serial.log owner uid ${serial!.uid} mode ${(serial!.mode & 0o777).toString(8)}`);

    await timed(t, 'shutdown (ACPI request only)', () => virsh.shutdown(name));
    await timed(t, 'reboot (ACPI request only)', () => virsh.reboot(name));
    await timed(t, 'destroy', () => virsh.destroy(name));
    assert.equal(await virsh.domState(name), 'shut off');
    assert.deepEqual(await virsh.domStateReason(name), { state: 'shut off', reason: 'destroyed' });
    assert.equal((await stat(spec.diskPath)).uid, 0, 'overlay given back to root after the guest stopped');
    assert.equal((await stat(templatePath)).uid, 0);

    // Redefining updates the metadata (how the last action ID is recorded).
    const next = { ...spec, metadata: { ...spec.metadata, actionId: 'action-2' } };
    await writeFile(xmlPath, renderDomainXml(next));
    await virsh.define(xmlPath);
    assert.equal(parseDomainMetadata(await virsh.dumpXml(name, { inactive: true }))?.actionId, 'action-2');

    await timed(t, 'undefine', () => virsh.undefine(name));
    assert.equal(await virsh.domState(name), undefined);
    assert.equal(await virsh.exists(name), false);
    const stillThere = await Promise.all([spec.diskPath, spec.seedIsoPath, templatePath].map((p) => stat(p).then(() => true)));
    assert.deepEqual(stillThere, [true, true, true], 'undefine never removes storage');
  });

  test('a missing domain is DomainNotFoundError, other failures VirshError', { skip }, async () => {
    const ghost = `${run.domainPrefix}ghost`;
    const ops: Array<[string, (name: string) => Promise<unknown>]> = [
      ['start', (n) => virsh.start(n)],
      ['destroy', (n) => virsh.destroy(n)],
      ['shutdown', (n) => virsh.shutdown(n)],
      ['reboot', (n) => virsh.reboot(n)],
      ['undefine', (n) => virsh.undefine(n)],
      ['dumpXml', (n) => virsh.dumpXml(n)],
    ];
    for (const [what, op] of ops) {
      await assert.rejects(op(ghost), DomainNotFoundError, what);
    }
    assert.equal(await virsh.exists(ghost), false);
    await assert.rejects(virsh.define('/nonexistent/kvm-crm/domain.xml'), VirshError);
    const broken = path.join(run.root, 'broken.xml');
    await writeFile(broken, '<domain type="qemu"><name>x');
    await assert.rejects(virsh.define(broken), VirshError);
    const unreachable = new Virsh({ uri: 'qemu+unix:///system?socket=/nonexistent/sock', timeoutSeconds: 10 });
    await assert.rejects(unreachable.version(), VirshError);
    if (connection) {
      const none = new LibvirtConnection({ uri: 'qemu+unix:///system?socket=/nonexistent/sock', logger: createLogger({ component: 'test', silent: true }) });
      await assert.rejects(none.open(), (err: unknown) => err instanceof LibvirtCallError && /nonexistent\/sock/.test(err.message));
      assert.equal(none.pid, undefined, 'no helper left running');
      await none.close();
    }
  });

  test('six starts at once do not hold a state query back (libvirtd serves at most 5 calls of one client at once)', { skip }, async () => {
    const vms = await Promise.all(Array.from({ length: 6 }, () => prepareVm()));
    for (const vm of vms) await virsh.define(vm.xmlPath);
    const order: string[] = [];
    const starts = vms.map((vm) => virsh.start(vm.spec.name).then(() => order.push('start')));
    const state = virsh.domState(vms[0]!.spec.name).then((s) => order.push('domstate'));
    await Promise.all([...starts, state]);
    assert.equal(order[0], 'domstate', `answered first: ${order.join(', ')}`);
    for (const vm of vms) {
      await virsh.destroy(vm.spec.name);
      await virsh.undefine(vm.spec.name);
    }
  });

  test('qemu needs search permission on every folder up to the disk', { skip }, async () => {
    const { spec, xmlPath } = await prepareVm(0o700);
    await virsh.define(xmlPath);
    const err = await virsh.start(spec.name).catch((e: unknown) => e);
    assert.ok(err instanceof VirshError, String(err));
    assert.match(err.message, /Permission denied/);
    assert.equal(await virsh.domState(spec.name), 'shut off');
    await virsh.undefine(spec.name);
  });
});
