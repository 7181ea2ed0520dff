/**
 * The Node.js (V8) flags the agent runs with: `node <AGENT_NODE_FLAGS…> packages/oxad-agent/dist/main.js --config …`,
 * in every start script and unit that starts an agent (the test harness's hosts, the demo, systemd). They cannot be
 * set from inside the process (`v8.setFlagsFromString` after start does not shrink what is already reserved or
 * compiled), hence start-script flags. Measured with bench/src/agent-memory.ts (issue #14 goal 6, decisions 033, 036).
 *
 * - `--max-semi-space-size=1` (MiB): V8's young generation may grow to 2 × 16 MiB by default on 64-bit; the agent
 *   allocates little per request (an XML document, a few small objects), so it stays small: idle RSS −10 MiB, at the
 *   price of more frequent, shorter scavenges.
 * - `--lite-mode`: V8 runs JavaScript in its interpreter only (no Sparkplug/TurboFan code, regular expressions
 *   interpreted, feedback vectors allocated lazily). The agent's CPU goes to virsh, qemu-img and TLS (native code),
 *   not to hot JavaScript: its own CPU time for 10 creates was unchanged (1.2–1.5 s either way) and its start took
 *   less (1.1–1.3 s against 1.8 s), while idle RSS fell by a further ~15 MiB (no compiler zones, code or feedback).
 * - `--no-expose-wasm`: lite mode has no WebAssembly anyway; saying so silences V8's "disabling flag --expose_wasm"
 *   warning at every start. Consequence: no `WebAssembly` global, so Node's global `fetch` (undici parses HTTP with
 *   WebAssembly) does not work in the agent; it uses `node:https` (shared/xmlrpc) for its calls.
 * - `--expose-gc`: gives the agent the global `gc()`, which adapters/idle-heap-compactor.ts calls once after a burst
 *   of work, when the agent is quiet again and its old space is sparse: V8's own memory reducer does not run again
 *   after work unless the heap grew by ≥ 10 MiB, so the agent idled ~5 MiB higher after 10 creates than before
 *   them. Nothing else calls `gc()`; no code but the agent's runs in the process (decision 036, amended).
 * - `--compact-on-every-full-gc`: that GC (and every other full GC) also compacts the old space, where V8's
 *   heuristics would leave its half-empty pages. Given at start rather than switched on for the one GC with
 *   `v8.setFlagsFromString`, which Node documents as possibly unpredictable after start. Measured cost (10 runs each):
 *   the agent's CPU per create +7 % by the mean (same median, run-to-run spread ±15 %), peak RSS during 10 creates
 *   +10–13 MiB (VmHWM 78.8–82.5 MiB, under the 96 MiB budget); after work the same 62.3–64.0 MiB (decision 036).
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--lite-mode', '--no-expose-wasm', '--expose-gc', '--compact-on-every-full-gc'];
