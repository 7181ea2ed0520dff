/**
 * Support of the listing benchmark (bench/src/listing.ts): a manager started as a child process on a seeded database
 * (so its RSS is its own), plugin calls over one kept-alive HTTPS connection pool that time the whole answer
 * without decoding it, the manager's RSS from /proc, and the top of a `--cpu-prof` profile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { hashPassword, serialiseMethodCall } from '@kvm-crm/shared';
import { freePort, issueTestCertificates, REPO_ROOT } from '@kvm-crm/harness';
import { MANAGER_NODE_FLAGS } from '@kvm-crm/vt-manager';

/**
 * The manager's Node flags for this run: MANAGER_NODE_FLAGS (vt-manager/src/node-flags.ts), as every start script
 * uses; `KVMCRM_BENCH_MANAGER_NODE_FLAGS` (space-separated, may be empty) replaces them to measure a before/after.
 */
export function managerNodeFlags(): readonly string[] {
  const override = process.env['KVMCRM_BENCH_MANAGER_NODE_FLAGS'];
  return override === undefined ? MANAGER_NODE_FLAGS : override.split(' ').filter((f) => f !== '');
}

/** A running manager child process. */
export interface ManagerChild {
  child: ChildProcess;
  /** Calls a plugin method as the clearinghouse `user`; resolves with the whole answer's bytes and the ms it took. */
  call(user: string, method: string, params: unknown[]): Promise<{ ms: number; body: Buffer }>;
  /** The child's resident set in MiB: `VmRSS` now, `VmHWM` the peak since it started. */
  rss(): { nowMiB: number; peakMiB: number };
  /**
   * The manager's own event-loop and GC figures since the previous call (prom-client's default metrics on `/metrics`,
   * read as `admin`; the loop-delay histogram restarts at every scrape): the longest event-loop delay (ms, 10 ms
   * resolution), the garbage collections that took over 10 ms (count and their kinds), and the V8 heap's total size
   * and the external (Buffer) memory now (MiB).
   */
  loopStats(): Promise<{ lagMaxMs: number; gcOver10ms: number; gcKinds: string; heapMiB: number; externalMiB: number }>;
  /** CPU time the child used so far (user + system, ms; /proc clock ticks, 10 ms resolution). */
  cpuMs(): number;
  /**
   * Starts a `ping` client in a worker thread of its own (bench/src/ping-worker.ts) as `user`, once its connection
   * is up; `stop()` resolves with the longest wait it saw (ms) and its number of calls.
   */
  pinger(user: string): Promise<{ stop(): Promise<{ worst: number; calls: number }> }>;
  /** Stops it (SIGTERM, then SIGKILL after 10 s) and waits for the exit (a `--cpu-prof` profile is written then). */
  stop(): Promise<void>;
}

/**
 * Starts `node packages/vt-manager/dist/main.js` on `database` with certificates in a new `<dir>/certs-<random>`, the secrets key
 * `<dir>/secrets.key` (the seeding used the same), monitoring off, and clearinghouse users `users` (one password).
 * `cpuProf`: run with `--cpu-prof` into `<dir>/prof`. Resolves once `ping` answers.
 * @throws when the manager exits first or does not answer within 120 s (migrations of a fresh MariaDB database).
 */
export async function startManagerChild(dir: string, database: Record<string, unknown>, users: string[], cpuProf: boolean): Promise<ManagerChild> {
  const { ca, tlsFiles } = issueTestCertificates(path.join(dir, `certs-${randomBytes(4).toString('hex')}`)); // one set per start
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  const config = {
    listen: { host: '127.0.0.1', port }, publicUrl: `https://127.0.0.1:${port}`, tls: tlsFiles('manager'), database,
    secretsKeyFile: path.join(dir, 'secrets.key'),
    users: [{ name: 'admin', passwordScrypt: hashPassword(password), roles: ['admin'] }, ...users.map((name) => ({ name, passwordScrypt: hashPassword(password), roles: ['clearinghouse'] }))],
    agentCallback: { user: 'oxad', password: randomBytes(16).toString('hex') }, monitoringIntervalSeconds: 0,
  };
  const configFile = path.join(dir, 'manager.json');
  await writeFile(configFile, JSON.stringify(config));
  const out = openSync(path.join(dir, 'manager.log'), 'a');
  const args = [...managerNodeFlags(), ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'prof')}`] : []), path.join(REPO_ROOT, 'packages/vt-manager/dist/main.js'), '--config', configFile];
  const child = spawn(process.execPath, args, { stdio: ['ignore', out, out] });
  const agent = new https.Agent({ keepAlive: true, ca: ca.certPem, maxSockets: 16 });
  const callOnce = (user: string, method: string, params: unknown[]) =>
    new Promise<{ ms: number; body: Buffer }>((resolve, reject) => {
      const body = Buffer.from(serialiseMethodCall(method, params));
      const started = performance.now();
      const req = https.request({
        host: '127.0.0.1', port, path: '/xmlrpc/plugin', method: 'POST', agent,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': body.length, Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve({ ms: performance.now() - started, body: Buffer.concat(chunks) }) : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(body);
    });
  // A kept-alive socket the manager closed as idle just as the request was sent on it: sent again once, as
  // Node's documentation advises for idempotent requests (every call here is a read).
  const call = (user: string, method: string, params: unknown[]) =>
    callOnce(user, method, params).catch((err: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
      if (err.reusedSocket && err.code === 'ECONNRESET') return callOnce(user, method, params);
      throw err;
    });
  const until = Date.now() + 120_000;
  for (;;) {
    try {
      await call(users[0]!, 'ping', ['up']);
      break;
    } catch (err) {
      if (child.exitCode !== null) throw new Error(`manager exited: ${readFileSync(path.join(dir, 'manager.log'), 'utf8').slice(-2000)}`);
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const scrapeOnce = () =>
    new Promise<string>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port, path: '/metrics', method: 'GET', agent,
        headers: { Authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`/metrics: HTTP ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end();
    });
  const scrape = () =>
    scrapeOnce().catch((err: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
      if (err.reusedSocket && err.code === 'ECONNRESET') return scrapeOnce();
      throw err;
    });
  let gcBefore = new Map<string, number>();
  const loopStats = async () => {
    const text = await scrape();
    const samples = [...text.matchAll(/^(\w+)(?:\{([^}]*)\})? (\S+)$/gm)].map((m) => ({ name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) }));
    const lag = (samples.find((x) => x.name === 'nodejs_eventloop_lag_max_seconds')?.value ?? NaN) * 1000;
    // GCs over 10 ms per kind: the count minus the le="0.01" bucket, since the previous call
    const over = new Map<string, number>();
    for (const c of samples.filter((x) => x.name === 'nodejs_gc_duration_seconds_count')) {
      const kind = /kind="(\w+)"/.exec(c.labels)?.[1] ?? '?';
      const fast = samples.find((x) => x.name === 'nodejs_gc_duration_seconds_bucket' && x.labels.includes('le="0.01"') && x.labels.includes(`kind="${kind}"`));
      over.set(kind, c.value - (fast?.value ?? 0));
    }
    const delta = [...over].map(([k, n]) => [k, n - (gcBefore.get(k) ?? 0)] as const).filter(([, n]) => n > 0);
    gcBefore = over;
    const mib = (name: string) => (samples.find((x) => x.name === name)?.value ?? NaN) / 1024 / 1024;
    return { heapMiB: mib('nodejs_heap_size_total_bytes'), externalMiB: mib('nodejs_external_memory_bytes'), lagMaxMs: lag, gcOver10ms: delta.reduce((a, [, n]) => a + n, 0), gcKinds: delta.map(([k, n]) => `${k} ${n}`).join(', ') };
  };
  const rss = () => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { nowMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
  };
  const cpuMs = () => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime (fields 14, 15) at USER_HZ 100
  };
  const pinger = async (user: string) => {
    const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const worker = new Worker(new URL('./ping-worker.js', import.meta.url), { workerData: { port, ca: ca.certPem, authorization } });
    // A worker that failed or exited between two messages is remembered, so that stop() reports it instead of
    // waiting for a message that never comes.
    let failure: Error | undefined;
    worker.on('error', (err) => { failure ??= err; });
    worker.on('exit', (code) => { failure ??= new Error(`the ping worker exited (code ${code})`); });
    const next = () => new Promise<Record<string, number>>((resolve, reject) => {
      if (failure) { reject(failure); return; }
      const settle = () => { worker.off('message', onMessage); worker.off('error', onEnd); worker.off('exit', onEnd); };
      const onMessage = (m: Record<string, number>) => { settle(); resolve(m); };
      const onEnd = () => { settle(); reject(failure ?? new Error('the ping worker stopped')); };
      worker.on('message', onMessage);
      worker.on('error', onEnd);
      worker.on('exit', onEnd);
    });
    await next(); // ready
    return {
      stop: async () => {
        const result = next();
        worker.postMessage('stop');
        const { worst, calls } = await result;
        await worker.terminate();
        return { worst: worst!, calls: calls! };
      },
    };
  };
  const stop = async () => {
    agent.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { child, call, rss, loopStats, cpuMs, pinger, stop };
}

/** The hash of a listResources answer (the first `<string>` of the array). @throws when there is none. */
export function answerHash(body: Buffer): string {
  const m = /<string>([0-9a-f]{64})<\/string>/.exec(body.subarray(0, 400).toString('latin1'));
  if (!m) throw new Error(`not a listResources answer: ${body.subarray(0, 300).toString('latin1')}`);
  return m[1]!;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/**
 * The `top` functions by self time of the `.cpuprofile` files in `dir`, as markdown table rows
 * (`| share | ms | function (file:line) |`), over the last `lastMs` of each profile (default all); idle left out.
 */
export function profileTop(dir: string, top: number, lastMs = Infinity): string[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return ['| – | – | no profile written |'];
  }
  const self = new Map<string, number>();
  let total = 0;
  for (const f of files) {
    const p = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const end = p.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
    let at = 0;
    p.samples.forEach((id, i) => {
      const n = byId.get(id)!;
      const dt = (p.timeDeltas[i] ?? 0) / 1000;
      at += dt;
      if (end - at > lastMs) return; // start-up (module loading) is not the listing
      const url = n.callFrame.url.replace(/^file:\/\/.*?\/(packages|node_modules)\//, '$1/');
      const key = `${n.callFrame.functionName || '(anonymous)'}${url ? ` (${url}:${n.callFrame.lineNumber + 1})` : ''}`;
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    });
  }
  const busy = [...self].filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(program)'));
  const busyTotal = busy.reduce((n, [, ms]) => n + ms, 0);
  return busy
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, ms]) => `| ${((100 * ms) / busyTotal).toFixed(1)} % | ${ms.toFixed(0)} | \`${k.replace(/\|/g, '\\|')}\` |`)
    .concat([`| – | ${busyTotal.toFixed(0)} | busy total (of ${total.toFixed(0)} ms profiled) |`]);
}
