/**
 * Wire compatibility with an independent XML-RPC implementation: Python's standard `xmlrpc.client` and
 * `xmlrpc.server` play the Expedient VT plugin (test/python/expedient_client.py, docs/ocf-protocol.md §3) against a
 * real manager and agent on real libvirt. The script writes a JSON report; each test below asserts one part of it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { issueCertificate, writePemPair } from '@kvm-crm/shared';
import { type Cluster, domainsWithPrefix, FIXTURES_DIR, type PythonProcess, startCluster, startPython } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const RUN_TIMEOUT_MS = 25 * 60_000;

interface Step {
  name: string;
  ok: boolean;
  errors: string[];
  warnings?: string[];
  statuses?: string[];
  types?: string[];
  result?: unknown;
  hash?: string;
  vm?: { memoryMb?: number; status?: string };
  fault?: { faultCode: number; faultString: string };
  [k: string]: unknown;
}

interface Report {
  ok: boolean;
  scenario: string;
  steps: Step[];
  errors: string[];
  warnings: string[];
  received: Array<{ actionId: string; type?: string; status: string; description?: string }>;
  authFailures: number;
  vm: { uuid: string; name: string };
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

describe('the Python rspec builders used by the Python peers', () => {
  test('reproduce the golden OCF messages byte for byte and read them back', async (t) => {
    if (!(await exists(FIXTURES_DIR))) return t.skip(`no fixtures at ${FIXTURES_DIR}`);
    const p = startPython('selftest.py', [FIXTURES_DIR]);
    const chunks: Buffer[] = [];
    p.process.stdout?.on('data', (b: Buffer) => chunks.push(b));
    const r = await p.process;
    const out = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { ok: boolean; checks: Array<{ ok: boolean }> };
    assert.equal(r.exitCode, 0, JSON.stringify(out.checks.filter((c) => !c.ok), null, 1));
    assert.ok(out.ok);
  });
});

describe('Python xmlrpc.client as the Expedient VT plugin, on real libvirt', () => {
  let c: Cluster;
  let py: PythonProcess | undefined;
  let report: Report | undefined;
  let runError: string | undefined;

  before(
    async () => {
      c = await startCluster();
      const tls = issueCertificate(c.ca, { commonName: 'localhost', role: 'clearinghouse', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
      const { certFile, keyFile } = writePemPair(c.certsDir, 'python-expedient', tls);
      const output = path.join(c.dir, 'expedient-report.json');
      const stderrFile = path.join(c.dir, 'expedient-stderr.log');
      py = startPython(
        'expedient_client.py',
        [
          '--manager-url', c.pluginUrl, '--cafile', path.join(c.certsDir, 'ca.crt'), '--server-uuid', c.serverUuid, '--template', TEMPLATE,
          '--scenario', 'lifecycle', '--output', output, '--cert', certFile, '--key', keyFile,
        ],
        { stderrFile, timeoutMs: RUN_TIMEOUT_MS, stdout: 'ignore' },
      );
      const r = await py.process;
      const stderr = await readFile(stderrFile, 'utf8').catch(() => '');
      try {
        report = JSON.parse(await readFile(output, 'utf8')) as Report;
      } catch (err) {
        runError = `no report (exit ${String(r.exitCode)}, signal ${String(r.signal)}, timed out ${String(r.timedOut)}): ${String(err)}\n${stderr}`;
      }
      if (report && r.exitCode !== 0 && r.exitCode !== 1) runError = `exit ${String(r.exitCode)}: ${stderr}`;
      if (process.env.KVMCRM_TEST_LOG && report) console.log(JSON.stringify(report, null, 1));
    },
    { timeout: RUN_TIMEOUT_MS + 5 * 60_000 },
  );

  after(async () => {
    await py?.kill();
    await c?.cleanup();
  });

  const got = (): Report => {
    assert.equal(runError, undefined, runError);
    assert.ok(report, 'the script wrote its report');
    return report;
  };
  const step = (name: string): Step => {
    const r = got();
    const s = r.steps.find((x) => x.name === name);
    assert.ok(s, `step ${name} did not run; errors: ${r.errors.join(' | ')}`);
    return s;
  };
  const passed = (name: string): Step => {
    const s = step(name);
    assert.ok(s.ok, `${name}: ${s.errors.join(' | ')}`);
    return s;
  };

  test('introspection, ping, get_am_info, and HTTP 401 for a wrong password', () => {
    const methods = passed('system.listMethods').result as string[];
    for (const m of ['send', 'ping', 'listResources', 'force_update_exp_vms', 'get_am_info']) assert.ok(methods.includes(m), m);
    assert.equal(passed('ping').result, 'ping');
    assert.equal(typeof (passed('get_am_info').result as { version: string }).version, 'string');
    assert.equal(passed('auth-rejected').httpStatus, 401);
  });

  test('create: send returns nil, then exactly ONGOING and one SUCCESS, typed create by the manager', () => {
    const s = passed('create');
    assert.deepEqual(s.statuses, ['ONGOING', 'SUCCESS']);
    assert.deepEqual(s.types, ['create', 'create']);
  });

  test('listResources: [hash, xml] with the created VM, then [hash, ""] for the same hash; also on the create ONGOING', () => {
    const first = passed('listResources-after-create');
    assert.equal(first.vm?.status, 'created (stopped)');
    const again = passed('listResources-same-hash');
    assert.equal(again.hash, first.hash);
    passed('listResources-on-create-ONGOING');
  });

  for (const name of ['start', 'reboot', 'hardStop', 'start-2', 'hardStop-2']) {
    test(`${name}: exactly ONGOING and one SUCCESS, with the type filled in`, () => {
      const s = passed(name);
      assert.deepEqual(s.statuses, ['ONGOING', 'SUCCESS']);
      assert.ok(s.types?.every((t) => t === s.actionType), JSON.stringify(s.types));
    });
  }

  test('force_update_exp_vms(serverUUID, "None") lists the running VM, and not once it is stopped', () => {
    const running = passed('force_update_exp_vms-running').result as Record<string, string>;
    assert.ok(Object.keys(running).map((k) => k.toLowerCase()).includes(got().vm.uuid), JSON.stringify(running));
    passed('force_update_exp_vms-stopped');
  });

  test('modify memory-mb: exactly ONGOING and one SUCCESS, and listResources shows the new memory', () => {
    const s = passed('modify');
    assert.deepEqual(s.statuses, ['ONGOING', 'SUCCESS']);
    assert.equal(passed('listResources-after-modify').vm?.memoryMb, 160);
  });

  test('delete: exactly ONGOING and one SUCCESS; the VM is gone from listResources, the manager and libvirt', async () => {
    assert.deepEqual(passed('delete').statuses, ['ONGOING', 'SUCCESS']);
    passed('listResources-after-delete');
    assert.deepEqual(await c.admin.call('vm.list', [{}]), []);
    assert.deepEqual(await domainsWithPrefix(c.domainPrefix), []);
  });

  test('no late or duplicate statuses, and every callback passed Basic auth', () => {
    passed('no-late-statuses');
    assert.equal(got().authFailures, 0);
    assert.deepEqual(got().errors.filter((e) => e.startsWith('callback:')), []);
  });

  test('the whole report is clean', (t) => {
    const r = got();
    for (const w of r.warnings) t.diagnostic(`warning: ${w}`);
    for (const s of r.steps) t.diagnostic(`${s.ok ? 'ok' : 'FAILED'} ${s.name}${s.statuses ? ` ${s.statuses.join(',')}` : ''}${typeof s.seconds === 'number' ? ` ${s.seconds} s` : ''}`);
    assert.deepEqual(r.errors, [], r.errors.join('\n'));
    assert.ok(r.ok);
  });
});
