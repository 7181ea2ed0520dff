/**
 * The hostile-input suite (docs/security.md): each case sends one hostile thing over the real transports (HTTPS
 * XML-RPC to the manager's plugin, admin and agent endpoints, or to the agent) of one real cluster (libvirt, TCG),
 * asserts the exact error the caller gets (fault string, HTTP status, or the FAILED status with its reason that
 * the clearinghouse receives), and proves that nothing changed: every DB row, the run's domains with their states
 * and definitions, and every file of the agent's storage are compared before and after
 * (packages/harness/src/state-snapshot.ts).
 *
 * One legitimate VM (created, not started) is made first, so that the cases that try to touch a VM have a target.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import {
  createCertificateAuthority,
  issueCertificate,
  libvirtEventResponse,
  provisioningStatusResponse,
  serialiseMethodCall,
  serialiseRspec,
  XmlRpcClient,
  XmlRpcFaultError,
} from '@kvm-crm/shared';
import {
  allowLoopbackCallbacks,
  assertUnchanged,
  type Change,
  type Cluster,
  createQuery,
  decodeXmlRpc,
  diffSnapshots,
  faultOf,
  formatChanges,
  lifecycleQuery,
  methodCallXml,
  PROJECT_ID,
  rawPost,
  snapshot,
  startCluster,
  TestClearinghouse,
  virsh,
  xmlEscape,
} from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('hostile input: a clear error, and nothing changes', () => {
  let c: Cluster;
  /** The legitimate VM every "touching" case aims at. */
  let vm: { uuid: string; name: string };
  let legitCreateActionId: string;
  /** A second clearinghouse principal that owns nothing. */
  let rival: XmlRpcClient;
  /** The agent's OCF password (read back from the manager, which stores it sealed). */
  let agentPassword: string;
  /** Things added to the agent's catalogue by the tests; removed in `after`. */
  const extraPaths: string[] = [];
  let managerBase: string;
  let agentUrl: string;
  let pluginCreds: { user: string; pass: string };
  /** The manager's certificate and key, presented when we call the agent directly (as the manager does). */
  let managerClientTls: { cert: string; key: string };
  let agentClient: XmlRpcClient;
  /**
   * Where the agent reports when we call it directly: the agent reports only to a peer with the manager's
   * certificate, so this receiver serves with the manager's certificate and key.
   */
  let statusSink: TestClearinghouse;

  before(async () => {
    c = await startCluster();
    managerBase = `https://127.0.0.1:${c.manager.port}`;
    agentUrl = `https://127.0.0.1:${c.agent.port}/`;
    const u = new URL(c.pluginUrl);
    pluginCreds = { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) };
    const [cert, key] = await Promise.all([readFile(path.join(c.certsDir, 'manager.crt'), 'utf8'), readFile(path.join(c.certsDir, 'manager.key'), 'utf8')]);
    managerClientTls = { cert, key };
    agentClient = new XmlRpcClient({ url: agentUrl, tls: { ca: c.ca.certPem, ...managerClientTls } });
    statusSink = new TestClearinghouse({ certPem: managerClientTls.cert, keyPem: managerClientTls.key }, 'sink', randomBytes(12).toString('hex'));
    await statusSink.start();

    const create = createQuery({ serverUuid: c.serverUuid, name: `legit-${c.runId}`, template: TEMPLATE });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, create.xml]);
    const statuses = await c.clearinghouse.waitForTerminal(create.actionId);
    assert.deepEqual(statuses.map((s) => s.status), ['ONGOING', 'SUCCESS'], `the legitimate VM: ${JSON.stringify(statuses)}`);
    vm = { uuid: create.vmUuid, name: `legit-${c.runId}` };
    legitCreateActionId = create.actionId;

    const rivalName = `rival-${c.runId}`;
    const rivalPassword = randomBytes(12).toString('hex');
    await c.admin.call('user.add', [{ name: rivalName, password: rivalPassword, roles: ['clearinghouse'] }]);
    rival = new XmlRpcClient({ url: `https://${rivalName}:${rivalPassword}@127.0.0.1:${c.manager.port}/xmlrpc/plugin`, tls: { ca: c.ca.certPem } });
    await allowLoopbackCallbacks(c.admin, rivalName); // the test clearinghouse's callback is on 127.0.0.1

    const server = (await c.manager.dataSource.getRepository('Server').findOneByOrFail({ uuid: c.serverUuid })) as { agentPassword: string };
    agentPassword = server.agentPassword;
    assert.ok(agentPassword.length >= 12);
  });

  after(async () => {
    await statusSink?.stop();
    for (const p of extraPaths) await rm(p, { recursive: true, force: true });
    await c?.cleanup();
  });

  /**
   * Snapshot, `act`, let background work settle, snapshot again, and assert nothing changed (except what
   * `allow` accepts; those changes are returned).
   */
  async function unchanged<T>(label: string, act: () => Promise<T>, options: { settleMs?: number; allow?: (c: Change) => boolean } = {}): Promise<{ result: T; allowed: Change[] }> {
    const before = await snapshot(c);
    const result = await act();
    await sleep(options.settleMs ?? 500);
    const after = await snapshot(c);
    const allowed = assertUnchanged(before, after, label, { allow: options.allow });
    return { result, allowed };
  }

  /** The faultString of a call that must fail with an XML-RPC fault. */
  async function fault(call: Promise<unknown>): Promise<string> {
    let value: unknown;
    try {
      value = await call;
    } catch (err) {
      if (err instanceof XmlRpcFaultError) return err.faultString;
      throw err;
    }
    assert.fail(`expected a fault, got ${JSON.stringify(value)}`);
  }

  /**
   * A second registered server (its agent unreachable) and an agent certificate for it, made once. Its monitoring
   * state is settled (`available` false) before it is returned, so that no monitoring round changes it during a case.
   */
  let otherServer: Promise<{ name: string; cert: string; key: string }> | undefined;
  function otherServerCertificate(): Promise<{ name: string; cert: string; key: string }> {
    otherServer ??= (async () => {
      const name = `other-${c.runId}`;
      await c.admin.call('server.register', [{ name, agentUrl: 'https://127.0.0.1:9/', agentPassword: randomBytes(12).toString('hex'), bridges: [c.bridge] }]);
      await c.manager.monitoring.monitorOnce();
      const pair = await issued(name, { role: 'agent', commonName: name });
      return { name, cert: pair.cert, key: pair.key };
    })();
    return otherServer;
  }

  /** `send` through `client` (default: the clearinghouse); the single FAILED (refused before it was stored) and its reason. */
  async function sendExpectingRefusal(xml: string, actionId: string, client: XmlRpcClient = c.plugin): Promise<string> {
    assert.equal(await client.call('send', [c.clearinghouse.callbackUrl, xml]), null, 'send returns nil');
    const statuses = await c.clearinghouse.waitForTerminal(actionId, 30_000);
    assert.deepEqual(statuses.map((s) => s.status), ['FAILED'], `refused before it was stored: ${JSON.stringify(statuses)}`);
    return statuses[0]!.description ?? '';
  }

  /** A create query with one part replaced by hostile text (`<name>`, `<hd-origin-path>`, `<memory-mb>` …). */
  function createWith(replace: (xml: string) => string): { xml: string; actionId: string; vmUuid: string } {
    const q = createQuery({ serverUuid: c.serverUuid, name: 'PLACEHOLDER-NAME', template: TEMPLATE });
    const xml = replace(q.xml);
    assert.notEqual(xml, q.xml, 'the hostile replacement applied');
    return { ...q, xml };
  }
  const withName = (name: string) => createWith((x) => x.replace('<name>PLACEHOLDER-NAME</name>', `<name>${xmlEscape(name)}</name>`));
  const withTemplate = (t: string) => createWith((x) => x.replace(`<hd-origin-path>${TEMPLATE}</hd-origin-path>`, `<hd-origin-path>${xmlEscape(t)}</hd-origin-path>`));
  const withMemory = (m: string) => createWith((x) => x.replace('<memory-mb>128</memory-mb>', `<memory-mb>${xmlEscape(m)}</memory-mb>`));

  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const postPlugin = (body: string | Buffer, authorization: string | null = basic(pluginCreds.user, pluginCreds.pass)) =>
    rawPost({ url: `${managerBase}/xmlrpc/plugin`, body, ca: c.ca.certPem, authorization });
  const postAgent = (body: string | Buffer) => rawPost({ url: agentUrl, body, ca: c.ca.certPem, ...managerClientTls });

  /** A FAILED create refused at the manager on validation: the reason, and the VM never appears. */
  async function refusedCreate(label: string, q: { xml: string; actionId: string; vmUuid: string }, reason: string | RegExp): Promise<void> {
    const { result } = await unchanged(label, () => sendExpectingRefusal(q.xml, q.actionId));
    if (typeof reason === 'string') assert.equal(result, reason);
    else assert.match(result, reason);
  }

  test('control: the snapshot notices a new DB row, a changed file and a changed domain definition', async () => {
    const before = await snapshot(c);
    const probe = path.join(c.storageRoot, 'templates', `probe-${c.runId}`);
    extraPaths.push(probe);
    await writeFile(probe, 'x');
    await c.admin.call('user.add', [{ name: `probe-${c.runId}`, password: randomBytes(12).toString('hex'), roles: ['clearinghouse'] }]);
    const domain = `${c.domainPrefix}${vm.uuid}`;
    assert.equal((await virsh('desc', domain, '--config', '--new-desc', 'probe')).exitCode, 0);
    try {
      const changes = diffSnapshots(before, await snapshot(c));
      const lines = formatChanges(changes);
      assert.ok(changes.some((ch) => ch.kind === 'row-added' && ch.table === 'principal' && ch.row.name === `probe-${c.runId}`), lines);
      assert.ok(changes.some((ch) => ch.kind === 'file-added' && ch.path === `templates/probe-${c.runId}` && ch.entry.sha256 === createHash('sha256').update('x').digest('hex')), lines);
      assert.ok(changes.some((ch) => ch.kind === 'domain-changed' && ch.name === domain && ch.field === 'definitionSha256'), lines);
      assert.deepEqual(assertUnchanged(before, before, 'same'), []);
      assert.throws(() => assertUnchanged(before, { ...before, files: [] }, 'probe'), /^AssertionError.*probe: the state changed[^]*\nfile templates: removed/);
    } finally {
      await virsh('desc', domain, '--config', '--new-desc', '');
      await c.admin.call('user.remove', [{ name: `probe-${c.runId}` }]);
      await rm(probe, { force: true });
    }
  });

  // ---------------------------------------------------------------------------------------------------------------
  // XML-RPC bodies

  const XXE_DOCTYPE = '<!DOCTYPE methodCall [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n';
  const LAUGHS = (root: string) =>
    `<!DOCTYPE ${root} [\n <!ENTITY lol "lol">\n${Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('\n')}\n]>\n`;

  test('XXE (SYSTEM file:///etc/passwd) in the XML-RPC body of /xmlrpc/plugin is refused before parsing', async () => {
    const body = `<?xml version="1.0"?>\n${XXE_DOCTYPE}<methodCall><methodName>ping</methodName><params><param><value><string>&xxe;</string></value></param></params></methodCall>`;
    const { result } = await unchanged('XXE body', () => postPlugin(body));
    const f = await faultOf(result);
    assert.equal(f, 'InputError: XML-RPC request rejected: DTDs and entity declarations are not allowed');
    assert.doesNotMatch(result.body, /root:/, 'no file content in the answer');
  });

  test('billion laughs in the XML-RPC body of /xmlrpc/plugin is refused at once', async () => {
    const body = `<?xml version="1.0"?>\n${LAUGHS('methodCall')}<methodCall><methodName>ping</methodName><params><param><value><string>&lol9;</string></value></param></params></methodCall>`;
    const t0 = Date.now();
    const { result } = await unchanged('billion laughs body', () => postPlugin(body));
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(await faultOf(result), 'InputError: XML-RPC request rejected: DTDs and entity declarations are not allowed');
    assert.ok(result.body.length < 2000, 'no expansion in the answer');
  });

  test('XXE in the XML-RPC body sent to the agent is refused before parsing', async () => {
    const body = `<?xml version="1.0"?>\n${XXE_DOCTYPE}<methodCall><methodName>pingAuth</methodName><params><param><value><string>&xxe;</string></value></param><param><value><string>x</string></value></param></params></methodCall>`;
    const { result } = await unchanged('XXE body to the agent', () => postAgent(body));
    assert.equal(await faultOf(result), 'InputError: XML-RPC request rejected: DTDs and entity declarations are not allowed');
  });

  /** A 50 MiB methodCall (one huge string parameter), produced in 1 MiB chunks. */
  function hugeBody(method: string, size = 50 * MiB): { body: () => Iterable<Buffer>; contentLength: number } {
    const head = Buffer.from(`<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params><param><value><string>`);
    const tail = Buffer.from('</string></value></param></params></methodCall>');
    const fill = size - head.length - tail.length;
    return {
      contentLength: size,
      body: function* () {
        yield head;
        const chunk = Buffer.alloc(MiB, 'A');
        let left = fill;
        while (left > 0) {
          const n = Math.min(left, MiB);
          yield n === MiB ? chunk : chunk.subarray(0, n);
          left -= n;
        }
        yield tail;
      },
    };
  }

  test('a 50 MiB body to /xmlrpc/plugin gets HTTP 413 and the manager stays up', async () => {
    const huge = hugeBody('send');
    const { result } = await unchanged('50 MiB body', () =>
      rawPost({ url: `${managerBase}/xmlrpc/plugin`, ...huge, ca: c.ca.certPem, authorization: basic(pluginCreds.user, pluginCreds.pass) }),
    );
    assert.equal(result.status, 413, `HTTP ${result.status}: ${result.body.slice(0, 200)}`);
    assert.equal(result.body, 'request body too large\n');
    assert.equal(await c.plugin.call('ping', ['still up']), 'still up');
  });

  test('a 50 MiB body to the agent gets HTTP 413 and the agent stays up', async () => {
    const huge = hugeBody('send');
    const { result } = await unchanged('50 MiB body to the agent', () => rawPost({ url: agentUrl, ...huge, ca: c.ca.certPem, ...managerClientTls }));
    assert.equal(result.status, 413, `HTTP ${result.status}: ${result.body.slice(0, 200)}`);
    assert.equal(result.body, 'request body too large\n');
    assert.equal(await agentClient.call('ping', ['still up']), 'still up');
  });

  /** A methodCall whose first parameter is an array nested `depth` deep (about 40 bytes a level). */
  function deepArrayCall(method: string, depth: number, more: string[] = []): string {
    return `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params><param><value>${'<array><data><value>'.repeat(depth)}<int>1</int>${'</value></data></array>'.repeat(depth)}</value></param>${more
      .map((p) => `<param><value><string>${xmlEscape(p)}</string></value></param>`)
      .join('')}</params></methodCall>`;
  }

  test('arrays nested 100000 deep in the XML-RPC body of send: a clear fault, the manager stays up', async () => {
    const body = deepArrayCall('send', 100_000, ['<rspec/>']);
    assert.ok(body.length < 8 * MiB);
    const { result } = await unchanged('deep XML-RPC arrays (send)', () => postPlugin(body));
    // Refused by the XML-RPC decoder's depth limit before any method sees it (decision 013; it used to be decoded
    // whole and then refused by send's parameter check).
    assert.equal(await faultOf(result), 'InputError: XML-RPC request rejected: elements nested deeper than 200 levels');
    assert.equal(await c.plugin.call('ping', ['still up']), 'still up');
  });

  test('arrays nested 100000 deep echoed by ping: a clear fault, the manager stays up', async () => {
    const body = deepArrayCall('ping', 100_000);
    const { result } = await unchanged('deep XML-RPC arrays (ping)', () => postPlugin(body));
    assert.equal(result.status, 200, `HTTP ${result.status}: ${result.body.slice(0, 200)}`);
    const f = await faultOf(result);
    assert.equal(await c.plugin.call('ping', ['still up']), 'still up', 'the manager did not crash');
    // Known bug (reported): parseMethodCall takes XML-RPC values of any depth; echoing this one overflows the stack
    // while serialising the answer (RangeError), which the caller only sees as "InternalError: internal error".
    // A depth cap on XML-RPC values (as the rspec reader has) would refuse it with a clear InputError.
    assert.match(f, /^InputError: .*(nest|deep)/i, `BUG: XML-RPC values nested 100000 deep are accepted and the answer overflows the stack; the caller gets ${JSON.stringify(f)} instead of a clear refusal (needs a depth cap in packages/shared/src/xmlrpc/server.ts parseMethodCall)`);
  });

  test('a body that is not well-formed XML-RPC gets a fault, not an HTTP 500', async () => {
    const { result } = await unchanged('malformed body', () => postPlugin('<?xml version="1.0"?><methodCall><methodName>send</methodName><params><param><value><string>x</str'));
    assert.match(await faultOf(result), /^InputError: malformed XML-RPC request: /);
  });

  test('unknown and prototype method names are "not supported"', async () => {
    await unchanged('unknown methods', async () => {
      for (const m of ['vm.destroyAll', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        assert.equal(await fault(c.plugin.call(m, [])), `InputError: method "${m}" is not supported`);
      }
      // the admin methods are not reachable on the plugin endpoint
      assert.equal(await fault(c.plugin.call('user.add', [{ name: 'x', password: 'y'.repeat(12), roles: ['admin'] }])), 'InputError: method "user.add" is not supported');
    });
  });

  test('wrong parameter types and counts get faults naming the parameter', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `types-${c.runId}`, template: TEMPLATE });
    await unchanged('wrong parameter types', async () => {
      assert.equal(await fault(c.plugin.call('send', [42, q.xml])), 'InputError: parameter 1 (callBackUrl) must be a string');
      assert.equal(await fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, { xml: q.xml }])), 'InputError: parameter 2 (xml) must be a string');
      assert.equal(await fault(c.plugin.call('send', [c.clearinghouse.callbackUrl])), 'InputError: missing parameter 2 (xml)');
      assert.equal(await fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml, 'extra'])), 'InputError: too many parameters: 3, at most 2');
      assert.equal(await fault(c.plugin.call('listResources', [['0']])), 'InputError: parameter 1 (remoteHashValue) must be a string');
      assert.equal(await fault(c.plugin.call('force_update_exp_vms', [true, 'None'])), 'InputError: parameter 1 (client_id) must be a string');
    });
    assert.deepEqual(c.clearinghouse.statuses(q.actionId), [], 'the create inside never ran');
  });

  // ---------------------------------------------------------------------------------------------------------------
  // rspec documents carried by send

  test('XXE (SYSTEM file:///etc/passwd) inside the rspec string is refused', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `xxe-${c.runId}`, template: TEMPLATE });
    const xml = q.xml
      .replace('<?xml version="1.0" encoding="UTF-8"?>\n', '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rspec [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n')
      .replace(`<name>xxe-${c.runId}</name>`, '<name>&xxe;</name>');
    const { result } = await unchanged('XXE rspec', () => fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, xml])));
    assert.equal(result, 'InputError: XML document refused: DOCTYPE and ENTITY declarations are not allowed (found "<!DOCTYPE" at line 2, column 1)');
    assert.deepEqual(c.clearinghouse.statuses(q.actionId), []);
  });

  test('billion laughs inside the rspec string is refused', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `lol-${c.runId}`, template: TEMPLATE });
    const xml = q.xml.replace('<?xml version="1.0" encoding="UTF-8"?>\n', `<?xml version="1.0" encoding="UTF-8"?>\n${LAUGHS('rspec')}`).replace('<project-name>demo-project</project-name>', '<project-name>&lol9;</project-name>');
    const { result } = await unchanged('billion laughs rspec', () => fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, xml])));
    assert.equal(result, 'InputError: XML document refused: DOCTYPE and ENTITY declarations are not allowed (found "<!DOCTYPE" at line 2, column 1)');
  });

  test('an rspec nested 100 elements deep is refused', async () => {
    const xml = `<?xml version="1.0"?>\n<rspec><query><provisioning>${'<action>'.repeat(97)}${'</action>'.repeat(97)}</provisioning></query></rspec>`;
    const { result } = await unchanged('deep rspec', () => fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, xml])));
    assert.match(result, /^InputError: XML document refused: elements nested deeper than 32 levels \(line 2, column \d+\)$/);
  });

  test('an rspec with more than 20000 elements is refused', async () => {
    const xml = `<?xml version="1.0"?>\n<rspec><query><provisioning>${'<x/>'.repeat(20_001)}</provisioning></query></rspec>`;
    const { result } = await unchanged('too many elements', () => fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, xml])));
    assert.equal(result, 'InputError: XML document refused: more than 20000 elements');
  });

  test('an rspec over 4 MiB is refused', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `big-${c.runId}`, template: TEMPLATE });
    const xml = q.xml.replace('<rspec>', `<rspec><!--${'a'.repeat(4 * MiB)}-->`);
    const { result } = await unchanged('rspec over 4 MiB', () => fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, xml])));
    assert.equal(result, 'InputError: XML document too large: more than 4194304 bytes');
    assert.deepEqual(c.clearinghouse.statuses(q.actionId), []);
  });

  for (const [value, shown] of [
    ['12a', '"12a"'],
    ['1.5', '"1.5"'],
    ['', 'an empty element'],
  ] as const) {
    test(`memory-mb ${JSON.stringify(value)} rejects the whole document, naming the field`, async () => {
      const q = withMemory(value);
      const { result } = await unchanged(`memory-mb ${value}`, () => fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml])));
      assert.match(result, new RegExp(`^InputError: invalid rspec: memory-mb must be an integer, got ${shown.replace(/[.]/g, '\\.')} \\(line \\d+\\)$`));
      assert.deepEqual(c.clearinghouse.statuses(q.actionId), []);
    });
  }

  test('ismgmt "True" rejects the whole document, naming the attribute', async () => {
    const q = createWith((x) => x.replace('<interface ismgmt="true">', '<interface ismgmt="True">'));
    const { result } = await unchanged('ismgmt True', () => fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml])));
    assert.match(result, /^InputError: invalid rspec: interface@ismgmt must be true, false, 1 or 0, got "True" \(line \d+\)$/);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Template references and the catalogue

  for (const t of ['../../etc/passwd', '/etc/shadow', 'kvm-crm-test/../../x', 'kvm-crm-test/disk/../../../etc/shadow']) {
    test(`hd-origin-path ${JSON.stringify(t)} is refused by the manager`, async () => {
      await refusedCreate(`hd-origin-path ${t}`, withTemplate(t), `invalid hd-origin-path (template): ${JSON.stringify(t)}`);
    });
  }

  /** A failed create that reached the agent leaves its action row (FAILED, with the reason) and moves the id counters; nothing else. */
  const auditOnly = (actionId: string) => (ch: Change) =>
    (ch.kind === 'row-added' && ch.table === 'action' && ch.row.uuid === actionId && ch.row.status === 'FAILED') ||
    // the action's history (decision 011) is part of the audit trail
    (ch.kind === 'row-added' && ch.table === 'action_event' && ch.row.actionUuid === actionId) ||
    ((ch.kind === 'row-added' || ch.kind === 'row-removed') && ch.table === 'sqlite_sequence');

  test('a catalogue template whose qcow2 has /etc/shadow as backing file: the create FAILS on validation', async () => {
    const name = `evil-backing-${c.runId}`;
    const dir = path.join(c.storageRoot, 'templates', name);
    extraPaths.push(dir);
    await mkdir(dir, { mode: 0o755 });
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/shadow', '-F', 'raw', path.join(dir, 'disk.qcow2'), '64M']);
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', path.join(dir, 'disk.qcow2')])).stdout) as { 'backing-filename'?: string };
    assert.equal(info['backing-filename'], '/etc/shadow', 'the hostile template is what it claims');
    await writeFile(path.join(dir, 'template.json'), JSON.stringify({ name, disk: 'disk.qcow2', format: 'qcow2' }));

    const q = withTemplate(`${name}/disk.qcow2`);
    const { result, allowed } = await unchanged(
      'backing file /etc/shadow',
      async () => {
        await c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml]);
        return c.clearinghouse.waitForTerminal(q.actionId, 60_000);
      },
      { allow: auditOnly(q.actionId) },
    );
    assert.deepEqual(result.map((s) => s.status), ['ONGOING', 'FAILED'], JSON.stringify(result));
    assert.equal(result[1]!.description, `template ${name}: image has a backing file; templates must be self-contained`);
    assert.equal(allowed.filter((ch) => ch.kind === 'row-added' && ch.table === 'action').length, 1, 'only the FAILED action row stays, as the audit trail');
  });

  test('a catalogue template whose disk is a symlink to /etc/shadow: the create FAILS, the path escapes the catalogue', async () => {
    const name = `evil-link-${c.runId}`;
    const dir = path.join(c.storageRoot, 'templates', name);
    extraPaths.push(dir);
    await mkdir(dir, { mode: 0o755 });
    await symlink('/etc/shadow', path.join(dir, 'disk.img'));
    await writeFile(path.join(dir, 'template.json'), JSON.stringify({ name, disk: 'disk.img', format: 'raw' }));

    const q = withTemplate(`${name}/disk.img`);
    const { result } = await unchanged(
      'symlink out of the catalogue',
      async () => {
        await c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml]);
        return c.clearinghouse.waitForTerminal(q.actionId, 60_000);
      },
      { allow: auditOnly(q.actionId) },
    );
    assert.deepEqual(result.map((s) => s.status), ['ONGOING', 'FAILED'], JSON.stringify(result));
    assert.equal(result[1]!.description, `template ${name}: path escapes the template catalogue`);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Names and ids

  for (const [label, name, shown] of [
    ['shell command list', 'a;rm -rf /', '"a;rm -rf /"'],
    ['command substitution', '$(reboot)', '"$(reboot)"'],
    ['XML', '<x/>', '"<x/>"'],
    ['trailing newline', 'web01\n', '"web01\\n"'],
    ['65 characters', 'a'.repeat(65), JSON.stringify('a'.repeat(65))],
    ['non-ASCII', 'wéb-01', '"w?b-01"'],
  ] as const) {
    test(`VM name with ${label} (${JSON.stringify(name).slice(0, 30)}) is refused`, async () => {
      await refusedCreate(`VM name ${label}`, withName(name), `invalid VM name: ${shown}`);
    });
  }

  test('action id "../../x" gets a fault and nothing runs', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `aid-${c.runId}`, template: TEMPLATE, actionId: '../../x' });
    const { result } = await unchanged('action id ../../x', () => fault(c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml])));
    assert.equal(result, 'InputError: invalid action id: "../../x"');
    assert.deepEqual(c.clearinghouse.statuses('../../x'), []);
  });

  test('project-id with shell metacharacters is refused', async () => {
    const q = createWith((x) => x.replace(`<project-id>${PROJECT_ID}</project-id>`, `<project-id>${xmlEscape('p;`id`$(reboot)&')}</project-id>`));
    await refusedCreate('project-id metacharacters', q, 'invalid project-id: "p;`id`$(reboot)&"');
  });

  for (const cb of ['file:///etc/passwd', 'javascript:alert(1)']) {
    test(`callback URL ${cb} gets a fault and nothing runs`, async () => {
      const q = createQuery({ serverUuid: c.serverUuid, name: `cb-${c.runId}`, template: TEMPLATE });
      const { result } = await unchanged(`callback ${cb}`, () => fault(c.plugin.call('send', [cb, q.xml])));
      assert.equal(result, `InputError: unsupported URL scheme ${JSON.stringify(new URL(cb).protocol)}: only http and https`);
      assert.deepEqual(c.clearinghouse.statuses(q.actionId), []);
    });
  }

  test('a create reusing the existing VM uuid fails and leaves that VM untouched', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `dup-${c.runId}`, template: TEMPLATE, vmUuid: vm.uuid });
    await refusedCreate('duplicate VM uuid', q, `a VM with uuid ${vm.uuid} exists`);
    const vms = await c.admin.call<Array<{ uuid: string; name: string; state: string }>>('vm.list', [{}]);
    assert.deepEqual(vms.map((v) => [v.uuid, v.name, v.state]), [[vm.uuid, vm.name, 'created (stopped)']]);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Credentials

  test('a wrong Basic password on /xmlrpc/plugin gets 401 with WWW-Authenticate, and the create inside never runs', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `nopw-${c.runId}`, template: TEMPLATE });
    const body = methodCallXml('send', [c.clearinghouse.callbackUrl, q.xml]);
    const { result } = await unchanged('wrong Basic password', () => postPlugin(body, basic(pluginCreds.user, `${pluginCreds.pass}x`)));
    assert.equal(result.status, 401);
    assert.equal(result.headers['www-authenticate'], 'Basic realm="kvm-crm"');
    assert.equal(result.body, 'Authorization Required');
    assert.deepEqual(c.clearinghouse.statuses(q.actionId), []);
  });

  test('no credentials on /xmlrpc/plugin gets 401 with WWW-Authenticate', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `anon-${c.runId}`, template: TEMPLATE });
    const { result } = await unchanged('no credentials', () => postPlugin(methodCallXml('send', [c.clearinghouse.callbackUrl, q.xml]), null));
    assert.equal(result.status, 401);
    assert.equal(result.headers['www-authenticate'], 'Basic realm="kvm-crm"');
    assert.equal(result.body, 'Authorization Required');
    assert.deepEqual(c.clearinghouse.statuses(q.actionId), []);
  });

  test('clearinghouse credentials on /xmlrpc/admin get 401 (no admin made)', async () => {
    const body = serialiseMethodCall('user.add', [{ name: `evil-${c.runId}`, password: 'p'.repeat(16), roles: ['admin'] }]);
    const { result } = await unchanged('clearinghouse on admin', () =>
      rawPost({ url: `${managerBase}/xmlrpc/admin`, body, ca: c.ca.certPem, authorization: basic(pluginCreds.user, pluginCreds.pass) }),
    );
    assert.equal(result.status, 401);
    assert.equal(result.headers['www-authenticate'], 'Basic realm="kvm-crm"');
    const users = await c.admin.call<Array<{ name: string }>>('user.list', []);
    assert.ok(!users.some((u) => u.name === `evil-${c.runId}`));
  });

  test('a wrong agentCallback password on /xmlrpc/agent gets 401 (a forged FAILED for the VM\'s create is not applied)', async () => {
    const { result } = await unchanged('wrong agent callback password', () =>
      rawPost({ url: `${managerBase}/xmlrpc/agent`, body: statusOfLegitCreate(), ca: c.ca.certPem, authorization: basic('oxad', 'wrong-password') }),
    );
    assert.equal(result.status, 401);
    assert.equal(result.headers['www-authenticate'], 'Basic realm="kvm-crm"');
  });

  test('a wrong agent password on the agent\'s send gets "Password mismatch" (a delete of the VM never runs)', async () => {
    const del = lifecycleQuery('delete', { serverUuid: c.serverUuid, vmUuid: vm.uuid, name: vm.name });
    const { result } = await unchanged('wrong agent password (send)', () =>
      fault(agentClient.call('send', [statusSink.callbackUrl, 1, `${agentPassword}x`, del.xml])),
    );
    assert.equal(result, 'AuthenticationError: Password mismatch');
    assert.deepEqual(statusSink.statuses(del.actionId), []);
  });

  test('a wrong agent password on the agent\'s pingAuth gets "Password mismatch"', async () => {
    const { result } = await unchanged('wrong agent password (pingAuth)', () => fault(agentClient.call('pingAuth', ['hola', 'not-the-password'])));
    assert.equal(result, 'AuthenticationError: Password mismatch');
    assert.equal(await agentClient.call('pingAuth', ['hola', agentPassword]), 'hola', 'the right one works');
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Another clearinghouse

  for (const type of ['hardStop', 'delete'] as const) {
    test(`another clearinghouse's ${type} of the VM FAILS as if the VM did not exist`, async () => {
      const q = lifecycleQuery(type, { serverUuid: c.serverUuid, vmUuid: vm.uuid, name: vm.name });
      await unchanged(`rival ${type}`, async () => {
        const reason = await sendExpectingRefusal(q.xml, q.actionId, rival);
        // Issue 9 item 12: the same text as for an unknown VM (refusals do not leak).
        assert.equal(reason, `no VM with uuid ${vm.uuid}`);
      });
    });
  }

  test('another clearinghouse cannot create a VM in a project it does not own', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `squat-${c.runId}`, template: TEMPLATE });
    await unchanged('rival create in a foreign project', async () => {
      assert.equal(await sendExpectingRefusal(q.xml, q.actionId, rival), `project ${PROJECT_ID} belongs to another clearinghouse`);
    });
  });

  test('another clearinghouse neither lists nor force-updates the VM', async () => {
    await unchanged('rival listResources / force_update_exp_vms', async () => {
      const [, mine] = await c.plugin.call<[string, string]>('listResources', ['0', 'None', 'None']);
      assert.match(mine, new RegExp(vm.uuid), 'the owner sees it');
      for (const project of ['None', PROJECT_ID]) {
        const [, theirs] = await rival.call<[string, string]>('listResources', ['0', project, 'None']);
        assert.match(theirs, /<rspec/);
        assert.doesNotMatch(theirs, new RegExp(vm.uuid), `project filter ${project}`);
        assert.doesNotMatch(theirs, new RegExp(vm.name));
      }
      assert.equal(await fault(rival.call('force_update_exp_vms', ['None', vm.uuid])), `NotFoundError: no VM with uuid ${vm.uuid}`);
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Straight to the agent, with its password (the agent's own checks, behind the manager's)

  test('agent send: a create with hd-origin-path "../../etc/passwd" FAILS at the agent', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `agt-${c.runId}`, template: '../../etc/passwd' });
    const { result } = await unchanged('agent: template traversal', async () => {
      assert.equal(await agentClient.call('send', [statusSink.callbackUrl, 1, agentPassword, q.xml]), '');
      return statusSink.waitForTerminal(q.actionId, 30_000);
    });
    assert.deepEqual(result.map((s) => s.status), ['ONGOING', 'FAILED']);
    assert.equal(result[1]!.description, 'invalid template reference "../../etc/passwd"');
  });

  test('agent send: a create with VM name "$(reboot)" FAILS at the agent', async () => {
    const q = withName('$(reboot)');
    const { result } = await unchanged('agent: hostile VM name', async () => {
      assert.equal(await agentClient.call('send', [statusSink.callbackUrl, 1, agentPassword, q.xml]), '');
      return statusSink.waitForTerminal(q.actionId, 30_000);
    });
    assert.deepEqual(result.map((s) => s.status), ['ONGOING', 'FAILED']);
    assert.equal(result[1]!.description, 'invalid VM name: "$(reboot)"');
  });

  test('agent send: XXE inside the rspec gets a fault', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `axxe-${c.runId}`, template: TEMPLATE });
    const xml = q.xml.replace('<?xml version="1.0" encoding="UTF-8"?>\n', `<?xml version="1.0" encoding="UTF-8"?>\n${XXE_DOCTYPE.replace('methodCall', 'rspec')}`);
    const { result } = await unchanged('agent: XXE rspec', () => fault(agentClient.call('send', [statusSink.callbackUrl, 1, agentPassword, xml])));
    assert.equal(result, 'InputError: XML document refused: DOCTYPE and ENTITY declarations are not allowed (found "<!DOCTYPE" at line 2, column 1)');
    assert.deepEqual(statusSink.statuses(q.actionId), []);
  });

  test('agent send: callback URL file:///etc/passwd gets a fault', async () => {
    const q = createQuery({ serverUuid: c.serverUuid, name: `acb-${c.runId}`, template: TEMPLATE });
    const { result } = await unchanged('agent: file callback', () => fault(agentClient.call('send', ['file:///etc/passwd', 1, agentPassword, q.xml])));
    assert.equal(result, 'InputError: unsupported URL scheme "file:": only http and https');
  });

  // ---------------------------------------------------------------------------------------------------------------
  // TLS: client certificates (mutual TLS, roles, revocation)

  /**
   * What the TLS cases need from the harness: its certificate store (issue, revoke) and the registered server name
   * (the agent certificate's CN). Read structurally so that this file does not depend on their exact types.
   */
  interface TlsHarness {
    certStore: {
      issue(name: string, options: { role: string; commonName?: string; dnsNames?: string[]; ipAddresses?: string[] }): { serial: string };
      revoke(nameOrSerial: string, reason?: string): unknown;
    };
    serverName: string;
  }
  const tlsHarness = (): TlsHarness | undefined => {
    const h = c as unknown as Partial<TlsHarness>;
    return h.certStore && h.serverName ? (h as TlsHarness) : undefined;
  };
  const NO_TLS = 'the cluster harness has no certificate store (mutual TLS, roles and revocation not there yet)';

  /** A certificate issued by the cluster's CA store: its PEM files. */
  async function issued(name: string, options: { role: string; commonName: string }): Promise<{ cert: string; key: string; serial: string }> {
    const entry = tlsHarness()!.certStore.issue(name, { ...options, dnsNames: [options.commonName], ipAddresses: ['127.0.0.1'] });
    const [cert, key] = await Promise.all([readFile(path.join(c.certsDir, `${name}.crt`), 'utf8'), readFile(path.join(c.certsDir, `${name}.key`), 'utf8')]);
    return { cert, key, serial: entry.serial };
  }

  /** A certificate from a CA of its own (same names and role as ours would have). */
  function foreign(role: string, commonName: string): { cert: string; key: string } {
    const otherCa = createCertificateAuthority({ commonName: 'kvm-crm CA' });
    const pair = issueCertificate(otherCa, { commonName, role, dnsNames: [commonName, 'localhost'], ipAddresses: ['127.0.0.1'], usage: 'server+client' } as Parameters<typeof issueCertificate>[1]);
    return { cert: pair.certPem, key: pair.keyPem };
  }

  /** The agentCallback URL (credentials inside) the manager gives its agents. */
  const callbackCredentials = (): string => {
    const u = new URL(c.agentCallbackUrl);
    assert.equal(u.pathname, '/xmlrpc/agent');
    return basic(decodeURIComponent(u.username), decodeURIComponent(u.password));
  };

  /** sendAsync of a libvirt "Started" event about the legitimate VM: applied, it would mark the VM running. */
  const startedEvent = () => methodCallXml('sendAsync', [serialiseRspec(libvirtEventResponse({ name: `${c.domainPrefix}${vm.uuid}`, uuid: vm.uuid, status: 'Started' }), { dialect: 'agent' })]);
  /** sendAsync of a forged FAILED for the legitimate VM's create action (applied, it would be reported to its clearinghouse). */
  const statusOfLegitCreate = () =>
    methodCallXml('sendAsync', [serialiseRspec(provisioningStatusResponse({ actionId: legitCreateActionId, status: 'FAILED', description: 'forged' }), { dialect: 'agent' })]);

  /** A `send` to the agent, with its right password, that would delete the legitimate VM. */
  const deleteViaAgent = () => {
    const del = lifecycleQuery('delete', { serverUuid: c.serverUuid, vmUuid: vm.uuid, name: vm.name });
    return { actionId: del.actionId, body: methodCallXml('send', [statusSink.callbackUrl, '1', agentPassword, del.xml]) };
  };

  /** The refusal text of an HTTP 403 (body and the x-kvm-crm-refusal header agree). */
  function refusal403(res: { status: number; headers: Record<string, string | string[] | undefined>; body: string }): string {
    assert.equal(res.status, 403, `HTTP ${res.status}: ${res.body.slice(0, 300)}`);
    assert.equal(res.headers['x-kvm-crm-refusal'], res.body.trimEnd());
    return res.body.trimEnd();
  }

  test('no client certificate to the agent: HTTP 403, a delete with the right password never runs', async (t) => {
    if (!tlsHarness()) return t.skip(NO_TLS);
    const del = deleteViaAgent();
    const { result } = await unchanged('agent without client certificate', () => rawPost({ url: agentUrl, body: del.body, ca: c.ca.certPem }));
    assert.equal(refusal403(result), "this agent accepts calls only from the manager's certificate: no client certificate presented");
    assert.deepEqual(statusSink.statuses(del.actionId), []);
  });

  test('a certificate from another CA to the agent: HTTP 403, a delete with the right password never runs', async (t) => {
    if (!tlsHarness()) return t.skip(NO_TLS);
    const del = deleteViaAgent();
    const { result } = await unchanged('agent with another CA', () => rawPost({ url: agentUrl, body: del.body, ca: c.ca.certPem, ...foreign('manager', 'localhost') }));
    assert.match(refusal403(result), /^this agent accepts calls only from the manager's certificate: client certificate "localhost" not accepted: [A-Z_]+$/);
    assert.deepEqual(statusSink.statuses(del.actionId), []);
  });

  test('a certificate of role agent (another host\'s) calling the agent: HTTP 403, role manager required', async (t) => {
    const h = tlsHarness();
    if (!h) return t.skip(NO_TLS);
    const [cert, key] = await Promise.all([readFile(path.join(c.certsDir, 'agent.crt'), 'utf8'), readFile(path.join(c.certsDir, 'agent.key'), 'utf8')]);
    const del = deleteViaAgent();
    const { result } = await unchanged('agent certificate calling the agent', () => rawPost({ url: agentUrl, body: del.body, ca: c.ca.certPem, cert, key }));
    assert.equal(refusal403(result), `this agent accepts calls only from the manager's certificate: client certificate ${JSON.stringify(h.serverName)} has role agent; role manager is required`);
    assert.deepEqual(statusSink.statuses(del.actionId), []);
  });

  test('a revoked manager certificate: works before, HTTP 403 after revocation', async (t) => {
    const h = tlsHarness();
    if (!h) return t.skip(NO_TLS);
    const name = `revoked-mgr-${c.runId}`;
    const pair = await issued(name, { role: 'manager', commonName: 'localhost' });
    const ping = methodCallXml('pingAuth', ['hola', agentPassword]);
    const ok = await rawPost({ url: agentUrl, body: ping, ca: c.ca.certPem, cert: pair.cert, key: pair.key });
    assert.deepEqual(await decodeXmlRpc(ok), { value: 'hola' }, 'accepted before it is revoked');
    h.certStore.revoke(name, 'keyCompromise');
    // both daemons reload the CRL (the harness sets reloadIntervalSeconds 0.5)
    const deadline = Date.now() + 15_000;
    let res = await rawPost({ url: agentUrl, body: ping, ca: c.ca.certPem, cert: pair.cert, key: pair.key });
    while (res.status === 200 && Date.now() < deadline) {
      await sleep(250);
      res = await rawPost({ url: agentUrl, body: ping, ca: c.ca.certPem, cert: pair.cert, key: pair.key });
    }
    const del = deleteViaAgent();
    const { result } = await unchanged('revoked certificate', () => rawPost({ url: agentUrl, body: del.body, ca: c.ca.certPem, cert: pair.cert, key: pair.key }));
    assert.match(refusal403(result), /^this agent accepts calls only from the manager's certificate: client certificate "localhost" (not accepted: CERT_REVOKED|\(serial [0-9a-f]+\) is revoked)$/);
    assert.deepEqual(statusSink.statuses(del.actionId), []);
  });

  test('a revoked agent certificate (CN = the registered server) on /xmlrpc/agent: HTTP 403, its event is not applied', async (t) => {
    const h = tlsHarness();
    if (!h) return t.skip(NO_TLS);
    const name = `revoked-agent-${c.runId}`;
    const pair = await issued(name, { role: 'agent', commonName: h.serverName });
    const harmless = methodCallXml('sendAsync', [serialiseRspec(provisioningStatusResponse({ actionId: randomUUID(), status: 'ONGOING', description: '' }), { dialect: 'agent' })]);
    const post = (body: string) => rawPost({ url: `${managerBase}/xmlrpc/agent`, body, ca: c.ca.certPem, authorization: callbackCredentials(), cert: pair.cert, key: pair.key });
    assert.deepEqual(await decodeXmlRpc(await post(harmless)), { value: null }, 'accepted before it is revoked (an unknown action id is dropped)');
    h.certStore.revoke(name, 'keyCompromise');
    const deadline = Date.now() + 15_000;
    while ((await post(harmless)).status === 200 && Date.now() < deadline) await sleep(250);
    const { result } = await unchanged('revoked agent certificate', () => post(startedEvent()));
    assert.match(refusal403(result), /^client certificate "[^"]+" (not accepted: CERT_REVOKED|\(serial [0-9a-f]+\) is revoked)$/);
  });

  test('a certificate from another CA (CN = the registered server) on /xmlrpc/agent: HTTP 403, its event is not applied', async (t) => {
    const h = tlsHarness();
    if (!h) return t.skip(NO_TLS);
    const { result } = await unchanged('/xmlrpc/agent with another CA', () =>
      rawPost({ url: `${managerBase}/xmlrpc/agent`, body: startedEvent(), ca: c.ca.certPem, authorization: callbackCredentials(), ...foreign('agent', h.serverName) }),
    );
    assert.match(refusal403(result), new RegExp(`^client certificate ${JSON.stringify(h.serverName)} not accepted: [A-Z_]+$`));
  });

  test('no client certificate on /xmlrpc/agent (a non-legacy server): HTTP 403, its event is not applied', async (t) => {
    if (!tlsHarness()) return t.skip(NO_TLS);
    const { result } = await unchanged('/xmlrpc/agent without certificate', () =>
      rawPost({ url: `${managerBase}/xmlrpc/agent`, body: startedEvent(), ca: c.ca.certPem, authorization: callbackCredentials() }),
    );
    assert.equal(refusal403(result), 'no client certificate: only servers registered as legacy may call without one, and 127.0.0.1 is not the address of any');
  });

  test('the manager\'s certificate (role manager) on /xmlrpc/agent: HTTP 403, role agent required', async (t) => {
    if (!tlsHarness()) return t.skip(NO_TLS);
    const { result } = await unchanged('/xmlrpc/agent with the manager certificate', () =>
      rawPost({ url: `${managerBase}/xmlrpc/agent`, body: startedEvent(), ca: c.ca.certPem, authorization: callbackCredentials(), ...managerClientTls }),
    );
    assert.equal(refusal403(result), 'client certificate "localhost" has role manager; role agent is required');
  });

  test('the agent certificate of an unregistered server on /xmlrpc/agent: HTTP 403', async (t) => {
    if (!tlsHarness()) return t.skip(NO_TLS);
    const ghost = `ghost-${c.runId}`;
    const pair = await issued(ghost, { role: 'agent', commonName: ghost });
    const { result } = await unchanged('unregistered server certificate', () =>
      rawPost({ url: `${managerBase}/xmlrpc/agent`, body: startedEvent(), ca: c.ca.certPem, authorization: callbackCredentials(), cert: pair.cert, key: pair.key }),
    );
    assert.equal(refusal403(result), `agent certificate ${JSON.stringify(ghost)} (serial ${pair.serial}) names no registered server`);
  });

  test('an agent reporting a status of another host\'s VM: NotAllowedError, nothing applied', async (t) => {
    if (!tlsHarness()) return t.skip(NO_TLS);
    const other = await otherServerCertificate();
    const { result } = await unchanged('status about another host', async () =>
      faultOf(await rawPost({ url: `${managerBase}/xmlrpc/agent`, body: statusOfLegitCreate(), ca: c.ca.certPem, authorization: callbackCredentials(), cert: other.cert, key: other.key })),
    );
    assert.equal(result, `NotAllowedError: action ${legitCreateActionId} is not about a VM of server ${other.name}`);
  });

  test('an agent reporting a libvirt event about another host\'s VM: NotAllowedError, the VM state is untouched', async (t) => {
    if (!tlsHarness()) return t.skip(NO_TLS);
    const other = await otherServerCertificate();
    const { result } = await unchanged('event about another host', async () =>
      faultOf(await rawPost({ url: `${managerBase}/xmlrpc/agent`, body: startedEvent(), ca: c.ca.certPem, authorization: callbackCredentials(), cert: other.cert, key: other.key })),
    );
    assert.equal(result, `NotAllowedError: event about VM ${vm.uuid}, which is not on server ${other.name}`);
  });

  test('after everything: the legitimate VM is as it was made, and its owner can still act on it', async () => {
    const vms = await c.admin.call<Array<{ uuid: string; name: string; state: string }>>('vm.list', [{}]);
    assert.deepEqual(vms.map((v) => [v.uuid, v.name, v.state]), [[vm.uuid, vm.name, 'created (stopped)']]);
    const q = lifecycleQuery('hardStop', { serverUuid: c.serverUuid, vmUuid: vm.uuid, name: vm.name });
    await c.plugin.call('send', [c.clearinghouse.callbackUrl, q.xml]);
    const statuses = await c.clearinghouse.waitForTerminal(q.actionId, 60_000);
    assert.deepEqual(statuses.map((s) => [s.status, s.description]), [['ONGOING', undefined], ['SUCCESS', 'already stopped']]);
  });
});

