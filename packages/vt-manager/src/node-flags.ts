/**
 * The Node.js (V8) flags the manager runs with: `node <MANAGER_NODE_FLAGS…> packages/vt-manager/dist/main.js --config …`,
 * in every start script and unit that starts a manager (the test harness's manager processes, the demo, the
 * benchmarks, systemd), as the agent's `AGENT_NODE_FLAGS`. Given at start: V8 reads them when it sizes its heap.
 * Measured with bench/src/listing.ts (issue #14 goal 1: manager RSS ≤ 256 MiB during listings; decision 035, amended).
 *
 * - `--heap-growing-percent=30`: after each full GC, V8 lets the old generation grow to 1.3 × what survived (at least
 *   +16 MiB) before the next one, the factor V8 itself uses when it optimises for memory. Without it, on a machine
 *   with more than ~8 GiB of memory V8 allows up to 4 × (its default maximum heap is then ≥ 2 GiB): the manager's live
 *   heap after a full GC is ~40 MiB (code, module sources, typeorm metadata, the cache's piece index), yet during
 *   rounds of 5 concurrent listings (with 29 MiB answers and concurrent pings) garbage promoted to the old
 *   generation raised V8's heap to 85–133 MiB before V8 collected it, so the peak RSS over the same run varied
 *   from 242 to 296 MiB on MariaDB. With the flag the heap stayed at 77–85 MiB. The cost is more frequent full
 *   GCs, incremental (marked in steps between tasks), each finishing in ~5–25 ms on this heap.
 */
export const MANAGER_NODE_FLAGS: readonly string[] = ['--heap-growing-percent=30'];
