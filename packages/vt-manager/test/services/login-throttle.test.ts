/**
 * Password logins under guessing (issue 9 item 6, decision 016): scrypt off the event loop, at most
 * `maxConcurrentChecks` checks at once, equal work for unknown users, a failure backoff per (source, user) and
 * per source answered with RateLimitedError (HTTP 429 + Retry-After), reset by a success, in bounded memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, RateLimitedError, verifyPassword } from '@kvm-crm/shared';
import { BasicAuthenticator } from '../../dist/services/basic-authenticator.js';
import { DEFAULT_LOGIN_THROTTLE, LoginThrottle } from '../../dist/services/login-throttle.js';

const ALICE = { name: 'alice', passwordScrypt: hashPassword('right-password'), roles: ['clearinghouse'] };
const CERT_ONLY = { name: 'carol', passwordScrypt: null, roles: ['clearinghouse'] };
const lookup = async (n: string) => [ALICE, CERT_ONLY].find((u) => u.name === n);

/** A verifier counting its calls and the hashes it was given; `gate` holds every check until released. */
function countingVerifier(gate?: Promise<void>) {
  const calls: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const verify = async (p: string, e: string) => {
    calls.push(e);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await (gate ?? Promise.resolve());
    running--;
    return verifyPassword(p, e);
  };
  return { verify, calls, maxRunning: () => maxRunning };
}

const isRateLimited = (seconds?: number) => (e: unknown) =>
  e instanceof RateLimitedError && e.httpStatus === 429 && (seconds === undefined || e.retryAfterSeconds === seconds);

test('a scrypt check runs off the event loop: other callbacks keep running while it is computed', async () => {
  const auth = new BasicAuthenticator(lookup);
  await auth.authenticate('alice', 'warm-up-wrong', 'clearinghouse', '10.9.9.9'); // the dummy hash is made by now
  let turns = 0;
  let checking = true;
  const spin = () => {
    turns++;
    if (checking) setImmediate(spin);
  };
  setImmediate(spin);
  const result = await auth.authenticate('alice', 'wrong-password', 'clearinghouse', '10.0.0.1');
  checking = false;
  assert.equal(result, undefined);
  assert.ok(turns >= 10, `only ${turns} event-loop turns during a check: scrypt ran on the loop`);
});

test('at most maxConcurrentChecks (default 2) password checks run at once; more wait, beyond the queue 429', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const v = countingVerifier(gate);
  const auth = new BasicAuthenticator(lookup, 60, v.verify);
  const pending = Array.from({ length: 8 }, (_, i) => auth.authenticate('alice', `wrong-${i}`, 'clearinghouse', `10.0.1.${i}`));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(DEFAULT_LOGIN_THROTTLE.maxConcurrentChecks, 2);
  assert.equal(v.calls.length, 2, 'two checks started, six wait');
  assert.deepEqual(auth.checks, { active: 2, queued: 6 });
  release();
  assert.deepEqual(await Promise.all(pending), Array(8).fill(undefined), 'an async verifier resolving false is a failure');
  assert.equal(v.maxRunning(), 2);

  const small = new BasicAuthenticator(lookup, 60, countingVerifier(new Promise(() => undefined)).verify, { ...DEFAULT_LOGIN_THROTTLE, maxConcurrentChecks: 1, maxQueuedChecks: 1 });
  void small.authenticate('alice', 'a', 'clearinghouse', '10.0.2.1');
  void small.authenticate('alice', 'b', 'clearinghouse', '10.0.2.2');
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(small.authenticate('alice', 'c', 'clearinghouse', '10.0.2.3'), isRateLimited(1), 'a full queue answers 429');
});

test('an unknown user and a certificate-only user cost one check against a hash with the real parameters', async () => {
  const v = countingVerifier();
  const auth = new BasicAuthenticator(lookup, 60, v.verify);
  assert.equal(await auth.authenticate('alice', 'wrong-password', 'clearinghouse', '10.0.3.1'), undefined);
  assert.equal(await auth.authenticate('nobody', 'wrong-password', 'clearinghouse', '10.0.3.1'), undefined);
  assert.equal(await auth.authenticate('carol', '', 'clearinghouse', '10.0.3.1'), undefined);
  assert.equal(v.calls.length, 3, 'one check each, known or not');
  const params = (e: string) => e.split('$').slice(0, 4).join('$');
  assert.equal(params(v.calls[1]!), params(ALICE.passwordScrypt));
  assert.equal(params(v.calls[2]!), params(ALICE.passwordScrypt));
  assert.equal(v.calls[1]!.split('$')[5]!.length, ALICE.passwordScrypt.split('$')[5]!.length, 'same key length');
});

test('5 failures of one user from one address lock it with exponential Retry-After up to 300 s; other addresses are not locked', async () => {
  let now = 1_000_000;
  const v = countingVerifier();
  const auth = new BasicAuthenticator(lookup, 60, v.verify, DEFAULT_LOGIN_THROTTLE, () => now);
  for (let i = 0; i < 5; i++) assert.equal(await auth.authenticate('alice', `guess-${i}`, 'clearinghouse', '10.0.4.1'), undefined);
  await assert.rejects(auth.authenticate('alice', 'right-password', 'clearinghouse', '10.0.4.1'), isRateLimited(1), 'locked even for the right password');
  assert.equal(v.calls.length, 5, 'a locked attempt costs no check');
  assert.deepEqual(await auth.authenticate('alice', 'right-password', 'clearinghouse', '::ffff:10.0.4.2'), { name: 'alice', roles: ['clearinghouse'] }, 'another address is not locked');
  auth.forget('alice');
  let lock = 1;
  for (const seconds of [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]) {
    now += lock * 1000;
    lock = seconds;
    assert.equal(await auth.authenticate('alice', 'wrong', 'clearinghouse', '::ffff:10.0.4.1'), undefined, 'one probe after the lock');
    await assert.rejects(auth.authenticate('alice', 'wrong', 'clearinghouse', '10.0.4.1'), isRateLimited(seconds));
  }
  now += 300_000;
  assert.ok(await auth.authenticate('alice', 'right-password', 'clearinghouse', '10.0.4.1'), 'after the lock, the right password works');
  auth.forget('alice');
  for (let i = 0; i < 4; i++) assert.equal(await auth.authenticate('alice', `again-${i}`, 'clearinghouse', '10.0.4.1'), undefined);
  assert.ok(await auth.authenticate('alice', 'right-password', 'clearinghouse', '10.0.4.1'), 'the success reset the count: 4 new failures do not lock');
});

test('16 concurrent guesses: 5 are checked, 11 answered 429 at once; failures are forgotten after the window', async () => {
  let now = 2_000_000;
  const v = countingVerifier();
  const auth = new BasicAuthenticator(lookup, 60, v.verify, DEFAULT_LOGIN_THROTTLE, () => now);
  const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => auth.authenticate('alice', `g${i}`, 'clearinghouse', '10.0.5.1')));
  assert.equal(results.filter((r) => r.status === 'fulfilled' && r.value === undefined).length, 5);
  assert.equal(results.filter((r) => r.status === 'rejected' && isRateLimited()(r.reason)).length, 11);
  assert.equal(v.calls.length, 5);
  now += 1_000 + 60_000;
  assert.ok(await auth.authenticate('alice', 'right-password', 'clearinghouse', '10.0.5.1'), 'forgotten 60 s after the lock ended');
});

test('20 failures from one address over many names lock the address, but not a cached login nor other addresses', async () => {
  let now = 3_000_000;
  const auth = new BasicAuthenticator(lookup, 60, countingVerifier().verify, DEFAULT_LOGIN_THROTTLE, () => now);
  assert.ok(await auth.authenticate('alice', 'right-password', 'clearinghouse', '10.0.6.1'), 'alice logs in first (cached)');
  for (let i = 0; i < 20; i++) assert.equal(await auth.authenticate(`user${i}`, 'x', 'clearinghouse', '10.0.6.1'), undefined);
  await assert.rejects(auth.authenticate('user99', 'x', 'clearinghouse', '10.0.6.1'), isRateLimited(1));
  assert.ok(await auth.authenticate('alice', 'right-password', 'clearinghouse', '10.0.6.1'), 'a cached success needs no check and is served');
  assert.equal(await auth.authenticate('user99', 'x', 'clearinghouse', '10.0.6.2'), undefined, 'another address is checked');
  now += 1_000;
  assert.equal(await auth.authenticate('user99', 'x', 'clearinghouse', '10.0.6.1'), undefined, 'after the lock, one more check');
});

test('the throttle remembers at most maxTrackedKeys keys', () => {
  let now = 0;
  const throttle = new LoginThrottle({ ...DEFAULT_LOGIN_THROTTLE, maxTrackedKeys: 100 }, () => now);
  for (let i = 0; i < 5000; i++) {
    now += 1;
    throttle.begin(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, `user-${i}-${'x'.repeat(1000)}`).failed();
    assert.ok(throttle.size <= 100, `size ${throttle.size}`);
  }
  now += 10_000_000;
  throttle.begin('10.200.0.1', 'u').release();
  assert.ok(throttle.size <= 100);
});

test('200 concurrent logins with the same right credentials share one check: none is throttled', async () => {
  const v = countingVerifier();
  const auth = new BasicAuthenticator(lookup, 60, v.verify);
  const results = await Promise.all(Array.from({ length: 200 }, () => auth.authenticate('alice', 'right-password', 'clearinghouse', '10.0.3.1')));
  assert.equal(results.filter((r) => r?.name === 'alice').length, 200);
  assert.equal(v.calls.length, 1, 'one password check for the whole burst');
});
