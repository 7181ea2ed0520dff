/**
 * The Node.js (V8) flags the agent runs with: `node <AGENT_NODE_FLAGS…> packages/oxad-agent/dist/main.js --config …`,
 * in every start script and unit that starts an agent (the test harness's hosts, the demo, systemd).
 *
 * `--max-semi-space-size=1` (MiB): V8's young generation may grow to 2 × 16 MiB by default on 64-bit; the agent
 * allocates little per request (an XML document, a few small objects), so the young generation stays small and the
 * idle RSS drops by ~10 MiB (measured with bench/src/agent-memory.ts, issue #14 goal 6, decision 033) at the price of
 * more frequent, shorter scavenges. It cannot be set from inside the process (`v8.setFlagsFromString` after start
 * does not shrink the heap already reserved), hence a start-script flag.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
