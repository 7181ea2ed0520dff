/**
 * The provisioning service against the real libvirt, qemu-img and the test template (scripts/build-test-template.sh),
 * with a guest booted under TCG: a create with hd-size-mb, a data disk, an SSH key and a memory ceiling; the guest's
 * serial console shows the grown disk, the data disk and the key's fingerprint; start marks the domain autostart
 * (`virsh dominfo`; libvirtd itself is not restarted, other tests share it); modify grows memory live through the
 * balloon; hardStop clears autostart; delete with keep-disks leaves the disks in kept-disks/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { createLogger, parseRspec, serialiseRspec, type Action } from '@kvm-crm/shared';
import { Virsh } from '../../dist/adapters/virsh.js';
import { QemuImg } from '../../dist/adapters/qemu-img.js';
import { writeSeedIso } from '../../dist/adapters/seed-iso.js';
import { linuxBridgeExists } from '../../dist/agent-app.js';
import { sshKeyFingerprint } from '../../dist/domain/cloud-init-seed.js';
import { AgentProvisioningService } from '../../dist/services/provisioning-service.js';
import { TemplateCatalogue } from '../../dist/templates/template-catalogue.js';
import { createTestRun, libvirtUnavailableReason, SETUP_HOST_SCRIPT, TEST_LIBVIRT_URI, type TestRun } from '../../dist/testing/libvirt-test-env.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJhNbh4qWI7k2+b8LGET89GHckWpzEc6taeGG4k0qsYY ed25519-test';
const skip = await libvirtUnavailableReason();
const virsh = new Virsh({ uri: TEST_LIBVIRT_URI });
const qemuImg = new QemuImg();
let run: TestRun;
let svc: AgentProvisioningService;
const statuses = new Map<string, Array<[string | undefined, string | undefined]>>();

before(async () => {
  if (skip) return;
  run = await createTestRun(virsh);
  const build = path.join(path.dirname(SETUP_HOST_SCRIPT), 'build-test-template.sh');
  await execa('bash', [build, '--catalogue', run.templatesDir], { stdin: 'ignore', timeout: 600_000 });
  svc = new AgentProvisioningService(
    { domains: virsh, images: qemuImg, writeSeedIso: (files, iso) => writeSeedIso(files, iso), bridgeExists: linuxBridgeExists },
    new TemplateCatalogue(run.templatesDir, qemuImg),
    {
      report: async (_url, xml) => {
        const a = parseRspec(xml).response!.provisioning!.actions[0]!;
        statuses.set(a.id!, [...(statuses.get(a.id!) ?? []), [a.status, a.description]]);
        return true;
      },
    },
    {
      storageRoot: run.root, domainPrefix: run.domainPrefix, domainType: 'qemu', vcpus: 1, maxConcurrentActions: 2, stopGraceSeconds: 5,
      fallbackNetwork: 'default', logger: createLogger({ component: 'test', silent: true }),
    },
  );
});

after(async () => {
  if (skip || !run) return;
  assert.deepEqual(await run.cleanup(), [], 'cleanup problems');
});

/** Runs one action through serialise + parse (as on the wire) and returns its terminal [status, description]. */
async function act(type: string, vmUuid: string, xen: Record<string, unknown> = {}): Promise<[string | undefined, string | undefined]> {
  const id = randomUUID();
  const doc = serialiseRspec({ query: { provisioning: { actions: [{ type, id, server: { virtualizationType: 'kvm', virtualMachines: [{
    name: 'guest1', uuid: vmUuid, projectId: 'p-1', sliceId: 's-1', virtualizationType: 'kvm', xenConfiguration: { hdOriginPath: 'kvm-crm-test', ...xen },
  }] } }] } } }, { dialect: 'manager' });
  svc.submit('https://m.example/xmlrpc/agent', parseRspec(doc).query!.provisioning!.actions as Action[]);
  await svc.idle();
  return statuses.get(id)!.at(-1)!;
}

async function waitFor<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('a real guest sees the grown disk, the data disk and the key; autostart follows start/stop; memory grows live; keep-disks', { skip }, async (t) => {
  const vmUuid = randomUUID();
  const name = svc.domainName(vmUuid);
  const templateMiB = Math.ceil((await qemuImg.info(path.join(run.templatesDir, 'kvm-crm-test', 'kvm-crm-test.qcow2'), 'qcow2')).virtualSizeBytes / 1048576);
  const diskMiB = templateMiB + 64;

  assert.deepEqual(await act('create', randomUUID(), { memoryMb: 128, hdSizeMb: templateMiB - 1 }), ['FAILED', `hd-size-mb ${templateMiB - 1} is smaller than template kvm-crm-test (${templateMiB} MiB): disks are only grown, never shrunk`]);

  let t0 = performance.now();
  assert.deepEqual(await act('create', vmUuid, { memoryMb: 128, maxMemoryMb: 256, hdSizeMb: diskMiB, dataDisks: [{ sizeMb: 48 }], sshKeys: [KEY] }), ['SUCCESS', undefined]);
  t.diagnostic(`create (overlay + resize + data disk + seed + define): ${(performance.now() - t0).toFixed(0)} ms`);
  const paths = svc.vmPaths(vmUuid);
  assert.equal((await qemuImg.info(paths.disk, 'qcow2')).virtualSizeBytes, diskMiB * 1048576);
  assert.deepEqual(await virsh.configMemory(name), { maxMiB: 256, currentMiB: 128 });
  assert.equal(await virsh.autostart(name), false, 'a created VM is not autostart');

  t0 = performance.now();
  assert.deepEqual(await act('start', vmUuid), ['SUCCESS', undefined]);
  assert.equal(await virsh.autostart(name), true, 'virsh dominfo: Autostart enable after start');
  const log = await waitFor('the ready line', 240, async () => {
    const text = await readFile(paths.serialLog, 'utf8').catch(() => '');
    return /kvm-crm-guest (ready|error)[^\n]*\n/.test(text) ? text : undefined;
  });
  t.diagnostic(`start to ready line under TCG: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.doesNotMatch(log, /kvm-crm-guest error/);
  assert.match(log, new RegExp(`kvm-crm-guest disks vda=${diskMiB} vdb=48\\r?\\n`));
  assert.match(log, new RegExp(`kvm-crm-guest key ${sshKeyFingerprint(KEY).replace(/[+/]/g, '\\$&')} ssh-ed25519 ed25519-test\\r?\\n`));
  assert.ok(log.indexOf('kvm-crm-guest key') < log.indexOf('kvm-crm-guest ready'), 'key and disks lines come before the ready line');

  assert.equal(await virsh.maxMemoryMiB(name), 256, 'the running guest can grow to the ceiling');
  const balloon = async (): Promise<number> => Number(/^actual (\d+)/m.exec((await execa('virsh', ['-c', TEST_LIBVIRT_URI, 'dommemstat', '--domain', name])).stdout)?.[1] ?? 0);
  await waitFor('the guest balloon at the boot size, 128 MiB', 60, async () => ((await balloon()) === 128 * 1024 ? true : undefined));
  assert.deepEqual(await act('modify', vmUuid, { memoryMb: 224 }), ['SUCCESS', 'memory 224 MiB applied live and at next start']);
  const actual = await waitFor('the balloon to deflate to 224 MiB', 60, async () => {
    const kib = await balloon();
    return kib === 224 * 1024 ? kib : undefined;
  });
  t.diagnostic(`dommemstat actual after modify: ${actual} KiB`);
  assert.deepEqual(await virsh.configMemory(name), { maxMiB: 256, currentMiB: 224 }, 'the ceiling stays in the definition');

  assert.deepEqual(await act('hardStop', vmUuid), ['SUCCESS', undefined]);
  assert.equal(await virsh.autostart(name), false, 'virsh dominfo: Autostart disable after hardStop');

  assert.deepEqual(await act('delete', vmUuid, { keepDisks: true }), ['SUCCESS', `disks kept on the host in kept-disks/${vmUuid}`]);
  assert.equal(await virsh.domState(name), undefined);
  const kept = path.join(run.root, 'kept-disks', vmUuid);
  assert.deepEqual((await readdir(kept)).sort(), ['data-vdb.qcow2', 'disk.qcow2', 'kept.json']);
  assert.equal((await qemuImg.info(path.join(kept, 'data-vdb.qcow2'), 'qcow2')).virtualSizeBytes, 48 * 1048576);
});
