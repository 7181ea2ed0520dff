/**
 * The agent's metrics and readiness (decision record 028) without libvirt: actions and command durations land in
 * the instance's registry with bounded labels; the scrape-time gauges count only our domains (by prefix) and the
 * storage root's file system; a failed libvirt read leaves those gauges out instead of failing the scrape; the
 * readiness checks name libvirt and an unwritable storage root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runReadinessChecks } from '@kvm-crm/shared';
import { agentReadinessChecks, createAgentMetrics } from '../../dist/agent-observability.js';

test('agent metrics: actions, commands, outbox, our domains by state, storage; libvirt down leaves only its gauges out', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-agent-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { metrics, attach } = createAgentMetrics();
  let libvirtDown = false;
  attach({
    listDomains: async () => {
      if (libvirtDown) throw new Error('failed to connect to the hypervisor');
      return [
        { name: 'kvmcrm-a', uuid: 'u1', state: 'running' }, { name: 'kvmcrm-b', uuid: 'u2', state: 'running' },
        { name: 'kvmcrm-c', uuid: 'u3', state: 'shut off' }, { name: 'someone-else', uuid: 'u4', state: 'running' },
      ];
    },
    outboxEntries: () => 3,
    storageRoot: dir,
    domainPrefix: 'kvmcrm-',
  });
  metrics.actionFinished('create', 'SUCCESS', 2);
  metrics.actionFinished('create', 'FAILED', 1);
  metrics.actionFinished('bogus', 'FAILED', 1);
  metrics.command('virsh', 'define', 0.05, false);
  metrics.command('qemu-img', 'create', 0.2, true);
  metrics.xmlrpc.call('send', undefined, 0.01);
  metrics.xmlrpc.refused(403);
  const text = await metrics.registry.metrics();
  assert.match(text, /^kvmcrm_agent_actions_total\{type="create",result="SUCCESS"\} 1$/m);
  assert.match(text, /^kvmcrm_agent_actions_total\{type="other",result="FAILED"\} 1$/m, 'unknown types bounded');
  assert.match(text, /^kvmcrm_agent_command_duration_seconds_count\{program="virsh",command="define",result="ok"\} 1$/m);
  assert.match(text, /^kvmcrm_agent_command_duration_seconds_count\{program="qemu-img",command="create",result="error"\} 1$/m);
  assert.match(text, /^kvmcrm_agent_xmlrpc_requests_total\{method="send",fault=""\} 1$/m);
  assert.match(text, /^kvmcrm_agent_auth_failures_total\{endpoint="xmlrpc",status="403"\} 1$/m);
  assert.match(text, /^kvmcrm_agent_status_outbox_entries 3$/m);
  assert.match(text, /^kvmcrm_agent_domains\{state="running"\} 2$/m, 'only our prefix');
  assert.match(text, /^kvmcrm_agent_domains\{state="shut off"\} 1$/m);
  const free = Number(/^kvmcrm_agent_storage_free_bytes (\d+)$/m.exec(text)?.[1]);
  const size = Number(/^kvmcrm_agent_storage_size_bytes (\d+)$/m.exec(text)?.[1]);
  assert.ok(free > 0 && size >= free, `free ${free} of ${size}`);

  libvirtDown = true;
  await new Promise((r) => setTimeout(r, 1100)); // past the one-second snapshot sharing
  const down = await metrics.registry.metrics();
  assert.doesNotMatch(down, /^kvmcrm_agent_domains\{/m, 'no stale domain counts');
  assert.match(down, /^kvmcrm_agent_status_outbox_entries nan$/im, 'unlabelled gauges of the failed read: NaN');
  assert.match(down, /^kvmcrm_agent_actions_total\{type="create",result="SUCCESS"\} 1$/m, 'counters still served');
});

test('agent readiness: libvirt and storage checks name what failed; the probe file does not stay', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-agent-ready-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ok = await runReadinessChecks(agentReadinessChecks({ version: async () => 'Compiled against library: libvirt 9.0.0' }, dir));
  assert.equal(ok.ready, true, JSON.stringify(ok));
  assert.deepEqual(await readdir(dir), [], 'the probe file was removed');

  const missing = path.join(dir, 'no-such-dir');
  const bad = await runReadinessChecks(agentReadinessChecks({ version: async () => { throw new Error('error: failed to connect to the hypervisor'); } }, missing));
  assert.deepEqual(bad.failed, ['libvirt', 'storage']);
  assert.match(bad.checks.find((c) => c.name === 'libvirt')?.error ?? '', /failed to connect/);
  assert.match(bad.checks.find((c) => c.name === 'storage')?.error ?? '', /ENOENT/);

  if (process.getuid?.() !== 0) { // root writes anywhere: a read-only folder only stops others
    await chmod(dir, 0o500);
    t.after(() => chmod(dir, 0o700));
    assert.deepEqual((await runReadinessChecks(agentReadinessChecks({ version: async () => '' }, dir))).failed, ['storage']);
  }
});
