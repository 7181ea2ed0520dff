/**
 * Decision 040: the callback policy cache. A change made through this process applies at once (to the intake check
 * and to deliveries); a change made by another manager process sharing the database (here: written straight through
 * the repository) applies within POLICY_CACHE_SECONDS; a read that started before a change never fills the cache
 * with the old policy.
 */
import assert from 'node:assert/strict';
import type { EntityManager } from 'typeorm';
import type { TransactionRunner } from '../../dist/db/transaction-runner.js';
import { CallbackPolicyRepository } from '../../dist/repositories/callback-policy-repository.js';
import { CallbackPolicyService, POLICY_CACHE_SECONDS } from '../../dist/services/callback-policy-service.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import { openWorld, silentLogger } from '../../dist/testing/fakes.js';

forEachEngine('the policy cache: own changes at once, another process\'s within POLICY_CACHE_SECONDS', async (t, engine) => {
  const w = await openWorld(t, { engine });
  let clock = 1_000_000; // fake monotonic ms
  const service = new CallbackPolicyService(w.tx, { principalExists: async () => true, logger: silentLogger(), now: () => clock });
  assert.deepEqual(await service.policyOf('alice'), { allowHttp: false, allow: [] }, 'no row: the default');
  await service.set({ name: 'alice', allowHttp: true }, 'admin');
  assert.deepEqual(await service.policyOf('alice'), { allowHttp: true, allow: [] }, 'a change made here applies at once');
  assert.deepEqual(await service.deliveryPolicy(), { allowHttp: true, allow: [] });

  // Another manager process changes it in the shared database.
  await new CallbackPolicyRepository(w.tx.manager).upsert({ principal: 'alice', allowHttp: false, allow: '10.0.0.0/8', setBy: 'other' });
  clock += POLICY_CACHE_SECONDS * 1000 - 1;
  assert.deepEqual(await service.policyOf('alice'), { allowHttp: true, allow: [] }, 'cached until its time is up');
  assert.deepEqual(await service.deliveryPolicy(), { allowHttp: true, allow: [] });
  clock += 1;
  assert.deepEqual(await service.policyOf('alice'), { allowHttp: false, allow: ['10.0.0.0/8'] }, 'read again after POLICY_CACHE_SECONDS');
  assert.deepEqual(await service.deliveryPolicy(), { allowHttp: false, allow: ['10.0.0.0/8'] });
  assert.throws(() => (service as unknown as { policies: Map<string, { policy: { allow: string[] } }> }).policies.get('alice')!.policy.allow.push('x'), TypeError, 'the shared cached policy is frozen (test-only reach into a private field)');
});

forEachEngine('a policy read that started before a change made here does not fill the cache with the old policy', async (t, engine) => {
  const w = await openWorld(t, { engine });
  // The first read gets its row (none yet), then is held until the change below is made: a slow read racing it.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let first = true;
  const manager = Object.create(w.tx.manager) as EntityManager;
  manager.findOneBy = (async (...args: Parameters<EntityManager['findOneBy']>) => {
    const row = await w.tx.manager.findOneBy(...args);
    if (first) {
      first = false;
      await held;
    }
    return row;
  }) as EntityManager['findOneBy'];
  const tx = { manager, run: w.tx.run.bind(w.tx) } as unknown as TransactionRunner;
  const service = new CallbackPolicyService(tx, { principalExists: async () => true, logger: silentLogger() });
  const racing = service.policyOf('bob');
  await service.set({ name: 'bob', allow: ['192.0.2.0/24'] }, 'admin');
  release();
  assert.deepEqual(await racing, { allowHttp: false, allow: [] }, 'the racing read saw the old policy');
  assert.deepEqual(await service.policyOf('bob'), { allowHttp: false, allow: ['192.0.2.0/24'] }, 'but did not cache it');
});
