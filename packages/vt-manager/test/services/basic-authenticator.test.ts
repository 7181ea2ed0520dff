import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, verifyPassword } from '@kvm-crm/shared';
import { BasicAuthenticator } from '../../dist/services/basic-authenticator.js';

test('BasicAuthenticator checks password and role, and caches only successes', async () => {
  let checks = 0;
  const users = [{ name: 'alice', passwordScrypt: hashPassword('right'), roles: ['clearinghouse'] }];
  const auth = new BasicAuthenticator(async (n) => users.find((u) => u.name === n), 60, (p, e) => {
    checks++;
    return verifyPassword(p, e);
  });
  assert.equal(await auth.authenticate('alice', 'wrong', 'clearinghouse'), undefined);
  assert.deepEqual(await auth.authenticate('alice', 'right', 'clearinghouse'), { name: 'alice', roles: ['clearinghouse'] });
  assert.equal(await auth.authenticate('alice', 'right', 'admin'), undefined, 'a cached principal still needs the role');
  assert.equal(await auth.authenticate('bob', 'right', 'clearinghouse'), undefined);
  const before = checks;
  for (let i = 0; i < 20; i++) assert.ok(await auth.authenticate('alice', 'right', 'clearinghouse'));
  assert.equal(checks, before, 'cached successes skip the scrypt check');
  assert.equal(await auth.authenticate('alice', 'right ', 'clearinghouse'), undefined, 'a near miss is not served from the cache');
  assert.equal(await auth.authenticate('alice', 'wrong', 'clearinghouse'), undefined);
  assert.equal(await auth.authenticate('alice', 'wrong', 'clearinghouse'), undefined);
  assert.equal(checks, before + 3, 'failures are checked every time');
  auth.forget('alice');
  assert.ok(await auth.authenticate('alice', 'right', 'clearinghouse'));
  assert.equal(checks, before + 4, 'forget drops the cached success');
});
