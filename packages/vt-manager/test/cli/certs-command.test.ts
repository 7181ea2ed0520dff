/**
 * `vtctl certs` end to end, as an admin runs it (the built vtctl.js, argv only): init with roles, issue, list
 * (--json), revoke by name and by serial with a reason, rotate, crl; files and modes; errors exit 1 with a message.
 * Also: the agent API refuses a `sendAsync` that reaches it without an authenticated agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AuthenticationError, createLogger, describeCertificate, parseCrl } from '@kvm-crm/shared';
import { agentApi } from '../../dist/api/agent-api.js';

const VTCTL = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist/vtctl.js');
const run = promisify(execFile);

async function vtctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [VTCTL, ...args], { timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface Row {
  name: string;
  role: string;
  commonName: string;
  sans: string[];
  serial: string;
  notAfter: string;
  revoked: string | false;
  current: boolean;
}

test('vtctl certs: init, issue, list --json, revoke, rotate, crl', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-vtctl-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = path.join(dir, 'certs');

  const init = await vtctl(['--json', 'certs', 'init', '--dir', certs, '--manager-dns', 'vtam.example', '--manager-ip', '10.0.0.1', '--agent', 'kvm1=10.0.0.21', '--agent', 'kvm2']);
  assert.equal(init.code, 0, init.stderr);
  const out = JSON.parse(init.stdout) as { caCreated: boolean; issued: Row[] };
  assert.equal(out.caCreated, true);
  assert.deepEqual(out.issued.map((r) => [r.name, r.role, r.commonName, r.sans]), [
    ['manager', 'manager', 'vtam.example', ['DNS:vtam.example', 'IP:10.0.0.1']],
    ['agent-kvm1', 'agent', 'kvm1', ['DNS:kvm1', 'IP:10.0.0.21']],
    ['agent-kvm2', 'agent', 'kvm2', ['DNS:kvm2']],
  ]);
  for (const key of ['ca.key', 'manager.key', 'agent-kvm1.key', 'agent-kvm2.key']) assert.equal(statSync(path.join(certs, key)).mode & 0o777, 0o600, key);
  assert.equal(describeCertificate(readFileSync(path.join(certs, 'agent-kvm1.crt'), 'utf8')).role, 'agent');

  const issue = await vtctl(['certs', 'issue', 'expedient', '--dir', certs, '--role', 'clearinghouse', '--dns', 'ch.example', '--json']);
  assert.equal(issue.code, 0, issue.stderr);
  assert.deepEqual((JSON.parse(issue.stdout) as Row).sans, ['DNS:ch.example']);
  const noRole = await vtctl(['certs', 'issue', 'x', '--dir', certs]);
  assert.equal(noRole.code, 1);
  assert.match(noRole.stderr, /--role/);
  const twice = await vtctl(['certs', 'issue', 'expedient', '--dir', certs, '--role', 'clearinghouse']);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /^vtctl: a certificate named expedient exists/);

  const list = JSON.parse((await vtctl(['certs', 'list', '--dir', certs, '--json'])).stdout) as Row[];
  assert.deepEqual(list.map((r) => r.name), ['manager', 'agent-kvm1', 'agent-kvm2', 'expedient']);
  assert.ok(list.every((r) => r.revoked === false && /^[0-9a-f]+$/.test(r.serial) && !Number.isNaN(Date.parse(r.notAfter))));

  const revoked = await vtctl(['--json', 'certs', 'revoke', 'agent-kvm2', '--dir', certs, '--reason', 'keyCompromise']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match((JSON.parse(revoked.stdout) as Row).revoked as string, /\(keyCompromise\)$/);
  const kvm1 = list.find((r) => r.name === 'agent-kvm1')!;
  assert.equal((await vtctl(['certs', 'revoke', kvm1.serial.toUpperCase(), '--dir', certs])).code, 0, 'by serial');
  const crl = parseCrl(readFileSync(path.join(certs, 'crl.pem'), 'utf8'));
  assert.deepEqual(crl.revoked.map((r) => r.serial).sort(), [kvm1.serial, list.find((r) => r.name === 'agent-kvm2')!.serial].sort());
  const badReason = await vtctl(['certs', 'revoke', 'manager', '--dir', certs, '--reason', 'because']);
  assert.equal(badReason.code, 1);
  const unknown = await vtctl(['certs', 'revoke', 'nobody', '--dir', certs]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no certificate named or with serial "nobody"/);

  const rotated = JSON.parse((await vtctl(['--json', 'certs', 'rotate', 'manager', '--dir', certs, '--revoke-old'])).stdout) as { previous: Row; current: Row };
  assert.notEqual(rotated.current.serial, rotated.previous.serial);
  assert.equal(describeCertificate(readFileSync(path.join(certs, 'manager.crt'), 'utf8')).serial, rotated.current.serial);
  assert.equal(statSync(path.join(certs, 'manager.key')).mode & 0o777, 0o600);
  assert.ok(parseCrl(readFileSync(path.join(certs, 'crl.pem'), 'utf8')).revoked.some((r) => r.serial === rotated.previous.serial && r.reason === 'superseded'));
  const all = JSON.parse((await vtctl(['--json', 'certs', 'list', '--all', '--dir', certs])).stdout) as Row[];
  assert.equal(all.filter((r) => r.name === 'manager').length, 2);

  const before = parseCrl(readFileSync(path.join(certs, 'crl.pem'), 'utf8')).crlNumber!;
  const refreshed = JSON.parse((await vtctl(['--json', 'certs', 'crl', '--dir', certs, '--days', '7'])).stdout) as { crlNumber: number; revoked: number };
  assert.deepEqual([refreshed.crlNumber, refreshed.revoked], [before + 1, 3]);
  assert.ok(parseCrl(readFileSync(path.join(certs, 'crl.pem'), 'utf8')).nextUpdate!.getTime() < Date.now() + 8 * 86400_000);
});

test('agent API: sendAsync without an authenticated agent principal is refused', async () => {
  const calls: unknown[] = [];
  const api = agentApi({
    provisioning: { handleProvisioningDocument: async (_d, from) => void calls.push(from) },
    monitoring: { handleMonitoringDocument: async (_d, _f, from) => void calls.push(from) },
  });
  const log = createLogger({ component: 'test', silent: true });
  const doc = '<?xml version="1.0"?><rspec><response><provisioning><action id="a" status="ONGOING"/></provisioning></response></rspec>';
  await assert.rejects(async () => api.sendAsync!([doc], { log }), AuthenticationError);
  await assert.rejects(async () => api.sendAsync!([doc], { log, principal: { name: 'expedient', roles: ['clearinghouse'] } }), AuthenticationError);
  assert.equal(await api.sendAsync!([doc], { log, principal: { name: 'kvm1', roles: ['agent'] } }), null);
  assert.deepEqual(calls, [{ name: 'kvm1' }, { name: 'kvm1' }], 'both services are told which server sent it');
});
