/**
 * The cluster every kvm-crm benchmark runs against: the harness's multi-host cluster (decision 018), so that each
 * agent is a separate process as in production (its RSS can be sampled; the manager and clearinghouse do not share
 * its event loop), plus a folder and identity for the peer guests (bare script, virt-install) beside it.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startCluster, type MultiHostCluster } from '@kvm-crm/harness';
import { agentDomainType, TEMPLATE, type PeerTarget } from './one-vm.js';

/** A started benchmark cluster and where its peers go. */
export interface BenchCluster {
  c: MultiHostCluster;
  /** Where bare-script and virt-install guests of host 1 go, with the agent's domain type. */
  peer: PeerTarget;
}

/**
 * Starts a cluster of `hosts` agents (monitoring off: its pings would only add noise), probes the domain type on
 * host 1 (one create + delete, which also warms the path) and makes `<run dir>/peers`. The caller must call
 * `c.cleanup()` (also on failure of the rest); on failure here everything is removed before the error is thrown.
 */
export async function startBenchCluster(hosts: number): Promise<BenchCluster> {
  const c = await startCluster({ hosts, monitoring: { intervalSeconds: 0 } });
  try {
    const h = c.hosts[0]!;
    const dir = path.join(c.dir, 'peers');
    await mkdir(dir, { mode: 0o755 });
    const domainType = await agentDomainType(c, h);
    return { c, peer: { dir, template: path.join(h.storageRoot, 'templates', TEMPLATE), bridge: h.bridge, domainPrefix: c.domainPrefix, domainType } };
  } catch (err) {
    await c.cleanup();
    throw err;
  }
}
