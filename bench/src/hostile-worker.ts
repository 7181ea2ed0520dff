/**
 * The load worker of bench/src/hostile-load.ts: runs a hostile input class's load generator and the legitimate
 * pinger on this worker thread's own event loop, so their client-side work (TLS handshakes, building and writing
 * bodies, garbage collection) is not sampled as the manager's stall on the main thread.
 *
 * Messages in (plain data only): `prepare` {spec, target} builds the class's bodies and opens the pinger's kept
 * connection (first ping, so the login is cached), then answers `ready`; `start` {minMs} runs the pinger beside the
 * load until both the load is done and `minMs` have passed, then answers `done` with the ping latencies.
 */
import https from 'node:https';
import { parentPort } from 'node:worker_threads';
import { methodCallXml } from '@kvm-crm/harness';
import { post, prepareLoad, type HostileSpec, type Target } from './hostile-inputs.js';

export type ToWorker = { type: 'prepare'; spec: HostileSpec; target: Target } | { type: 'start'; minMs: number };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; latencies: number[]; failedPings: number; ms: number }
  | { type: 'failed'; error: string };

const port = parentPort;
if (!port) throw new Error('hostile-worker.js runs as a worker thread of hostile-load.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pingBody = methodCallXml('ping', ['legit']);

let prepared: { load: () => Promise<void>; target: Target; agent: https.Agent } | undefined;

async function onMessage(m: ToWorker): Promise<FromWorker> {
  switch (m.type) {
    case 'prepare': {
      const load = prepareLoad(m.spec, m.target);
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      const status = await post(m.target, '/xmlrpc/plugin', pingBody, m.target.user, m.target.pass, agent); // connection and cached login made before measuring
      if (status !== 200) throw new Error(`the warm-up ping got HTTP ${status}`);
      prepared = { load, target: m.target, agent };
      return { type: 'ready' };
    }
    case 'start': {
      if (!prepared) throw new Error('start before prepare');
      const { load, target: t, agent } = prepared;
      prepared = undefined;
      const latencies: number[] = [];
      let failedPings = 0;
      let running = true;
      const started = performance.now();
      // The legitimate client: the clearinghouse's ping on a kept connection, every 10 ms.
      const pinger = (async () => {
        while (running) {
          const t0 = performance.now();
          const status = await post(t, '/xmlrpc/plugin', pingBody, t.user, t.pass, agent);
          if (status === 200) latencies.push(performance.now() - t0);
          else failedPings++;
          await sleep(10);
        }
      })();
      await Promise.all([load(), sleep(m.minMs)]);
      running = false;
      await pinger;
      agent.destroy();
      return { type: 'done', latencies, failedPings, ms: performance.now() - started };
    }
  }
}

port.on('message', (m: ToWorker) => {
  onMessage(m).then(
    (answer) => port.postMessage(answer),
    (err: unknown) => port.postMessage({ type: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies FromWorker),
  );
});
