import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '@kvm-crm/shared';
import { PROBE_MARKER, buildProbeBootSector } from '../../dist/domain/probe-boot-sector.js';
import { probeHypervisor, runBootProbe } from '../../dist/services/hypervisor-probe.js';

test('the probe boot sector is 512 bytes with the MBR signature and the marker', () => {
  const s = buildProbeBootSector();
  assert.equal(s.length, 512);
  assert.equal(s[510], 0x55);
  assert.equal(s[511], 0xaa);
  assert.ok(s.includes(Buffer.from(PROBE_MARKER, 'ascii')));
  assert.throws(() => buildProbeBootSector(''), InputError);
  assert.throws(() => buildProbeBootSector('x'.repeat(161)), InputError);
  assert.throws(() => buildProbeBootSector('é'), InputError);
});

test('configured domain types are returned without probing', async () => {
  assert.deepEqual(await probeHypervisor({ mode: 'qemu', qemuBinary: '/nonexistent' }), {
    domainType: 'qemu',
    reason: 'domain type qemu set by configuration (not probed)',
    probeMs: 0,
  });
  assert.equal((await probeHypervisor({ mode: 'kvm', qemuBinary: '/nonexistent' })).domainType, 'kvm');
  await assert.rejects(probeHypervisor({ mode: 'xen' as 'kvm' }), InputError);
});

async function probeTmp(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-probe-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the boot sector reaches long mode under TCG (proves the probe itself)', async (t) => {
  const tmpDir = await probeTmp(t);
  const r = await runBootProbe('tcg', { tmpDir, timeoutSeconds: 20 });
  t.diagnostic(`tcg probe: ${JSON.stringify(r)}`);
  assert.equal(r.ok, true, r.detail);
  assert.deepEqual(await readdir(tmpDir), [], 'probe files removed');
});

test('auto mode picks kvm only when the KVM probe boots; reports why', async (t) => {
  const tmpDir = await probeTmp(t);
  const kvm = await runBootProbe('kvm', { tmpDir });
  t.diagnostic(`kvm probe: ${JSON.stringify(kvm)}`);
  const choice = await probeHypervisor({ tmpDir });
  t.diagnostic(`choice: ${JSON.stringify(choice)}`);
  assert.equal(choice.domainType, kvm.ok ? 'kvm' : 'qemu');
  assert.ok(choice.reason.length > 0);
  assert.ok(choice.probeMs > 0 && choice.probeMs < 10_000);
  assert.deepEqual(await readdir(tmpDir), []);
});

test('a missing emulator means qemu (TCG) with the reason', async () => {
  const choice = await probeHypervisor({ qemuBinary: '/nonexistent/qemu-system-x86_64' });
  assert.equal(choice.domainType, 'qemu');
  assert.match(choice.reason, /exited before the marker|ENOENT|never ran/);
});
