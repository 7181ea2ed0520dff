/**
 * LibvirtConnection's process handling, with stand-in helper scripts (fakes of libvirt-session.py for these unit
 * tests only: they speak its JSON lines without libvirt). The real helper against the real libvirtd is tested in
 * virsh.test.ts ("through the libvirt connection").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { createLogger } from '@kvm-crm/shared';
import { LIBVIRT_SESSION_SCRIPT, LibvirtCallError, LibvirtConnection } from '../../dist/adapters/libvirt-connection.js';
import { libvirtUnavailableReason, TEST_LIBVIRT_URI } from '../../dist/testing/libvirt-test-env.js';

const logger = createLogger({ component: 'test', silent: true });

/** A stand-in helper: answers id 0 with a version, then runs `body` (Python) for each request `r`. */
const helper = (body: string): string => `import json, sys, os
def answer(m):
    sys.stdout.write(json.dumps(m) + "\\n"); sys.stdout.flush()
answer({"id": 0, "ok": True, "value": {"libvirt": 9000000}})
for line in sys.stdin:
    r = json.loads(line)
${body.split('\n').map((l) => `    ${l}`).join('\n')}
`;

async function withScript(source: string, fn: (script: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kvmcrm-libvirt-conn-'));
  try {
    const script = path.join(dir, 'helper.py');
    await writeFile(script, source);
    await fn(script);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('answers are matched to calls by id, in any order; a refusal carries libvirt\'s code and message', async () => {
  // answers the second request first, then the first; "nope" is refused like libvirt's VIR_ERR_NO_DOMAIN
  const body = `if r.get("name") == "nope":
    answer({"id": r["id"], "ok": False, "code": 42, "domain": 10, "message": "Domain not found"})
elif r["op"] == "first":
    held = r["id"]
else:
    answer({"id": r["id"], "ok": True, "value": "second"}); answer({"id": held, "ok": True, "value": "first"})`;
  await withScript(helper(body), async (script) => {
    const conn = new LibvirtConnection({ script, logger });
    try {
      assert.equal(await conn.open(), 9000000);
      const first = conn.call('first', {}, 10);
      const second = conn.call('second', {}, 10);
      assert.deepEqual(await Promise.all([first, second]), ['first', 'second']);
      const err = await conn.call('domstate', { name: 'nope' }, 10).catch((e: unknown) => e);
      assert.ok(err instanceof LibvirtCallError);
      assert.equal(err.code, 42);
      assert.equal(err.detail, 'Domain not found');
      assert.match(err.message, /^libvirt domstate nope: Domain not found$/);
    } finally {
      await conn.close();
    }
  });
});

test('a call with no answer times out; a helper that dies fails its calls with the reason, the next call starts a new one', async () => {
  const body = `if r["op"] == "die":
    sys.stderr.write("boom\\n"); os._exit(3)
elif r["op"] == "echo":
    answer({"id": r["id"], "ok": True, "value": os.getpid()})`;
  await withScript(helper(body), async (script) => {
    const conn = new LibvirtConnection({ script, logger });
    try {
      await conn.open();
      const firstPid = conn.pid;
      const slow = await conn.call('silent', {}, 0.3).catch((e: unknown) => e);
      assert.ok(slow instanceof LibvirtCallError && slow.timedOut, String(slow));
      assert.equal(await conn.call('echo', {}, 10), firstPid, 'still the same helper after a timeout');
      const died = await conn.call('die', {}, 10).catch((e: unknown) => e);
      assert.ok(died instanceof LibvirtCallError && !died.timedOut, String(died));
      assert.match(died.message, /exit status 3.*boom/);
      const again = await conn.call('echo', {}, 10);
      assert.equal(typeof again, 'number');
      assert.notEqual(again, firstPid, 'a new helper');
    } finally {
      await conn.close();
    }
    await assert.rejects(conn.call('echo', {}, 10), /the connection is closed/);
  });
});

test('a helper that cannot open the connection: open() fails with its reason, and says what to install when the module is missing', async () => {
  await withScript('import libvirt_not_installed_here\n', async (script) => {
    const conn = new LibvirtConnection({ script, logger });
    await assert.rejects(conn.open(), (err: unknown) => err instanceof LibvirtCallError && /No module named 'libvirt_not_installed_here'.*install python3-libvirt/.test(err.message));
    assert.equal(conn.pid, undefined);
  });
  await withScript('import json\nprint(json.dumps({"id": 0, "ok": False, "code": 38, "domain": 7, "message": "Failed to connect socket"}), flush=True)\nimport sys; sys.exit(1)\n', async (script) => {
    const conn = new LibvirtConnection({ script, logger });
    await assert.rejects(conn.open(), (err: unknown) => err instanceof LibvirtCallError && err.code === 38 && /Failed to connect socket/.test(err.message));
  });
  assert.throws(() => new LibvirtConnection({ uri: 'qemu:///system --readonly', logger }), /invalid libvirt URI/);
});

test('close() while the helper is still being started ends that helper too, and fails the call that started it', async () => {
  await withScript(`import time\ntime.sleep(0.5)\n${helper('pass')}`, async (script) => {
    const conn = new LibvirtConnection({ script, logger });
    const call = conn.call('echo', {}, 10);
    await new Promise((r) => setTimeout(r, 100));
    await conn.close();
    await assert.rejects(call, /closed while it was being opened/);
    assert.equal(conn.pid, undefined);
    const left = await execa('pgrep', ['-f', script], { reject: false });
    assert.equal(left.stdout.trim(), '', 'no helper process left');
  });
});

test('the real helper refuses unrun a request whose timeout passed, runs one whose time is left, and answers a malformed one with its reason', { skip: await libvirtUnavailableReason() }, async () => {
  const requests = [
    { id: 1, op: 'domstate', name: 'kvmcrm-none', timeoutMs: 0 },
    [1],
    { id: 2, op: 'format-disk', name: 'x' },
    { id: 3, op: 'domstate', name: 'kvmcrm-none-at-all' },
    { id: 4, op: 'list-all', timeoutMs: 60_000 },
  ];
  const helperProcess = execa('/usr/bin/python3', [LIBVIRT_SESSION_SCRIPT, TEST_LIBVIRT_URI], { stdin: 'pipe', timeout: 30_000 });
  const answers = new Map<number | null, { id: number | null; ok: boolean; expired?: boolean; code: number; message: string; value?: unknown }>();
  // Standard input stays open until every request is answered (at its end, requests not yet run are not run).
  const lines = createInterface({ input: helperProcess.stdout! });
  const all = new Promise<void>((resolve) => lines.on('line', (l) => {
    const a = JSON.parse(l) as { id: number | null; ok: boolean; expired?: boolean; code: number; message: string };
    answers.set(a.id, a);
    if (answers.size === requests.length + 1) resolve();
  }));
  for (const r of requests) helperProcess.stdin!.write(`${JSON.stringify(r)}\n`);
  await all;
  helperProcess.stdin!.end();
  assert.equal((await helperProcess).exitCode, 0);
  assert.equal(answers.get(0)?.ok, true, 'ready line');
  assert.equal(answers.get(1)?.expired, true);
  assert.match(answers.get(null)?.message ?? '', /AttributeError/);
  assert.match(answers.get(2)?.message ?? '', /unknown op 'format-disk'/);
  assert.equal(answers.get(3)?.code, 42, "libvirt's VIR_ERR_NO_DOMAIN");
  assert.equal(answers.get(4)?.ok, true, 'time left: run');
  assert.ok(Array.isArray(answers.get(4)?.value));
});

test('the real helper answers every request exactly once when its standard input ends at once: run, or "not run"', { skip: await libvirtUnavailableReason() }, async () => {
  const requests = Array.from({ length: 60 }, (_, i) => JSON.stringify({ id: i + 1, op: 'domstate', name: `kvmcrm-none-${i}`, timeoutMs: 60_000 }));
  const r = await execa('/usr/bin/python3', [LIBVIRT_SESSION_SCRIPT, TEST_LIBVIRT_URI], { input: requests.join('\n'), timeout: 60_000 });
  const answers = r.stdout.split('\n').map((l) => JSON.parse(l) as { id: number; ok: boolean; code: number; message: string }).filter((a) => a.id !== 0);
  assert.deepEqual(answers.map((a) => a.id).sort((a, b) => a - b), requests.map((_, i) => i + 1), 'one answer per request');
  for (const a of answers) assert.ok(a.code === 42 || /^not run: the agent closed the connection$/.test(a.message), JSON.stringify(a));
});
