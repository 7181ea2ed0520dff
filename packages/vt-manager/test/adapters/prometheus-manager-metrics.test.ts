/**
 * The manager's metrics (decision record 028) on both engines (`[sqlite]`, `[mysql]`): the action counters move once
 * per finished action through the real ProvisioningService, and the scrape-time gauges (actions in flight, outbox
 * depth and age, agent reachability, capacity, VMs by state, address pools) match what the database holds, read
 * through the manager's own registry (never prom-client's global one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetricsRegistry } from '@kvm-crm/shared';
import { register as globalRegistry } from 'prom-client';
import { PrometheusManagerMetrics } from '../../dist/adapters/prometheus-manager-metrics.js';
import { MacSlot } from '../../dist/db/entities/mac-slot.js';
import { Server } from '../../dist/db/entities/server.js';
import { AllocationRepository } from '../../dist/repositories/allocation-repository.js';
import { NotificationRepository } from '../../dist/repositories/notification-repository.js';
import { CapacityService } from '../../dist/services/capacity-service.js';
import { MetricsSnapshotService } from '../../dist/services/metrics-snapshot-service.js';
import { addHostWithFacts } from '../../dist/testing/capacity-fakes.js';
import { agentStatus, CLIENT_CB, createAction, openWorld, provisionVm, query, SERVER_UUID, waitFor } from '../../dist/testing/fakes.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';

const RATIOS = { cpuOvercommit: 4, memoryOvercommit: 1, diskOvercommit: 1 };
const MIB = 1024 * 1024;

type Labels = Record<string, string | number>;

/** The value of metric `name` with exactly these labels (undefined when absent), from a scrape of `m`'s registry. */
async function valueOf(m: PrometheusManagerMetrics, name: string, labels: Labels = {}): Promise<number | undefined> {
  const all = await m.registry.getMetricsAsJSON();
  const metric = all.find((x) => x.name === name) ?? all.find((x) => String(x.type) === 'histogram' && /_(count|sum|bucket)$/.test(name) && name.startsWith(`${x.name}_`));
  assert.ok(metric, `metric ${name} is registered`);
  const want = JSON.stringify(Object.entries(labels).map(([k, v]) => [k, String(v)]).sort());
  const rows = metric.values as Array<{ labels: Labels; value: number; metricName?: string }>;
  const row = rows.find((v) => (v.metricName ?? metric.name) === name && JSON.stringify(Object.entries(v.labels).map(([k, x]) => [k, String(x)]).sort()) === want);
  return row?.value;
}

forEachEngine('manager metrics: action counters move once per finished action; gauges match the database', async (t, engine) => {
  let metrics: PrometheusManagerMetrics | undefined;
  const w = await openWorld(t, { engine, metrics: { actionFinished: (...a) => metrics?.actionFinished(...a) } });
  const snapshots = new MetricsSnapshotService(() => w.tx.manager, RATIOS);
  metrics = new PrometheusManagerMetrics(createMetricsRegistry(), () => snapshots.read(), 0);
  await addHostWithFacts(w, 'kvm1', SERVER_UUID, 30, { memoryTotalMiB: 4096, cpus: 2, storageTotalGiB: 100 });

  assert.equal(await valueOf(metrics, 'kvmcrm_actions_total', { type: 'create', result: 'SUCCESS' }), undefined, 'nothing counted yet');
  await provisionVm(w, { name: 'vm0', memoryMb: 512 }, { start: true });
  assert.equal(await valueOf(metrics, 'kvmcrm_actions_total', { type: 'create', result: 'SUCCESS' }), 1);
  assert.equal(await valueOf(metrics, 'kvmcrm_actions_total', { type: 'start', result: 'SUCCESS' }), 1);
  assert.equal(await valueOf(metrics, 'kvmcrm_action_duration_seconds_count', { type: 'create' }), 1, 'one duration observed');

  // A second SUCCESS for the same action changes nothing (finished exactly once).
  const a = createAction({ name: 'vm1', memoryMb: 256 });
  await w.provisioning.submit(CLIENT_CB, query(a));
  await waitFor('the create to reach the agent', () => w.agent.sent.some((s) => s.xml.includes(a.id)));
  const queued = (await valueOf(metrics, 'kvmcrm_actions_in_flight', { type: 'create', status: 'QUEUED' })) ?? 0;
  const ongoing = (await valueOf(metrics, 'kvmcrm_actions_in_flight', { type: 'create', status: 'ONGOING' })) ?? 0;
  assert.equal(queued + ongoing, 1, 'one create in flight');
  await w.provisioning.handleAgentStatus(agentStatus(a.id, 'FAILED', 'no disk'));
  await w.provisioning.handleAgentStatus(agentStatus(a.id, 'FAILED', 'no disk'));
  assert.equal(await valueOf(metrics, 'kvmcrm_actions_total', { type: 'create', result: 'FAILED' }), 1);
  assert.equal(await valueOf(metrics, 'kvmcrm_actions_in_flight', { type: 'create', status: 'QUEUED' }), undefined, 'nothing in flight');

  // Gauges from the database.
  assert.equal(await valueOf(metrics, 'kvmcrm_vms', { state: 'running' }), 1);
  assert.equal(await valueOf(metrics, 'kvmcrm_agent_up', { server: 'kvm1' }), 1);
  await w.tx.manager.update(Server, { name: 'kvm1' }, { available: false });
  assert.equal(await valueOf(metrics, 'kvmcrm_agent_up', { server: 'kvm1' }), 0, 'an unreachable agent shows 0');
  const report = (await new CapacityService(RATIOS).report(w.tx.manager))[0]!;
  assert.equal(await valueOf(metrics, 'kvmcrm_host_vcpus', { server: 'kvm1' }), 8, '2 CPUs × 4.0');
  assert.equal(await valueOf(metrics, 'kvmcrm_host_vcpus_allocated', { server: 'kvm1' }), report.cpus.used);
  assert.equal(await valueOf(metrics, 'kvmcrm_host_memory_bytes', { server: 'kvm1' }), 4096 * MIB);
  assert.equal(await valueOf(metrics, 'kvmcrm_host_memory_allocated_bytes', { server: 'kvm1' }), 512 * MIB);
  assert.equal(await valueOf(metrics, 'kvmcrm_host_disk_bytes', { server: 'kvm1' }), 100 * 1024 * MIB);
  const used = [...(await new AllocationRepository(w.tx.manager).usageByServer()).values()][0]!;
  assert.ok(used.diskMiB > 0);
  assert.equal(await valueOf(metrics, 'kvmcrm_host_disk_allocated_bytes', { server: 'kvm1' }), used.diskMiB * MIB);
  assert.equal(await valueOf(metrics, 'kvmcrm_pool_addresses', { kind: 'ipv4', range: 'v4-kvm1' }), 49, '10.30.0.2–.50');
  assert.equal(await valueOf(metrics, 'kvmcrm_pool_free_addresses', { kind: 'ipv4', range: 'v4-kvm1' }), 48, 'one address taken by vm0');
  assert.equal(await valueOf(metrics, 'kvmcrm_pool_addresses', { kind: 'mac', range: 'mac-kvm1' }), 256);
  const macTaken = await w.tx.manager.count(MacSlot);
  assert.ok(macTaken >= 1);
  assert.equal(await valueOf(metrics, 'kvmcrm_pool_free_addresses', { kind: 'mac', range: 'mac-kvm1' }), 256 - macTaken, 'allocated and excluded MACs are not free');

  assert.equal(await valueOf(metrics, 'kvmcrm_notification_outbox_rows'), 0);
  assert.equal(await valueOf(metrics, 'kvmcrm_notification_outbox_oldest_age_seconds'), 0, 'empty outbox: age 0');
  await new NotificationRepository(w.tx.manager).insert({ callbackUrl: 'https://ch.example/cb', documents: ['<x/>'], dueAt: new Date() });
  await new Promise((r) => setTimeout(r, 1100)); // MySQL DATETIME keeps whole seconds
  assert.equal(await valueOf(metrics, 'kvmcrm_notification_outbox_rows'), 1);
  const age = (await valueOf(metrics, 'kvmcrm_notification_outbox_oldest_age_seconds'))!;
  assert.ok(age >= 1 && age < 60, `oldest row age ${age} s`);

  // Our own registry: the process-wide default registry holds none of it.
  assert.equal(globalRegistry.getSingleMetric('kvmcrm_actions_total'), undefined);
  assert.ok((await metrics.registry.metrics()).includes('nodejs_eventloop_lag_seconds'), 'default metrics in the instance registry');
});

test('manager metrics: delivery failures, auth failures and XML-RPC calls; unknown action types and methods stay bounded', async () => {
  const m = new PrometheusManagerMetrics(createMetricsRegistry(), async () => ({ actionsInFlight: [], outbox: { rows: 0, oldestAgeSeconds: 0 }, vmsByState: [], hosts: [], pools: [] }));
  m.deliveryFailed(false);
  m.deliveryFailed(false);
  m.deliveryFailed(true);
  assert.equal(await valueOf(m, 'kvmcrm_callback_delivery_failures_total', { outcome: 'retry' }), 2);
  assert.equal(await valueOf(m, 'kvmcrm_callback_delivery_failures_total', { outcome: 'given_up' }), 1);
  m.actionFinished('no-such-type', 'FAILED', 1);
  assert.equal(await valueOf(m, 'kvmcrm_actions_total', { type: 'other', result: 'FAILED' }), 1);
  const o = m.xmlrpc('plugin');
  o.call('ListResources', undefined, 0.01);
  o.call('ListResources', 'InputError', 0.01);
  o.refused(401);
  assert.equal(await valueOf(m, 'kvmcrm_xmlrpc_requests_total', { endpoint: 'plugin', method: 'ListResources', fault: '' }), 1);
  assert.equal(await valueOf(m, 'kvmcrm_xmlrpc_requests_total', { endpoint: 'plugin', method: 'ListResources', fault: 'InputError' }), 1);
  assert.equal(await valueOf(m, 'kvmcrm_auth_failures_total', { endpoint: 'plugin', status: 401 }), 1);
  // Two registries in one process do not share counters.
  const other = new PrometheusManagerMetrics(createMetricsRegistry(), async () => ({ actionsInFlight: [], outbox: { rows: 0, oldestAgeSeconds: 0 }, vmsByState: [], hosts: [], pools: [] }));
  assert.equal(await valueOf(other, 'kvmcrm_callback_delivery_failures_total', { outcome: 'retry' }), undefined);
});
