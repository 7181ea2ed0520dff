/**
 * Decision 041: libvirtd restarts (a package upgrade, an operator) under a running agent. The agent's held-open
 * connections (the python3-libvirt helper) see their sockets close through libvirt's event loop and open new ones,
 * so the next creates (domstate, define) and starts (start, autostart) — changes, which are never retried on a
 * broken connection — end SUCCESS, as they did when every call was a fresh `virsh` run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQuery, lifecycleQuery, type MultiHostCluster, restartLibvirtd, startCluster, virsh } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';

describe('libvirtd restarted under a running agent', () => {
  let c: MultiHostCluster;

  before(async () => {
    c = await startCluster({ hosts: 1, monitoring: { intervalSeconds: 0 } });
  });
  after(async () => {
    await c?.cleanup();
  });

  /** Sends one action through the plugin API and returns its statuses once terminal. */
  async function run(q: { xml: string; actionId: string }): Promise<string[]> {
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml]);
    return (await c.clearinghouse.waitForTerminal(q.actionId, 120_000, 0)).map((s) => `${s.status}${s.status === 'FAILED' ? `: ${s.description}` : ''}`);
  }

  test('the next creates and starts end SUCCESS', { timeout: 600_000 }, async () => {
    const host = c.hosts[0]!;
    /** Three creates at once, then their three starts at once (each a start and an autostart call: six changes). */
    const createAndStart = async (tag: string) => {
      const qs = [1, 2, 3].map((i) => ({ name: `lvr-${tag}${i}-${c.runId}`, q: createQuery({ serverUuid: host.serverUuid, name: `lvr-${tag}${i}-${c.runId}`, template: TEMPLATE }) }));
      const created = await Promise.all(qs.map(({ q }) => run(q)));
      const started = await Promise.all(qs.map(({ name, q }) => run(lifecycleQuery('start', { serverUuid: host.serverUuid, vmUuid: q.vmUuid, name }))));
      return { created, started, domains: qs.map(({ q }) => `${host.domainPrefix}${q.vmUuid}`) };
    };
    const ok = [['ONGOING', 'SUCCESS'], ['ONGOING', 'SUCCESS'], ['ONGOING', 'SUCCESS']];
    // Before: the helper's worker threads have open connections (several at once).
    const before = await createAndStart('a');
    assert.deepEqual([before.created, before.started], [ok, ok]);

    await restartLibvirtd();

    // After: each change lands on a worker whose connection libvirtd closed; it must be seen closed and replaced
    // (without libvirt's event loop in the helper, isAlive() still says 1 and the call fails "Broken pipe").
    const after = await createAndStart('b');
    assert.deepEqual(after.created, ok, 'creates (define) after the restart');
    assert.deepEqual(after.started, ok, 'starts (start, autostart) after the restart');
    for (const d of after.domains) assert.match((await virsh('domstate', d)).stdout, /running/);
  });
});
