/**
 * Hostile intake (issue 9 items 8, 9, 12, 13; docs/decisions/015-quotas-and-intake-limits.md), over the real
 * transports of one real cluster: each case asserts the exact fault or FAILED reason the caller gets, and that
 * nothing changed (every DB row, the run's domains, the agent's files: packages/harness/src/state-snapshot.ts).
 * No VM boots (`withTemplate: false`): every case is refused at the manager.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { XmlRpcClient, XmlRpcFaultError } from '@kvm-crm/shared';
import { allowLoopbackCallbacks, assertUnchanged, type Cluster, createQuery, snapshot, startCluster, xmlEscape } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('hostile intake: a clear error, and nothing changes', () => {
  let c: Cluster;
  /** A clearinghouse principal added by the admin (so it has the default quota), then limited to 0 VMs. */
  let rival: XmlRpcClient;
  let rivalName: string;

  before(async () => {
    c = await startCluster({ withTemplate: false });
    rivalName = `rival-${c.runId}`;
    const rivalPassword = randomBytes(12).toString('hex');
    await c.admin.call('user.add', [{ name: rivalName, password: rivalPassword, roles: ['clearinghouse'] }]);
    await allowLoopbackCallbacks(c.admin, rivalName); // its callbacks go to the test clearinghouse on 127.0.0.1 (decision 014)
    rival = new XmlRpcClient({ url: `https://${rivalName}:${rivalPassword}@127.0.0.1:${c.manager.port}/xmlrpc/plugin`, tls: { ca: c.ca.certPem } });
  });

  after(async () => {
    await c?.cleanup();
  });

  /** Snapshot, `act`, let background work settle, snapshot again: nothing may have changed. */
  async function unchanged<T>(label: string, act: () => Promise<T>): Promise<T> {
    const before = await snapshot(c);
    const result = await act();
    await sleep(500);
    assertUnchanged(before, await snapshot(c), label);
    return result;
  }

  /** The faultString of a call that must fail with an XML-RPC fault. */
  async function fault(call: Promise<unknown>): Promise<string> {
    try {
      assert.fail(`expected a fault, got ${JSON.stringify(await call)}`);
    } catch (err) {
      if (err instanceof XmlRpcFaultError) return err.faultString;
      throw err;
    }
  }

  /** `send` through `client`; the single FAILED (refused before it was stored) and its reason. */
  async function refusal(xml: string, actionId: string, client: XmlRpcClient = c.plugin): Promise<string> {
    assert.equal(await client.call('send', [c.clearinghouse.callbackUrl, xml]), null, 'send returns nil');
    const statuses = await c.clearinghouse.waitForTerminal(actionId, 30_000);
    assert.deepEqual(statuses.map((s) => s.status), ['FAILED'], JSON.stringify(statuses));
    return statuses[0]!.description ?? '';
  }

  /** A create with `from` replaced by `to` (raw XML). */
  function createWith(from: string, to: string): { xml: string; actionId: string } {
    const q = createQuery({ serverUuid: c.serverUuid, name: `x-${randomBytes(3).toString('hex')}`, template: TEMPLATE });
    const xml = q.xml.replace(from, to);
    assert.notEqual(xml, q.xml, 'the hostile replacement applied');
    return { xml, actionId: q.actionId };
  }

  test('a non-ASCII project-name is refused before anything is stored; listResources keeps answering', async () => {
    const q = createWith('<project-name>demo-project</project-name>', '<project-name>Café-Ω</project-name>');
    await unchanged('project-name Café-Ω', async () => {
      assert.equal(await refusal(q.xml, q.actionId), 'project-name must be printable ASCII of at most 255 characters');
      const [, listing] = await c.plugin.call<[string, string]>('listResources', ['0', 'None', 'None']);
      assert.match(listing, /<rspec/);
    });
  });

  const FIELDS: Array<[string, string, string, string]> = [
    ['hd-size-mb -1', '<hd-size-mb>8200</hd-size-mb>', '<hd-size-mb>-1</hd-size-mb>', 'hd-size-mb must be an integer from 1 to 16777216'],
    ['hd-size-mb 10^9', '<hd-size-mb>8200</hd-size-mb>', '<hd-size-mb>1000000000</hd-size-mb>', 'hd-size-mb must be an integer from 1 to 16777216'],
    ['a 300-character hd-setup-type', '<hd-setup-type>file-image</hd-setup-type>', `<hd-setup-type>${'x'.repeat(300)}</hd-setup-type>`, 'hd-setup-type must be one of file-image, logical-volume-image, full-file-image'],
    ['virtualization-setup-type with shell metacharacters', '<virtualization-setup-type>hvm</virtualization-setup-type>', `<virtualization-setup-type>${xmlEscape('hvm;$(reboot)&')}</virtualization-setup-type>`, 'virtualization-setup-type must be one of paravirtualization, hvm'],
    ['a 300-character slice-name', '<slice-name>demo-slice</slice-name>', `<slice-name>${'s'.repeat(300)}</slice-name>`, 'slice-name must be printable ASCII of at most 255 characters'],
  ];
  for (const [what, from, to, reason] of FIELDS) {
    test(`${what} is refused with a clear reason; nothing is stored or forwarded`, async () => {
      const q = createWith(from, to);
      await unchanged(what, async () => assert.equal(await refusal(q.xml, q.actionId), reason));
    });
  }

  test('a message with 65 actions gets one fault for the whole send; nothing is stored', async () => {
    const queries = Array.from({ length: 65 }, () => createQuery({ serverUuid: c.serverUuid, name: `m-${randomBytes(3).toString('hex')}`, template: TEMPLATE }));
    const actions = queries.map((q) => /<action [\s\S]*?<\/action>/.exec(q.xml)![0]);
    const xml = queries[0]!.xml.replace(/<action [\s\S]*<\/action>/, actions.join(''));
    await unchanged('65 actions', async () => {
      assert.equal(await fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, xml])), 'InputError: the message holds 65 actions; at most 64 per message');
    });
    assert.deepEqual(c.clearinghouse.statuses(queries[0]!.actionId), [], 'no status for any of them');
  });

  test('a new clearinghouse principal has the default quota; admins and config principals have none', async () => {
    const users = await unchanged('user.list', () => c.admin.call<Array<{ name: string; quota: unknown }>>('user.list', []));
    const quota = Object.fromEntries(users.map((u) => [u.name, u.quota]));
    assert.deepEqual(quota[rivalName], { vms: 50, vcpus: 200, memoryMib: 262144, addresses: 50 });
    assert.equal(quota['admin'], 'none');
    assert.equal(quota['expedient'], 'none');
  });

  test('a create past the principal\'s quota FAILS with "quota exceeded", naming the limit, the usage and the request', async () => {
    assert.deepEqual(await c.admin.call('user.setQuota', [{ name: rivalName, vms: 0 }]), { name: rivalName, quota: { vms: 0, vcpus: 200, memoryMib: 262144, addresses: 50 } });
    // In a project of its own (the harness's project belongs to the clearinghouse `expedient`).
    const q = createQuery({ serverUuid: c.serverUuid, name: `q-${c.runId}`, template: TEMPLATE, projectId: randomUUID() });
    await unchanged('create over quota', async () => {
      assert.equal(await refusal(q.xml, q.actionId, rival), 'quota exceeded: VMs limit 0, in use 0, requested 1');
    });
  });

  test('set-quota refuses a negative limit and an unknown principal with a clear fault', async () => {
    await unchanged('bad set-quota', async () => {
      assert.equal(await fault(c.admin.call('user.setQuota', [{ name: rivalName, vcpus: -1 }])), 'InputError: vcpus must be a whole number from 0 to 2147483647');
      assert.equal(await fault(c.admin.call('user.setQuota', [{ name: 'nobody-here', vms: 1 }])), 'NotFoundError: no user "nobody-here"');
    });
  });
});
