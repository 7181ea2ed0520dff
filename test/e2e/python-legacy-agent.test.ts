/**
 * Wire compatibility with an independent XML-RPC implementation on the southbound side: a legacy OCF agent
 * written with Python's standard `xmlrpc.server`/`xmlrpc.client` (test/python/legacy_agent.py, plain HTTP,
 * docs/ocf-protocol.md §4) is registered as a legacy server, and the manager drives it through create and delete.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { XmlRpcClient, XmlRpcFaultError } from '@kvm-crm/shared';
import { type Cluster, createQuery, lifecycleQuery, PROJECT_ID, type PythonProcess, readFirstLine, SLICE_ID, startCluster, startPython } from '@kvm-crm/harness';

interface LoggedAction {
  id: string;
  type?: string;
  serverUuid?: string;
  vms: Array<{
    name?: string; uuid?: string; projectId?: string; sliceId?: string; virtualizationType?: string; hdOriginPath?: string;
    configurator?: string | null; memoryMb?: number;
    interfaces: Array<{ ismgmt?: string; name?: string; mac?: string; ip?: string; switchId?: string }>;
  }>;
}

type LogLine =
  | { event: 'listening'; port: number }
  | { event: 'call'; method: string; params: unknown[]; result?: unknown; fault?: string }
  | { event: 'parsed'; callBackUrl: string; amId: unknown; namespace: boolean; provisioning: LoggedAction[]; monitoring: LoggedAction[] }
  | { event: 'sendAsync'; kind: string; url: string; actionId: string; status: string; ok: boolean; error?: string }
  | { event: 'applied'; actionId: string; type: string; vmUuid: string; error: string | null; vms: Record<string, { name: string; running: boolean }> }
  | { event: 'worker-died' | 'not-implemented' | 'unknown-action-type'; actionId?: string; error?: string };

describe('a legacy plain-HTTP OCF agent in Python, driven by the manager', () => {
  let c: Cluster;
  let agent: PythonProcess | undefined;
  let agentPort = 0;
  let logFile = '';
  const agentPassword = `legacy-${randomBytes(6).toString('hex')}`;
  let legacyUuid = '';

  const readLog = async (): Promise<LogLine[]> =>
    (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogLine);

  before(
    async () => {
      c = await startCluster({ withTemplate: false });
      logFile = path.join(c.dir, 'legacy-agent.jsonl');
      agent = startPython('legacy_agent.py', ['--password', agentPassword, '--log', logFile, '--cafile', path.join(c.certsDir, 'ca.crt'), '--templates', 'legacy-tpl'], {
        stderrFile: path.join(c.dir, 'legacy-agent.stderr'),
      });
      agentPort = Number(await readFirstLine(agent));
      assert.ok(agentPort > 0, 'the agent printed its port');
      const registered = await c.admin.call<{ uuid: string }>('server.register', [
        { name: `legacy-${c.runId}`, agentUrl: `http://127.0.0.1:${agentPort}/`, agentPassword, bridges: [`lgbr${c.runId}`], legacy: true },
      ]);
      legacyUuid = registered.uuid;
      await c.admin.call('range.subscribe', [{ server: `legacy-${c.runId}`, kind: 'ipv4', range: `net-${c.runId}` }]);
      await c.admin.call('range.subscribe', [{ server: `legacy-${c.runId}`, kind: 'mac', range: `mac-${c.runId}` }]);
    },
    { timeout: 20 * 60_000 },
  );

  after(async () => {
    await agent?.kill();
    await c?.cleanup();
  });

  test('our XML-RPC client and the Python agent agree on ping, pingAuth and the "Password mismatch" fault', async () => {
    const client = new XmlRpcClient({ url: `http://127.0.0.1:${agentPort}/any/path` });
    assert.equal(await client.call('ping', ['hola']), 'hola');
    assert.equal(await client.call('pingAuth', ['ping', agentPassword]), 'ping');
    assert.deepEqual(await client.call('list_vm_templates', [agentPassword]), ['legacy-tpl']);
    await assert.rejects(client.call('pingAuth', ['ping', 'wrong']), (err: unknown) => {
      assert.ok(err instanceof XmlRpcFaultError, String(err));
      assert.equal(err.faultCode, 1);
      assert.match(err.faultString, /Password mismatch/);
      return true;
    });
  });

  test('a plain http:// agent URL is refused unless the server is registered as legacy', async () => {
    await assert.rejects(
      c.admin.call('server.register', [{ name: `nolegacy-${c.runId}`, agentUrl: `http://127.0.0.1:${agentPort}/`, agentPassword, bridges: [`nlbr${c.runId}`] }]),
      /legacy/,
    );
  });

  test('create then delete: the manager sends both to the agent with its password, and the clearinghouse gets ONGOING and SUCCESS', async () => {
    const name = `legacy-vm-${c.runId}`;
    const create = createQuery({ serverUuid: legacyUuid, name, template: 'legacy-tpl/disk.img' });
    assert.equal(await c.plugin.call('send', [c.clearinghouse.callbackUrl, create.xml]), null);
    const created = await c.clearinghouse.waitForTerminal(create.actionId, 60_000, 1000);
    assert.deepEqual(created.map((s) => s.status), ['ONGOING', 'SUCCESS'], JSON.stringify(created));
    assert.ok(created.every((s) => s.type === 'create'), 'the manager fills in the type the agent omits (§9 item 10)');
    const vm = (await c.admin.call<Array<{ uuid: string; state: string; interfaces: Array<{ mac: string; ip: string; bridge: string }> }>>('vm.list', [{}])).find(
      (v) => v.uuid === create.vmUuid,
    );
    assert.ok(vm, 'the VM is in the manager');
    assert.equal(vm.state, 'created (stopped)');

    const del = lifecycleQuery('delete', { serverUuid: legacyUuid, vmUuid: create.vmUuid, name });
    assert.equal(await c.plugin.call('send', [c.clearinghouse.callbackUrl, del.xml]), null);
    const deleted = await c.clearinghouse.waitForTerminal(del.actionId, 60_000, 1000);
    assert.deepEqual(deleted.map((s) => s.status), ['ONGOING', 'SUCCESS'], JSON.stringify(deleted));
    assert.ok(deleted.every((s) => s.type === 'delete'));
    assert.deepEqual((await c.admin.call<Array<{ uuid: string }>>('vm.list', [{}])).filter((v) => v.uuid === create.vmUuid), []);

    const log = await readLog();
    const sends = log.filter((l): l is Extract<LogLine, { event: 'call' }> => l.event === 'call' && l.method === 'send');
    assert.equal(sends.length, 2, `two send calls: ${JSON.stringify(sends)}`);
    for (const s of sends) {
      assert.equal(s.fault, undefined, `send answered without a fault: ${String(s.fault)}`);
      assert.equal(s.result, '', 'the agent answers "" (§4.2)');
      assert.equal(s.params[2], agentPassword, 'the registered agent password is the third argument');
      assert.equal(s.params[1], 1, 'amId 1 for provisioning (§4.3)');
      assert.match(String(s.params[0]), /^https:\/\/[^:@/]+:[^@/]+@127\.0\.0\.1:\d+\/xmlrpc\/agent\/?$/, 'the manager\'s own callback URL with credentials');
    }
    const parsed = log.filter((l): l is Extract<LogLine, { event: 'parsed' }> => l.event === 'parsed');
    assert.deepEqual(parsed.map((p) => p.provisioning.map((a) => [a.id, a.type])), [[[create.actionId, 'create']], [[del.actionId, 'delete']]]);
    assert.ok(parsed.every((p) => !p.namespace), 'the manager sends no xmlns (§6.1)');

    const [pc] = parsed[0]!.provisioning;
    const rvm = pc!.vms[0]!;
    assert.equal(pc!.serverUuid, legacyUuid);
    assert.equal(rvm.uuid, create.vmUuid);
    assert.equal(rvm.name, name);
    assert.equal(rvm.projectId, PROJECT_ID);
    assert.equal(rvm.sliceId, SLICE_ID);
    assert.equal(rvm.virtualizationType, 'kvm', 'the agent dispatches on the VM virtualization-type (§6.5.1)');
    assert.equal(rvm.hdOriginPath, 'legacy-tpl/disk.img');
    assert.notEqual(rvm.configurator, 'NONE', 'the manager replaces Expedient\'s NONE configurator (§6.5.3)');
    assert.equal(rvm.interfaces.length, 1);
    const nic = rvm.interfaces[0]!;
    assert.equal(nic.ismgmt, 'true');
    assert.equal(nic.name, 'eth0');
    assert.equal(nic.mac, vm.interfaces[0]!.mac);
    assert.equal(nic.ip, vm.interfaces[0]!.ip);
    assert.equal(nic.switchId, `lgbr${c.runId}`, 'switch-id is the bridge the agent plugs the NIC into (§6.5.1)');
    assert.equal(parsed[1]!.provisioning[0]!.vms[0]!.uuid, create.vmUuid);

    const callbacks = log.filter((l): l is Extract<LogLine, { event: 'sendAsync' }> => l.event === 'sendAsync');
    assert.deepEqual(
      callbacks.map((cb) => [cb.actionId, cb.status, cb.ok]),
      [[create.actionId, 'ONGOING', true], [create.actionId, 'SUCCESS', true], [del.actionId, 'ONGOING', true], [del.actionId, 'SUCCESS', true]],
      JSON.stringify(callbacks),
    );
    const applied = log.filter((l): l is Extract<LogLine, { event: 'applied' }> => l.event === 'applied');
    assert.deepEqual(applied.map((a) => [a.type, a.error]), [['create', null], ['delete', null]]);
    assert.deepEqual(applied[1]!.vms, {}, 'the agent holds no VM after the delete');
    assert.deepEqual(log.filter((l) => l.event === 'worker-died'), []);
  });
});
