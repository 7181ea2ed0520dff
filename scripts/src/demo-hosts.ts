/**
 * `demo --hosts N` (scripts/demo.sh --hosts 3): the demo on N emulated hosts (docs/decisions/018-hosts-as-network-namespaces.md).
 * Each host is an oxad-agent process in its own network namespace, with its own address on a management bridge,
 * certificate (CN `demo-host-<i>`), storage root, guest bridge and domain prefix; the one manager listens on the
 * bridge. The hosts and their pools are registered with `vtctl`, then a clearinghouse creates one VM on each named
 * host through the OCF API, starts them and prints each guest's ready line; without --keep the VMs are deleted and
 * everything is removed. Guests all run under this machine's one libvirtd.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { XmlRpcClient, describeCertificate, hashPassword, type CertificateRole } from '@kvm-crm/shared';
import {
  createClusterNetwork,
  createQuery,
  domainsWithPrefix,
  lifecycleQuery,
  MAX_HOSTS,
  planClusterNetwork,
  REPO_ROOT,
  TestClearinghouse,
  waitForReadyLine,
  type HostNetwork,
} from '@kvm-crm/harness';
import {
  AGENT_PORT, CERTS, crlExpiresWithin, DOMAIN_PREFIX, done, elapsedSeconds, MANAGER_PORT, saveState, STATE_DIR, step, STORAGE_ROOT, teardown, TEMPLATE,
  vtctl, type DemoState,
} from './demo-common.js';
import { AGENT_NODE_FLAGS } from '@kvm-crm/oxad-agent';
import { MANAGER_NODE_FLAGS } from '@kvm-crm/vt-manager';
import { startDaemon, waitUntil } from './process-control.js';

/** One demo host: its network share and what the demo gives it. */
interface DemoHost {
  net: HostNetwork;
  /** Registered server name and its certificate's CN. */
  name: string;
  storageRoot: string;
  domainPrefix: string;
  agentUrl: string;
}

/** Runs the N-host demo; `keep` leaves everything up (stop with `demo --down`). */
export async function runHostsDemo(options: { hosts: number; keep: boolean }): Promise<void> {
  const { hosts: count, keep } = options;
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new Error(`--hosts wants a number of hosts from 1 to ${MAX_HOSTS}`);
  const state: DemoState = {};
  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  await saveState(state);
  let ok = false;
  try {
    step(`Management network: a bridge with the manager's address, and ${count} hosts, each a network namespace with a veth on that bridge`);
    const network = await planClusterNetwork('demo', count);
    state.network = network;
    await saveState(state);
    await createClusterNetwork(network);
    const hosts: DemoHost[] = network.hosts.map((net) => ({
      net, name: `demo-host-${net.index}`, storageRoot: path.join(STORAGE_ROOT, `h${net.index}`), domainPrefix: `${DOMAIN_PREFIX}h${net.index}-`,
      agentUrl: `https://${net.address}:${AGENT_PORT}/`,
    }));
    process.stdout.write(`           ${network.bridge} ${network.gateway}/24 (manager)\n`);
    for (const h of hosts) process.stdout.write(`           ${h.net.netns}: eth0 ${h.net.address}/24 (veth ${h.net.veth}), guest bridge ${h.net.guestBridge}\n`);
    done(network.subnet);

    step('Certificates: our CA and CRL, the manager (also for the bridge address), one agent per host (CN = its server name, IP = its namespace address), the clearinghouse');
    if (!existsSync(path.join(CERTS, 'ca.crt'))) await vtctl(['certs', 'init', '--dir', CERTS], {});
    const wanted: Array<{ name: string; role: CertificateRole; cn: string; dns: string[]; ips: string[] }> = [
      { name: 'manager', role: 'manager', cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1', network.gateway] },
      ...hosts.map((h) => ({ name: `agent-${h.name}`, role: 'agent' as const, cn: h.name, dns: [h.name], ips: [h.net.address] })),
      { name: 'clearinghouse', role: 'clearinghouse', cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] },
    ];
    for (const w of wanted) {
      const file = path.join(CERTS, `${w.name}.crt`);
      const info = existsSync(file) ? describeCertificate(readFileSync(file, 'utf8')) : undefined;
      const fits = info?.role === w.role && info.commonName === w.cn && w.ips.every((ip) => info.ipAddresses.includes(ip));
      if (fits && info.notAfter.getTime() > Date.now() + 86400_000) continue;
      await vtctl(['certs', 'issue', w.name, '--dir', CERTS, '--role', w.role, '--cn', w.cn, ...w.dns.flatMap((d) => ['--dns', d]), ...w.ips.flatMap((ip) => ['--ip', ip]), '--replace'], {});
    }
    const crlFile = path.join(CERTS, 'crl.pem');
    if (!existsSync(crlFile) || (await crlExpiresWithin(crlFile, 30))) await vtctl(['certs', 'crl', '--dir', CERTS], {});
    done(`${CERTS}: ${wanted.map((w) => w.name).join(', ')}`);

    step('Test template into each host\'s own storage root (built once, cached)');
    for (const h of hosts) {
      await mkdir(path.join(h.storageRoot, 'templates'), { recursive: true, mode: 0o755 });
      await execa('bash', [path.join(REPO_ROOT, 'scripts/build-test-template.sh'), '--catalogue', path.join(h.storageRoot, 'templates')], { stdout: 'ignore' });
    }
    done(hosts.map((h) => path.join(h.storageRoot, 'templates')).join(', '));

    step('Configuration: random passwords, config files (mode 0600) in var/demo/');
    const secret = () => randomBytes(18).toString('base64url');
    const adminPassword = secret();
    const chPassword = secret();
    const agentCallbackPassword = randomBytes(18).toString('hex');
    const tlsOf = (name: string) => ({
      caFile: path.join(CERTS, 'ca.crt'), certFile: path.join(CERTS, `${name}.crt`), keyFile: path.join(CERTS, `${name}.key`), crlFile: path.join(CERTS, 'crl.pem'),
    });
    await writeFile(path.join(STATE_DIR, 'admin.password'), adminPassword + '\n', { mode: 0o600 });
    for (const h of hosts) {
      const password = secret();
      await writeFile(path.join(STATE_DIR, `${h.name}.password`), password + '\n', { mode: 0o600 });
      await writeFile(
        path.join(STATE_DIR, `${h.name}.json`),
        JSON.stringify({
          listen: { host: h.net.address, port: AGENT_PORT }, tls: tlsOf(`agent-${h.name}`),
          password, storageRoot: h.storageRoot, domainPrefix: h.domainPrefix, logFormat: 'json',
          eventsUrl: `https://oxad:${agentCallbackPassword}@${network.gateway}:${MANAGER_PORT}/xmlrpc/agent`,
        }, null, 2),
        { mode: 0o600 },
      );
    }
    await writeFile(
      path.join(STATE_DIR, 'manager.json'),
      JSON.stringify({
        listen: { host: network.gateway, port: MANAGER_PORT }, publicUrl: `https://${network.gateway}:${MANAGER_PORT}`,
        tls: tlsOf('manager'),
        database: { type: 'sqlite', path: path.join(STATE_DIR, 'manager.sqlite') },
        users: [
          { name: 'admin', passwordScrypt: hashPassword(adminPassword), roles: ['admin'] },
          { name: 'expedient', passwordScrypt: hashPassword(chPassword), roles: ['clearinghouse'] },
        ],
        agentCallback: { user: 'oxad', password: agentCallbackPassword },
        monitoringIntervalSeconds: 10,
        logFormat: 'json',
      }, null, 2),
      { mode: 0o600 },
    );
    done();

    step(`Starting ${count} oxad-agents, each inside its namespace (nsenter --net), on port ${AGENT_PORT} of its own address`);
    const ca = readFileSync(path.join(CERTS, 'ca.crt'), 'utf8');
    const managerTls = { ca, cert: readFileSync(path.join(CERTS, 'manager.crt'), 'utf8'), key: readFileSync(path.join(CERTS, 'manager.key'), 'utf8') };
    state.agentPids = [];
    for (const h of hosts) {
      state.agentPids.push(startDaemon(path.join(REPO_ROOT, 'packages/oxad-agent/dist/main.js'), path.join(STATE_DIR, `${h.name}.json`), path.join(STATE_DIR, `${h.name}.log`), REPO_ROOT, { netns: h.net.netns, nodeFlags: AGENT_NODE_FLAGS }));
      await saveState(state);
    }
    // Mutual TLS through the bridge: the demo pings each agent with the manager's certificate.
    await Promise.all(hosts.map((h) => waitUntil(h.name, () => new XmlRpcClient({ url: h.agentUrl, tls: managerTls, timeoutSeconds: 2, keepAlive: false }).call('ping', ['hello']), 90)));
    done(hosts.map((h, k) => `${h.name} pid ${state.agentPids?.[k]} at ${h.agentUrl}`).join('; '));

    const managerUrl = `https://${network.gateway}:${MANAGER_PORT}`;
    step(`Starting vt-manager on ${managerUrl}/ (log var/demo/manager.log)`);
    state.managerPid = startDaemon(path.join(REPO_ROOT, 'packages/vt-manager/dist/main.js'), path.join(STATE_DIR, 'manager.json'), path.join(STATE_DIR, 'manager.log'), REPO_ROOT, { nodeFlags: MANAGER_NODE_FLAGS });
    await saveState(state);
    const managerPing = new XmlRpcClient({ url: `https://expedient:${chPassword}@${network.gateway}:${MANAGER_PORT}/xmlrpc/plugin`, tls: { ca }, timeoutSeconds: 2 });
    await waitUntil('vt-manager', () => managerPing.call('ping', ['hello']), 60);
    done(`pid ${state.managerPid}`);

    step('Registering the hosts and their pools with the admin CLI (each host its own slice of the guest network)');
    const env = {
      KVMCRM_ADMIN_URL: `${managerUrl}/xmlrpc/admin`, KVMCRM_ADMIN_USER: 'admin', KVMCRM_ADMIN_PASSWORD: adminPassword, KVMCRM_CA_FILE: path.join(CERTS, 'ca.crt'),
    };
    for (const h of hosts) {
      const i = h.net.index;
      await vtctl(['server', 'add', h.name, '--agent-url', h.agentUrl, '--agent-password-file', path.join(STATE_DIR, `${h.name}.password`), '--bridge', h.net.guestBridge], env);
      await vtctl(['range', 'add-ipv4', `demo-net-h${i}`, '--start', `192.0.2.${20 * i + 10}`, '--end', `192.0.2.${20 * i + 29}`, '--netmask', '255.255.255.0', '--gateway', '192.0.2.1', '--dns', '192.0.2.2'], env);
      await vtctl(['range', 'add-mac', `demo-macs-h${i}`, '--start', `02:00:c0:00:02:${i}0`, '--end', `02:00:c0:00:02:${i}f`], env);
      await vtctl(['range', 'subscribe', h.name, '--ipv4', `demo-net-h${i}`, '--mac', `demo-macs-h${i}`], env);
    }
    const servers = JSON.parse(await vtctl(['--json', 'server', 'list'], env)) as Array<{ uuid: string; name: string }>;
    const uuidOf = (h: DemoHost) => servers.find((s) => s.name === h.name)?.uuid ?? '';
    done(hosts.map((h) => `${h.name} ${uuidOf(h)}`).join(', '));

    step(`Clearinghouse: one VM created on each named host (OCF create with its server-id), then started`);
    const clearinghouse = new TestClearinghouse({ certPem: readFileSync(path.join(CERTS, 'clearinghouse.crt'), 'utf8'), keyPem: readFileSync(path.join(CERTS, 'clearinghouse.key'), 'utf8') });
    await clearinghouse.start();
    const plugin = new XmlRpcClient({ url: `https://expedient:${chPassword}@${network.gateway}:${MANAGER_PORT}/xmlrpc/plugin`, tls: { ca } });
    const act = async (xml: string, actionId: string, what: string) => {
      await plugin.call('send', [clearinghouse.callbackUrl, xml]);
      const statuses = await clearinghouse.waitForTerminal(actionId);
      if (statuses.at(-1)?.status !== 'SUCCESS') throw new Error(`${what} failed: ${JSON.stringify(statuses)}`);
    };
    try {
      const vms = hosts.map((h) => ({ host: h, name: `demo-vm-${h.net.index}`, create: createQuery({ serverUuid: uuidOf(h), name: `demo-vm-${h.net.index}`, template: TEMPLATE }) }));
      const startAt = Date.now();
      await Promise.all(vms.map((v) => act(v.create.xml, v.create.actionId, `create on ${v.host.name}`)));
      await Promise.all(vms.map((v) => {
        const q = lifecycleQuery('start', { serverUuid: uuidOf(v.host), vmUuid: v.create.vmUuid, name: v.name });
        return act(q.xml, q.actionId, `start on ${v.host.name}`);
      }));
      done(`${vms.length} created and started`);

      step('Waiting for each guest to print its ready line on its serial console');
      const ready = await Promise.all(vms.map((v) => waitForReadyLine(path.join(v.host.storageRoot, 'vms', v.create.vmUuid, 'console.log'))));
      const rows = JSON.parse(await vtctl(['--json', 'vm', 'list'], env)) as Array<{ uuid: string; state: string; interfaces: Array<{ ip: string }> }>;
      process.stdout.write('\n    host           agent address   VM          state    guest\n');
      vms.forEach((v, k) => {
        const row = rows.find((r) => r.uuid === v.create.vmUuid);
        process.stdout.write(`    ${v.host.name.padEnd(14)} ${v.host.net.address.padEnd(15)} ${v.name.padEnd(11)} ${(row?.state ?? '?').padEnd(8)} ${ready[k]?.line}\n`);
        if (!ready[k] || !row || ready[k].ip !== `${row.interfaces[0]?.ip}/24`) throw new Error(`${v.name} did not come up with its allocated IP`);
      });
      for (const h of hosts) {
        const own = await domainsWithPrefix(h.domainPrefix);
        process.stdout.write(`    ${h.name} (domain prefix ${h.domainPrefix}): ${own.join(', ')}\n`);
        if (own.length !== 1) throw new Error(`${h.name} has ${own.length} domains, 1 expected`);
      }
      done(`${((Date.now() - startAt) / 1000).toFixed(2)} s from the first create to the last ready line`);

      if (keep) {
        ok = true;
        process.stdout.write(`
The manager (pid ${state.managerPid}), the agents (pids ${state.agentPids.join(', ')}) and ${vms.length} VMs keep running.
Go on with the admin CLI:

  export KVMCRM_ADMIN_URL=${env.KVMCRM_ADMIN_URL} KVMCRM_ADMIN_USER=admin KVMCRM_CA_FILE=${env.KVMCRM_CA_FILE}
  export KVMCRM_ADMIN_PASSWORD=$(cat var/demo/admin.password)
  node packages/vt-manager/dist/vtctl.js server list
  node packages/vt-manager/dist/vtctl.js vm list
  ip netns list                               # ${hosts.map((h) => h.net.netns).join(', ')}
  virsh -c qemu:///system list --all          # domains ${DOMAIN_PREFIX}h<i>-<vm uuid>

Stop and remove everything with:  bash scripts/demo.sh --down
`);
        return;
      }

      step('Deleting the VMs (hardStop, delete)');
      for (const v of vms) {
        for (const type of ['hardStop', 'delete']) {
          const q = lifecycleQuery(type, { serverUuid: uuidOf(v.host), vmUuid: v.create.vmUuid, name: v.name });
          await act(q.xml, q.actionId, `${type} of ${v.name}`);
        }
      }
      const left = await domainsWithPrefix(DOMAIN_PREFIX);
      done(`domains left: ${left.length}`);
      if (left.length) throw new Error('delete left something behind');
      ok = true;
    } finally {
      await clearinghouse.stop();
    }
  } finally {
    if (!keep || !ok) {
      step('Cleaning up: stopping the manager and the agents, removing namespaces, veths, bridges, storage and demo state');
      await teardown(state);
      done(`domains left with our prefix: ${(await domainsWithPrefix(DOMAIN_PREFIX)).length}`);
    }
  }
  process.stdout.write(`\nDemo finished in ${elapsedSeconds()} s.\n`);
}
