/**
 * The interactive serial console, end to end on real libvirt (issue 12 "Console", decision record 027), on the
 * three-host cluster (agents in their own network namespaces; the VM on host 2, so the manager relays to an agent
 * that is neither the first nor in this process): one guest of the test template (a busybox shell on ttyS0) is
 * booted, then
 * - agent: the manager's adapter opens the console on the agent over mutual TLS, types a line into the guest's
 *   shell and reads the answer; the serial log file still holds the boot and the typed line (log unchanged);
 *   a client with the agent's own certificate (not the manager's) is refused;
 * - manager relay: an admin's WebSocket relays both ways; a clearinghouse login and a wrong password are refused;
 *   a second session is refused while one is open; `force=1` takes it over and the first gets code 4001;
 * - vtctl as a process: in a pseudo-terminal (test/python/pty_console.py) the terminal is raw during the session,
 *   Ctrl-] detaches with exit 0 and the terminal modes are restored; with --json and piped input, the status
 *   events are JSON and a refusal exits 1 with the reason;
 * - the VM stopping ends an open session with code 4003 and the reason; a stopped VM's console is refused (409).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { WebSocket } from 'ws';
import { CONSOLE_CLOSE, type ConsoleEndpoint } from '@kvm-crm/shared';
import { WsAgentConsoles } from '@kvm-crm/vt-manager';
import { type ClusterHost, type MultiHostCluster, PYTHON, PYTHON_DIR, REPO_ROOT, startCluster, waitForReadyLine } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects what an endpoint or WebSocket receives, and waits for a pattern in it. */
class Collector {
  text = '';
  add = (b: Buffer) => {
    this.text += b.toString('latin1');
  };
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.text)) {
      if (Date.now() > deadline) throw new Error(`no ${String(pattern)} within ${timeoutMs} ms; got ${JSON.stringify(this.text.slice(-600))}`);
      await sleep(100);
    }
  }
}

/** Types `line` into a shell on the console until its answer comes (the first bytes may meet a prompt redraw). */
async function typeUntil(send: (b: Buffer) => void, got: Collector, line: string, answer: RegExp): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    send(Buffer.from(`${line}\r`));
    try {
      await got.waitFor(answer, 20_000);
      return;
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
}

describe('vm console: agent, manager relay and vtctl on a real guest', () => {
  let c: MultiHostCluster;
  let host: ClusterHost;
  let base = '';
  let vmUuid = '';
  let vmName = '';
  let adminAuth = '';
  let work = '';
  let args: string[] = [];

  before(async () => {
    c = await startCluster({ hosts: 3, monitoring: { intervalSeconds: 0 } });
    host = c.hosts[1]!;
    base = `${c.network.gateway}:${c.manager.port}`;
    const password = randomBytes(12).toString('hex');
    const user = `ops-${c.runId}`;
    await c.admin.call('user.add', [{ name: user, password, roles: ['admin'] }]);
    adminAuth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    work = path.join(c.dir, 'console');
    await mkdir(work, { recursive: true });
    await writeFile(path.join(work, 'pw'), `${password}\n`, { mode: 0o600 });
    args = ['--url', `https://${base}/xmlrpc/admin`, '--user', user, '--password-file', path.join(work, 'pw'), '--ca', path.join(c.certsDir, 'ca.crt')];

    vmName = `con-${c.runId}`;
    const ticket = await c.admin.call<{ actionId: string; vm: string }>('vm.create', [{ name: vmName, template: TEMPLATE, host: host.name, memoryMiB: 128, vcpus: 1 }]);
    vmUuid = ticket.vm;
    const waitAction = async (id: string) => {
      for (;;) {
        const a = await c.admin.call<{ status: string; description: string }>('action.show', [{ id }]);
        if (a.status === 'SUCCESS') return;
        if (a.status === 'FAILED') throw new Error(`action ${id} FAILED: ${a.description}`);
        await sleep(250);
      }
    };
    await waitAction(ticket.actionId);
    const start = await c.admin.call<{ actionId: string }>('vm.action', [{ vm: vmUuid, type: 'start' }]);
    await waitAction(start.actionId);
    await waitForReadyLine(path.join(host.storageRoot, 'vms', vmUuid, 'console.log'), 240_000);
  });
  after(async () => {
    await c?.cleanup();
  });

  const serverRow = () => c.manager.dataSource.getRepository<{ name: string; agentUrl: string; agentPassword: string; legacy: boolean }>('Server').findOneByOrFail({ name: host.name });
  const tlsOf = async (name: string) => ({
    ca: await readFile(path.join(c.certsDir, 'ca.crt'), 'utf8'),
    cert: await readFile(path.join(c.certsDir, `${name}.crt`), 'utf8'),
    key: await readFile(path.join(c.certsDir, `${name}.key`), 'utf8'),
  });

  test('agent: the guest shell answers a typed line; the serial log is still written; only the manager certificate is let in', { timeout: 120_000 }, async () => {
    const server = await serverRow();
    const agentSide: ConsoleEndpoint = await new WsAgentConsoles(await tlsOf('manager')).open(server as never, vmUuid, false);
    const got = new Collector();
    agentSide.onData(got.add);
    const closed = new Promise<number>((r) => agentSide.onClose((code) => r(code)));
    await typeUntil((b) => agentSide.send(b), got, 'echo agent-$((6*7))', /agent-42/);
    agentSide.close(CONSOLE_CLOSE.detached, 'test done');
    await closed.catch(() => undefined);
    const log = await readFile(path.join(host.storageRoot, 'vms', vmUuid, 'console.log'), 'latin1');
    assert.match(log, /kvm-crm-guest ready hostname=/, 'the boot is in the log file');
    assert.match(log, /agent-42/, 'what the guest answered on the console is in the log file too');

    await assert.rejects(new WsAgentConsoles(await tlsOf(`agent-h${host.index}`)).open(server as never, vmUuid, false), /HTTP 403|manager's certificate/);
    await assert.rejects(new WsAgentConsoles(await tlsOf('manager')).open({ ...server, agentPassword: 'wrong' } as never, vmUuid, false), /Password mismatch.*HTTP 401/);
  });

  const connect = (query: string, authorization = adminAuth) =>
    new Promise<{ ws: WebSocket; got: Collector; closed: Promise<{ code: number; reason: string }> } | { status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`wss://${base}/console?${query}`, { ca: c.ca.certPem, headers: { authorization } });
      const got = new Collector();
      const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
      ws.on('message', (d) => got.add(d as Buffer));
      ws.once('open', () => resolve({ ws, got, closed }));
      ws.once('unexpected-response', (_q, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once('error', reject);
    });

  test('manager relay: admin only, one session per VM, --force takes over', { timeout: 120_000 }, async (t) => {
    const chUrl = new URL(c.pluginUrl);
    const chAuth = `Basic ${Buffer.from(`${decodeURIComponent(chUrl.username)}:${decodeURIComponent(chUrl.password)}`).toString('base64')}`;
    const refusedCh = await connect(`vm=${vmName}`, chAuth);
    assert.ok('status' in refusedCh && refusedCh.status === 401, `a clearinghouse login is refused: ${JSON.stringify(refusedCh)}`);
    const refusedPw = await connect(`vm=${vmName}`, `Basic ${Buffer.from('admin:wrong').toString('base64')}`);
    assert.ok('status' in refusedPw && refusedPw.status === 401);
    const unknown = await connect('vm=no-such-vm');
    assert.ok('status' in unknown && unknown.status === 404, JSON.stringify(unknown));

    const t0 = Date.now();
    const first = await connect(`vm=${vmName}`);
    const openMs = Date.now() - t0;
    assert.ok('ws' in first, JSON.stringify(first));
    const t1 = Date.now();
    await typeUntil((b) => first.ws.send(b), first.got, 'echo relay-$((5*5))', /relay-25/);
    t.diagnostic(`console open through the manager: ${openMs} ms; typed line to the guest's answer (TCG guest): ${Date.now() - t1} ms`);

    const second = await connect(`vm=${vmUuid}`);
    assert.ok('status' in second && second.status === 409, JSON.stringify(second));
    assert.match((second as { body: string }).body, /in use by another session; --force takes it over/);

    const forced = await connect(`vm=${vmName}&force=1`);
    assert.ok('ws' in forced, JSON.stringify(forced));
    const firstEnd = await first.closed;
    assert.equal(firstEnd.code, CONSOLE_CLOSE.takenOver);
    assert.match(firstEnd.reason, /taken over/);
    await typeUntil((b) => forced.ws.send(b), forced.got, 'echo forced-$((4*4))', /forced-16/);
    forced.ws.close(1000, 'detached');
    await forced.closed;
    for (let i = 0; c.manager.consoles.count > 0 && i < 50; i++) await sleep(100);
    assert.equal(c.manager.consoles.count, 0);
    // The agent (another process) frees the VM's console once the manager's side closed: a new session without
    // force is let in (the agent refuses a second session with 409 while one is open).
    let again: Awaited<ReturnType<typeof connect>> | undefined;
    for (let i = 0; i < 50; i++) {
      again = await connect(`vm=${vmName}`);
      if ('ws' in again) break;
      await sleep(100);
    }
    assert.ok(again && 'ws' in again, `the agent freed the console: ${JSON.stringify(again)}`);
    again.ws.close(1000, 'detached');
    await again.closed;
  });

  test('vtctl vm console in a pty: raw terminal, Ctrl-] detaches, terminal restored', { timeout: 120_000 }, async () => {
    const vtctl = [process.execPath, path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js'), ...args, 'vm', 'console', vmName];
    const r = await execa(PYTHON, ['-B', path.join(PYTHON_DIR, 'pty_console.py'), 'echo pty-$((7*6))', 'pty-42', '60', '--', ...vtctl], { timeout: 90_000, reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { exitCode: number; sawExpected: boolean; rawDuringSession: boolean; restoredAfter: boolean; output: string };
    assert.ok(out.sawExpected, out.output);
    assert.ok(out.rawDuringSession, 'the terminal is raw during the session');
    assert.equal(out.exitCode, 0, out.output);
    assert.ok(out.restoredAfter, 'the terminal modes are restored after the detach');
    assert.match(out.output, new RegExp(`Connected to ${vmName} \\(${vmUuid}\\) on ${host.name}`));
    assert.match(out.output, new RegExp(`Detached from ${vmName}`));
  });

  test('vtctl --json vm console with piped input; a refusal exits 1 with the reason', { timeout: 120_000 }, async () => {
    const vtctlJs = path.join(REPO_ROOT, 'packages/vt-manager/dist/vtctl.js');
    const child = execa(process.execPath, [vtctlJs, ...args, '--json', 'vm', 'console', vmName], { reject: false, stdin: 'pipe' });
    const got = new Collector();
    child.stdout!.on('data', got.add);
    const err = new Collector();
    child.stderr!.on('data', err.add);
    await err.waitFor(/"event":"connected"/, 30_000);
    // While it is open, a second vtctl is refused (exit 1, the reason on stderr).
    const refused = await execa(process.execPath, [vtctlJs, ...args, 'vm', 'console', vmName], { reject: false, stdin: 'ignore', timeout: 30_000 });
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /vtctl: console of .* refused: .*in use by another session; --force takes it over \(HTTP 409\)/);
    await typeUntil((b) => child.stdin!.write(b), got, 'echo json-$((5*5))', /json-25/);
    child.stdin!.write(Buffer.from([0x1d]));
    const done = await child;
    assert.equal(done.exitCode, 0, err.text);
    const events = err.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(events.map((e) => e.event), ['connected', 'closed']);
    assert.equal(events[0]!.vm, vmUuid);
    assert.equal(events[1]!.detached, true);
    assert.ok((events[1]!.bytesIn as number) > 0 && (events[1]!.bytesOut as number) > 0);
  });
  test('the VM stopping ends an open session with 4003 and the reason; a stopped VM\'s console is refused', { timeout: 120_000 }, async () => {
    const open = await connect(`vm=${vmName}`);
    assert.ok('ws' in open, JSON.stringify(open));
    const stop = await c.admin.call<{ actionId: string }>('vm.action', [{ vm: vmUuid, type: 'hardStop' }]);
    const end = await open.closed;
    assert.equal(end.code, CONSOLE_CLOSE.serialClosed);
    assert.match(end.reason, /the serial console closed: the VM stopped/);
    for (;;) {
      const a = await c.admin.call<{ status: string }>('action.show', [{ id: stop.actionId }]);
      if (a.status === 'SUCCESS' || a.status === 'FAILED') break;
      await sleep(250);
    }
    const refused = await connect(`vm=${vmName}`);
    assert.ok('status' in refused && refused.status === 409, JSON.stringify(refused));
    assert.match((refused as { body: string }).body, /is shut off: its serial console can be opened only while it runs/);
  });
});
