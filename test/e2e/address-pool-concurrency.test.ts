/**
 * Address pool under concurrency (issue 4): two vt-manager processes on one MariaDB database, one legacy OCF agent
 * (test/python/legacy_agent.py, in-memory VMs, quick answers) and a test clearinghouse. 200 creates are sent at
 * once, 100 to each manager, against an IPv4 pool of 50 usable addresses (a range of 53 with 3 excluded) and a MAC
 * range of 256. Exactly 50 must succeed and 150 fail with "IPv4 pool exhausted"; no IPv4 or MAC address may be
 * handed out twice; each VM that exists owns exactly one of each. Then all 50 VMs are deleted concurrently through
 * both managers, and the pool must be whole again (nothing allocated, the excluded addresses still excluded).
 *
 * Needs the MariaDB test server (scripts/setup-mariadb.sh, /var/lib/kvm-crm-test/mariadb.json or
 * KVMCRM_TEST_MYSQL_URL); skipped without one unless KVMCRM_TEST_REQUIRE_MYSQL or CI is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { connectMysql, createQuery, lifecycleQuery, startManagerProcesses, testDatabaseOrSkip } from '@kvm-crm/harness';

const POOL = 50;
const CREATES = 200;
const EXCLUDED = ['10.78.0.20', '10.78.0.40', '10.78.0.60'];

test('200 concurrent creates on two managers against a pool of 50: 50 succeed, 150 pool exhausted, no address twice, pool whole after deletes', { timeout: 4 * 60_000 }, async (t) => {
  const onServer = await testDatabaseOrSkip(t);
  if (!onServer) return;
  const { settings, database } = onServer;
  const started = Date.now();

  const bed = await startManagerProcesses(t, {
    dirPrefix: 'kvmcrm-pool-',
    database: database.config,
    managers: ['a', 'b'],
    agentDelay: '0.05',
    config: { actionTimeoutSeconds: 60 },
  }).catch(async (err: unknown) => {
    await database.drop();
    throw err;
  });
  // Registered after the managers' clean-up, so it runs after it (after-hooks run in registration order).
  t.after(() => database.drop());
  const { clearinghouse, plugin } = bed;
  await bed.start('a'); // A migrates first
  await bed.start('b');
  const adminA = bed.admin.a;
  // 10.78.0.10–10.78.0.62: 53 addresses, 3 excluded → 50 to hand out. MACs: 256.
  const { serverUuid } = await bed.registerLegacyServer({
    ipv4: { start: '10.78.0.10', end: '10.78.0.62', netmask: '255.255.255.0', gateway: '10.78.0.1', excluded: EXCLUDED },
    mac: { start: '02:fe:78:00:00:00', end: '02:fe:78:00:00:ff' },
  });

  // No warm-up: the 200 creates are also the first to name their project, so they race on the project claim
  // too (the unique index on project_owner decides; the losers read the winner and proceed).
  // 200 creates, one `send` each, all at once, alternating between the managers (100 each).
  const creates = Array.from({ length: CREATES }, (_, i) => ({ ...createQuery({ serverUuid, name: `pool${i}`, template: 'tpl' }), name: `pool${i}`, via: (i % 2 === 0 ? 'a' : 'b') as 'a' | 'b' }));
  const sendStarted = Date.now();
  await Promise.all(creates.map((c, i) => plugin[c.via].call('send', [clearinghouse.callbackUrl, c.xml])));
  const accepted = Date.now() - sendStarted;
  for (const c of creates) await clearinghouse.waitForTerminal(c.actionId, Math.max(1000, 120_000 - (Date.now() - sendStarted)), 0);
  const allTerminal = Date.now() - sendStarted;

  const outcomes = creates.map((c) => {
    const terminal = clearinghouse.statuses(c.actionId).filter((s) => s.status === 'SUCCESS' || s.status === 'FAILED');
    assert.equal(terminal.length, 1, `${c.actionId}: exactly one terminal status, got ${JSON.stringify(clearinghouse.statuses(c.actionId))}`);
    return { ...c, status: terminal[0]!.status, description: terminal[0]!.description ?? '' };
  });
  const succeeded = outcomes.filter((o) => o.status === 'SUCCESS');
  const failed = outcomes.filter((o) => o.status === 'FAILED');
  const otherFailures = failed.filter((o) => !o.description.startsWith('IPv4 pool exhausted'));
  t.diagnostic(`200 sends accepted in ${accepted} ms, all terminal after ${allTerminal} ms: ${succeeded.length} SUCCESS, ${failed.length} FAILED`);
  t.diagnostic(`successes via A: ${succeeded.filter((o) => o.via === 'a').length}, via B: ${succeeded.filter((o) => o.via === 'b').length}`);
  const reasons = new Map<string, number>();
  for (const o of failed) reasons.set(o.description, (reasons.get(o.description) ?? 0) + 1);
  t.diagnostic(`failure reasons: ${JSON.stringify([...reasons])}`);
  assert.deepEqual(otherFailures.map((o) => o.description), [], 'every failure is "IPv4 pool exhausted"');
  assert.equal(succeeded.length, POOL);
  assert.equal(failed.length, CREATES - POOL);

  // The database: 50 distinct addresses, each owned by one successful VM, nothing shared.
  const db = await connectMysql(settings, { database: database.name });
  t.after(() => db.end());
  const rows = async <T>(sql: string): Promise<T[]> => (await db.query<mysql.RowDataPacket[]>(sql))[0] as T[];
  const count = async (sql: string): Promise<number> => Number((await rows<{ n: number }>(sql))[0]!.n);
  const successVms = new Set(succeeded.map((o) => o.vmUuid));

  const vmRows = await rows<{ uuid: string }>('SELECT uuid FROM virtual_machine');
  assert.deepEqual(new Set(vmRows.map((r) => r.uuid)), successVms, 'the VMs that exist are those whose create succeeded');
  const ipSlots = await rows<{ address: number; vmUuid: string }>('SELECT address, vmUuid FROM ipv4_slot WHERE excluded = 0');
  const macSlots = await rows<{ address: number; vmUuid: string }>('SELECT address, vmUuid FROM mac_slot WHERE excluded = 0');
  assert.equal(ipSlots.length, POOL, 'IPv4 slots allocated');
  assert.equal(new Set(ipSlots.map((s) => Number(s.address))).size, POOL, 'no IPv4 address twice');
  assert.deepEqual(new Set(ipSlots.map((s) => s.vmUuid)), successVms, 'each successful VM owns one IPv4 address');
  assert.equal(macSlots.length, POOL, 'MAC slots allocated');
  assert.equal(new Set(macSlots.map((s) => Number(s.address))).size, POOL, 'no MAC address twice');
  assert.deepEqual(new Set(macSlots.map((s) => s.vmUuid)), successVms, 'each successful VM owns one MAC address');
  const ifaces = await rows<{ ip: string | null; mac: string }>('SELECT ip, mac FROM vm_interface');
  const ips = ifaces.map((r) => r.ip).filter((ip): ip is string => ip !== null);
  assert.equal(ips.length, POOL);
  assert.equal(new Set(ips).size, POOL, 'no IPv4 address on two interfaces');
  assert.equal(new Set(ifaces.map((r) => r.mac)).size, ifaces.length, 'no MAC address on two interfaces');
  for (const ip of EXCLUDED) assert.ok(!ips.includes(ip), `excluded ${ip} was handed out`);
  t.diagnostic(`allocated IPv4 ${[...ips].sort((x, y) => Number(x.split('.')[3]) - Number(y.split('.')[3])).join(' ')}`);

  // Delete all 50 at once, through both managers.
  const deletes = succeeded.map((o) => lifecycleQuery('delete', { serverUuid, vmUuid: o.vmUuid, name: o.name }));
  const deleteStarted = Date.now();
  await Promise.all(deletes.map((d, i) => (i % 2 === 0 ? plugin.a : plugin.b).call('send', [clearinghouse.callbackUrl, d.xml])));
  for (const d of deletes) await clearinghouse.waitForTerminal(d.actionId, Math.max(1000, 60_000 - (Date.now() - deleteStarted)), 0);
  const deleteFailures = deletes
    .map((d) => clearinghouse.statuses(d.actionId).find((s) => s.status === 'SUCCESS' || s.status === 'FAILED')!)
    .filter((s) => s.status !== 'SUCCESS');
  t.diagnostic(`50 deletes terminal after ${Date.now() - deleteStarted} ms`);
  assert.deepEqual(deleteFailures, [], 'every delete succeeded');

  // The pool is whole again.
  assert.equal(await count('SELECT COUNT(*) AS n FROM virtual_machine'), 0);
  assert.equal(await count('SELECT COUNT(*) AS n FROM vm_interface'), 0);
  assert.equal(await count('SELECT COUNT(*) AS n FROM ipv4_slot WHERE excluded = 0'), 0);
  assert.equal(await count('SELECT COUNT(*) AS n FROM mac_slot WHERE excluded = 0'), 0);
  assert.equal(await count('SELECT COUNT(*) AS n FROM ipv4_slot WHERE vmUuid IS NOT NULL'), 0);
  assert.equal(await count('SELECT COUNT(*) AS n FROM ipv4_slot WHERE excluded = 1'), EXCLUDED.length);
  const ranges = await adminA.call<Array<{ kind: string; name: string; size: number; allocated: number; excluded?: number }>>('range.list', []);
  const net = ranges.find((r) => r.kind === 'ipv4' && r.name === 'net');
  const mac = ranges.find((r) => r.kind === 'mac' && r.name === 'mac');
  assert.deepEqual({ size: net?.size, allocated: net?.allocated, excluded: net?.excluded }, { size: POOL + EXCLUDED.length, allocated: 0, excluded: EXCLUDED.length });
  assert.deepEqual({ size: mac?.size, allocated: mac?.allocated }, { size: 256, allocated: 0 });
  t.diagnostic(`whole test body ${Date.now() - started} ms`);
});
