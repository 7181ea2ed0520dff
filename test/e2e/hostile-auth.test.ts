/**
 * Password guessing against the manager's northbound Basic login (issue 9 item 6, decision 016), over real HTTPS:
 * guesses are answered 401 and then 429 with `Retry-After` without a password check, a legitimate caller's `ping`
 * stays about as fast as before the attack, and the guessed user can still log in from another address.
 *
 * Everything runs on loopback; "another address" is 127.0.0.2 (Linux routes all of 127/8 to `lo`), so the
 * manager sees two sources. Nothing in the database, the domains or the agent's files may change.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { assertUnchanged, type Cluster, decodeXmlRpc, methodCallXml, snapshot, startCluster } from '@kvm-crm/harness';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('hostile auth: password guessing is throttled and does not slow legitimate callers', () => {
  let c: Cluster;
  const users: Record<'victim' | 'bystander' | 'target', { name: string; password: string }> = {} as never;

  before(async () => {
    c = await startCluster({ withTemplate: false });
    for (const role of ['victim', 'bystander', 'target'] as const) {
      users[role] = { name: `${role}-${c.runId}`, password: randomBytes(12).toString('hex') };
      await c.admin.call('user.add', [{ name: users[role].name, password: users[role].password, roles: ['clearinghouse'] }]);
    }
  });
  after(async () => {
    await c?.cleanup();
  });

  /**
   * `ping('hi')` on /xmlrpc/plugin as `user`, from the local address `from`: on a new connection, or on the kept
   * connections of `agent`.
   */
  function ping(user: string, pass: string, from: string, agent: https.Agent | false = false): Promise<Answer> {
    const body = methodCallXml('ping', ['hi']);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          method: 'POST', host: '127.0.0.1', port: c.manager.port, path: '/xmlrpc/plugin', localAddress: from, agent, ca: c.ca.certPem, timeout: 60_000,
          headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            const ra = res.headers['retry-after'];
            resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  }

  async function assertPong(a: Answer, label: string): Promise<void> {
    assert.equal(a.status, 200, `${label}: HTTP ${a.status} ${a.body.slice(0, 200)}`);
    assert.deepEqual(await decodeXmlRpc({ status: a.status, headers: {}, body: a.body }), { value: 'hi' }, label);
  }

  test('48 wrong passwords, 16 at a time: 401 then 429 with Retry-After; a legitimate ping from the same address stays fast', async () => {
    const { bystander, victim } = users;
    const baseline: number[] = [];
    for (let i = 0; i < 11; i++) {
      const a = await ping(bystander.name, bystander.password, '127.0.0.1');
      await assertPong(a, 'baseline ping');
      if (i > 0) baseline.push(a.ms); // the first one made the cached login
    }
    const base = median(baseline);

    const before = await snapshot(c);
    let attacking = true;
    const legit: Answer[] = [];
    const legitLoop = (async () => {
      while (attacking || legit.length < 5) {
        legit.push(await ping(bystander.name, bystander.password, '127.0.0.1'));
        await sleep(20);
      }
    })();
    // The guesser keeps its 16 connections, as a real one would (and this process then spends its CPU on the
    // manager's side, not on 48 client handshakes).
    const guesser = new https.Agent({ keepAlive: true, maxSockets: 16, localAddress: '127.0.0.1' });
    const guesses: Answer[] = [];
    for (let wave = 0; wave < 3; wave++) {
      guesses.push(...(await Promise.all(Array.from({ length: 16 }, (_, i) => ping(victim.name, `guess-${wave}-${i}`, '127.0.0.1', guesser)))));
    }
    guesser.destroy();
    attacking = false;
    await legitLoop;
    await sleep(300);
    assertUnchanged(before, await snapshot(c), 'password guessing');

    const counts = { 401: guesses.filter((g) => g.status === 401).length, 429: guesses.filter((g) => g.status === 429).length };
    assert.equal(counts[401] + counts[429], 48, `only 401 and 429: ${JSON.stringify(guesses.map((g) => g.status))}`);
    assert.ok(counts[401] >= 1 && counts[401] <= 5, `at most userFailures (5) guesses were checked, got ${counts[401]} 401s`);
    assert.ok(counts[429] >= 43, `the rest were refused 429, got ${counts[429]}`);
    for (const g of guesses.filter((x) => x.status === 429)) {
      assert.match(g.retryAfter ?? '', /^[1-9][0-9]*$/, 'Retry-After in whole seconds');
      assert.match(g.body, /too many failed logins|too many logins being checked/);
    }
    for (const a of legit) await assertPong(a, 'legitimate ping during the attack');
    // Generous bounds relative to the baseline (the machine may be shared): on main, each guess ran scrypt on the
    // event loop and a ping waited seconds.
    const typical = median(legit.map((a) => a.ms));
    const worst = Math.max(...legit.map((a) => a.ms));
    const seen = `legitimate pings during the attack: median ${typical.toFixed(0)} ms, worst ${worst.toFixed(0)} ms; baseline median ${base.toFixed(0)} ms`;
    assert.ok(typical <= 5 * base + 100, seen);
    assert.ok(worst <= 50 * base + 1000, seen);
  });

  test('the guessed user is locked out only at the guessing address (doubling locks); it logs in from another address', async () => {
    const { target } = users;
    const before = await snapshot(c);
    // Six at once: the five in flight reach the threshold, so the sixth is refused without a check.
    const first = await Promise.all(Array.from({ length: 6 }, (_, i) => ping(target.name, `wrong-${i}`, '127.0.0.1')));
    assert.deepEqual(first.map((a) => a.status).sort(), [401, 401, 401, 401, 401, 429]);
    assert.equal(first.find((a) => a.status === 429)?.retryAfter, '1');
    await sleep(1100);
    assert.equal((await ping(target.name, 'wrong-after-lock', '127.0.0.1')).status, 401, 'one check after the 1 s lock');
    const sameAddress = await ping(target.name, target.password, '127.0.0.1');
    assert.equal(sameAddress.status, 429, 'the next failure doubled the lock: even the right password waits at the guessing address');
    assert.match(sameAddress.retryAfter ?? '', /^[12]$/);
    const elsewhere = await ping(target.name, target.password, '127.0.0.2');
    await assertPong(elsewhere, 'the right password from 127.0.0.2 (first login, nothing cached)');
    await sleep(300);
    assertUnchanged(before, await snapshot(c), 'login from another address');
  });
});
