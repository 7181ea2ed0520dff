/**
 * Admin calls are audited (docs/security.md): a successful call is logged at info with its principal and its
 * parameters, passwords and other secrets masked; a failed call is not logged as an admin call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError, type Logger, type XmlRpcCallContext } from '@kvm-crm/shared';
import { auditAdminCalls } from '../../dist/api/admin-audit.js';

test('successful admin calls are logged at info with principal and sanitised parameters', async () => {
  const records: Array<{ level: string; message: string; meta: Record<string, unknown> }> = [];
  const logger = {
    info: (message: string, meta: Record<string, unknown>) => records.push({ level: 'info', message, meta }),
  } as unknown as Logger;
  const methods = auditAdminCalls({
    'user.add': (p) => ({ name: (p[0] as { name: string }).name }),
    'server.register': () => ({ uuid: 'u-1' }),
    'vm.setExpiry': () => {
      throw new InputError('bad time');
    },
  }, logger);
  const ctx = { principal: { name: 'root-admin', roles: ['admin'] }, remoteAddress: '10.0.0.9', log: logger } as XmlRpcCallContext;
  await methods['user.add']!([{ name: 'ch1', password: 'very-secret-password', roles: ['clearinghouse'] }], ctx);
  await methods['server.register']!([{ name: 'kvm1', agentUrl: 'https://oxad:agent-s3cret@10.0.0.5:9229/', agentPassword: 'agent-pw-123', bridges: ['br0'], note: 'x'.repeat(5000) }], ctx);
  await assert.rejects(Promise.resolve(methods['vm.setExpiry']!([{ uuid: 'v', expiresAt: 'never' }], ctx)), /bad time/);

  assert.deepEqual(records.map((r) => [r.level, r.message, r.meta['method'], r.meta['principal'], r.meta['remote']]), [
    ['info', 'admin call', 'user.add', 'root-admin', '10.0.0.9'],
    ['info', 'admin call', 'server.register', 'root-admin', '10.0.0.9'],
  ]);
  assert.deepEqual(records[0]!.meta['params'], [{ name: 'ch1', password: '***', roles: ['clearinghouse'] }]);
  const server = (records[1]!.meta['params'] as Array<Record<string, unknown>>)[0]!;
  assert.equal(server['agentPassword'], '***');
  assert.equal(server['agentUrl'], 'https://***@10.0.0.5:9229/');
  assert.ok((server['note'] as string).length < 250, 'long values clipped');
  const all = JSON.stringify(records);
  for (const secret of ['very-secret-password', 'agent-s3cret', 'agent-pw-123']) assert.ok(!all.includes(secret), `${secret} logged`);
});
