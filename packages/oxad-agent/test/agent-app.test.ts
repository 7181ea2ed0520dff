/**
 * Wiring test of startAgent against the real libvirt (`qemu:///system`): a `listActiveVMs` query sent over HTTPS
 * XML-RPC is answered, and with `eventsUrl` set the lifecycle events of a prefixed test domain reach that URL. The
 * StatusReporter is an in-memory recorder (startAgent's `overrides.reporter`); everything the run creates (domains,
 * storage, certificates) is removed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createCertificateAuthority,
  createLogger,
  issueCertificate,
  listActiveVmsQuery,
  parseRspec,
  serialiseRspec,
  writePemPair,
  XmlRpcClient,
  type Action,
  type PemPair,
} from '@kvm-crm/shared';
import type { StatusReporter } from '../dist/services/ports.js';
import { Virsh } from '../dist/adapters/virsh.js';
import { agentOptionsSchema, type AgentOptions } from '../dist/agent-options.js';
import { startAgent, type RunningAgent } from '../dist/agent-app.js';
import { type TestRun, createTestRun, libvirtUnavailableReason, TEST_LIBVIRT_URI } from '../dist/testing/libvirt-test-env.js';

const logger = createLogger({ component: 'test', silent: true });
const CALLBACK = 'https://vtadmin:adminpw@127.0.0.1:1/xmlrpc/agent';
const EVENTS_URL = 'https://events:secret@127.0.0.1:1/xmlrpc/agent';

/** Records every message, parsed, with the URL it was sent to. */
class RecordingReporter implements StatusReporter {
  readonly messages: Array<{ url: string; action: Action }> = [];
  async report(url: string, xml: string): Promise<boolean> {
    const doc = parseRspec(xml).response!;
    this.messages.push({ url, action: (doc.monitoring ?? doc.provisioning)!.actions[0]! });
    return true;
  }
}

test('eventsUrl must be an http(s) URL; absent by default', () => {
  const base = { tls: { caFile: 'ca', certFile: 'c', keyFile: 'k' }, password: 'password123' };
  assert.equal(agentOptionsSchema.parse(base).eventsUrl, undefined);
  assert.equal(agentOptionsSchema.parse({ ...base, eventsUrl: EVENTS_URL }).eventsUrl, EVENTS_URL);
  for (const bad of ['manager:8445', 'ftp://manager/xmlrpc/agent', '', 42]) {
    assert.equal(agentOptionsSchema.safeParse({ ...base, eventsUrl: bad }).success, false, String(bad));
  }
});

describe('startAgent against the real libvirt (qemu:///system)', async () => {
  const skip = await libvirtUnavailableReason();
  const virsh = new Virsh({ uri: TEST_LIBVIRT_URI, timeoutSeconds: 60 });
  let run: TestRun;
  let certDir: string;
  let ca: PemPair;
  let client: PemPair;
  let options: (eventsUrl?: string) => AgentOptions;
  const agents: RunningAgent[] = [];

  before(async () => {
    if (skip) return;
    run = await createTestRun(virsh);
    certDir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-agent-app-test-'));
    ca = createCertificateAuthority();
    writePemPair(certDir, 'ca', ca);
    writePemPair(certDir, 'agent', issueCertificate(ca, { commonName: 'localhost', role: 'agent', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server+client' }));
    client = issueCertificate(ca, { commonName: 'localhost', role: 'manager', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'client' });
    options = (eventsUrl) =>
      agentOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        tls: { caFile: path.join(certDir, 'ca.crt'), certFile: path.join(certDir, 'agent.crt'), keyFile: path.join(certDir, 'agent.key') },
        password: 'agent-password', storageRoot: run.root, libvirtUri: TEST_LIBVIRT_URI, domainPrefix: run.domainPrefix, hypervisor: 'qemu',
        ...(eventsUrl ? { eventsUrl } : {}),
      });
  });

  after(async () => {
    if (skip || !run) return;
    for (const a of agents) await a.stop();
    const problems = await run.cleanup();
    await rm(certDir, { recursive: true, force: true });
    assert.deepEqual(problems, []);
  });

  async function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  test('answers listActiveVMs and forwards lifecycle events to eventsUrl; stop() ends the virsh child', { skip }, async () => {
    const reporter = new RecordingReporter();
    const agent = await startAgent(options(EVENTS_URL), logger, { reporter });
    agents.push(agent);
    assert.ok(agent.events, 'the event stream runs when eventsUrl is set');

    const rpc = new XmlRpcClient({ url: `https://127.0.0.1:${agent.port}/`, tls: { ca: ca.certPem, cert: client.certPem, key: client.keyPem } });
    const query = serialiseRspec(listActiveVmsQuery({ actionId: 'mon-1', virtualizationType: 'kvm' }), { dialect: 'manager' });
    assert.equal(await rpc.call('send', [CALLBACK, 0, 'agent-password', query]), '');
    await waitFor('the monitoring answer', () => reporter.messages.filter((m) => m.action.id === 'mon-1').length === 2);
    assert.deepEqual(reporter.messages.filter((m) => m.action.id === 'mon-1').map((m) => [m.url, m.action.status, m.action.server?.virtualMachines.length]), [
      [CALLBACK, 'ONGOING', undefined],
      [CALLBACK, 'SUCCESS', 0],
    ]);

    // A domain of ours: its events reach eventsUrl. virsh gives no sign when its callback is registered, so
    // define and undefine until the first event shows up.
    const uuid = '7e57e7e5-0000-4000-8000-000000000001';
    const name = `${run.domainPrefix}${uuid}`;
    const xml = path.join(run.root, 'blank.xml');
    await writeFile(xml, `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os></domain>\n`);
    const events = () => reporter.messages.filter((m) => m.action.id === 'callback');
    const deadline = Date.now() + 20_000;
    const seen = (status: string) => events().some((m) => m.action.server?.virtualMachines[0]?.status === status);
    while (!(seen('Defined') && seen('Undefined'))) {
      if (Date.now() > deadline) assert.fail('no libvirt event reached eventsUrl');
      await virsh.define(xml);
      await virsh.undefine(name);
      await new Promise((r) => setTimeout(r, 300));
    }
    await agent.events!.forwarder.idle();
    for (const m of events()) {
      assert.equal(m.url, EVENTS_URL);
      assert.equal(m.action.type, 'listActiveVMs');
      assert.equal(m.action.status, 'SUCCESS');
      assert.deepEqual(m.action.server?.virtualMachines.map((v) => [v.name, v.uuid]), [[name, uuid]], 'no metadata: named by the domain');
    }

    const pid = agent.events!.stream.pid!;
    process.kill(pid, 0);
    await agent.stop();
    agents.pop();
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'virsh event child gone after stop');
  });

  test('without eventsUrl no event stream runs', { skip }, async () => {
    const agent = await startAgent(options(), logger, { reporter: new RecordingReporter() });
    agents.push(agent);
    assert.equal(agent.events, undefined);
    await agent.stop();
    agents.pop();
  });
});
