/**
 * The kvm-crm demo (README command 1, via scripts/demo.sh): a real manager and agent as processes, the host and
 * pools registered with `vtctl`, then a clearinghouse client that creates a VM through the OCF API, starts it,
 * prints the guest's ready line from its serial log, stops and deletes it, and removes everything it made.
 *
 *   demo [--keep]             --keep leaves the manager, the agent and the running VM up, and says how to go on
 *   demo --hosts N [--keep]   N hosts (1..9), each an agent in its own network namespace, a VM booted on each (demo-hosts.ts)
 *   demo --down               stops and removes what a --keep run left
 *
 * Ports: manager 8445, agent 9229 (override with KVMCRM_DEMO_MANAGER_PORT / KVMCRM_DEMO_AGENT_PORT).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { XmlRpcClient, describeCertificate, describeError, hashPassword, type CertificateRole } from '@kvm-crm/shared';
import { createQuery, domainsWithPrefix, lifecycleQuery, REPO_ROOT, TestClearinghouse, virsh, waitForReadyLine } from '@kvm-crm/harness';
import {
  AGENT_PORT, BRIDGE, CERTS, crlExpiresWithin, DOMAIN_PREFIX, done, MANAGER_PORT, readState, saveState, STATE_DIR, stateFile, step, STORAGE_ROOT,
  teardown, TEMPLATE, vtctl, elapsedSeconds, type DemoState,
} from './demo-common.js';
import { AGENT_NODE_FLAGS } from '@kvm-crm/oxad-agent';
import { MANAGER_NODE_FLAGS } from '@kvm-crm/vt-manager';
import { runHostsDemo } from './demo-hosts.js';
import { isAlive, startDaemon, waitUntil } from './process-control.js';

/** The name the demo registers its KVM host under: the CN of the agent's certificate. */
const SERVER_NAME = 'demo-host';

async function down(): Promise<void> {
  step('Stopping what the last --keep demo left');
  await teardown(readState());
  done('manager, agents, VMs, bridges, namespaces and demo state removed (certs/ kept)');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--down')) return down();
  const keep = args.includes('--keep');
  if (existsSync(stateFile)) {
    const old = readState();
    if ([old.managerPid, old.agentPid, ...(old.agentPids ?? [])].some((pid) => pid !== undefined && isAlive(pid))) {
      throw new Error('a --keep demo is still running: stop it first with `bash scripts/demo.sh --down`');
    }
  }
  const hostsAt = args.indexOf('--hosts');
  if (hostsAt >= 0) return runHostsDemo({ hosts: Number(args[hostsAt + 1]), keep });
  const state: DemoState = {};
  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  await saveState(state);
  let ok = false;
  try {
    step('Certificates: our own CA and CRL, the manager, the agent (CN = its server name) and the demo clearinghouse, each with its role (vtctl certs)');
    if (!existsSync(path.join(CERTS, 'ca.crt'))) await vtctl(['certs', 'init', '--dir', CERTS, '--agent', `${SERVER_NAME}=127.0.0.1`], {});
    else process.stdout.write('           certs/ca.crt exists: reusing the CA\n');
    // Re-issue what is missing or was made before roles existed (an old certs/ folder), so that mutual TLS works.
    const wanted: Array<{ name: string; role: CertificateRole; cn: string; dns: string[] }> = [
      { name: 'manager', role: 'manager', cn: 'localhost', dns: ['localhost'] },
      { name: `agent-${SERVER_NAME}`, role: 'agent', cn: SERVER_NAME, dns: [SERVER_NAME] },
      { name: 'clearinghouse', role: 'clearinghouse', cn: 'localhost', dns: ['localhost'] },
    ];
    for (const w of wanted) {
      const file = path.join(CERTS, `${w.name}.crt`);
      const info = existsSync(file) ? describeCertificate(readFileSync(file, 'utf8')) : undefined;
      if (info?.role === w.role && info.commonName === w.cn && info.notAfter.getTime() > Date.now() + 86400_000) continue;
      await vtctl(['certs', 'issue', w.name, '--dir', CERTS, '--role', w.role, '--cn', w.cn, ...w.dns.flatMap((d) => ['--dns', d]), '--ip', '127.0.0.1', '--replace'], {});
    }
    // A CRL (both daemons refuse the certificates it lists), re-signed when missing or expiring within 30 days.
    const crlFile = path.join(CERTS, 'crl.pem');
    if (!existsSync(crlFile) || (await crlExpiresWithin(crlFile, 30))) await vtctl(['certs', 'crl', '--dir', CERTS], {});
    const listed = JSON.parse(await vtctl(['--json', 'certs', 'list', '--dir', CERTS], {})) as Array<{ name: string; role: string; serial: string }>;
    done(`${CERTS}: ${listed.map((c) => `${c.name} (${c.role || 'no role'})`).join(', ')}`);

    step('Test template: Debian cloud kernel + busybox initramfs, built from Debian packages (cached)');
    await mkdir(path.join(STORAGE_ROOT, 'templates'), { recursive: true, mode: 0o755 });
    await execa('bash', [path.join(REPO_ROOT, 'scripts/build-test-template.sh'), '--catalogue', path.join(STORAGE_ROOT, 'templates')], { stdout: 'ignore' });
    done(path.join(STORAGE_ROOT, 'templates', TEMPLATE));

    step(`Host bridge ${BRIDGE} (no address: the guest's NIC is plugged into it, nothing is routed)`);
    if (!existsSync(`/sys/class/net/${BRIDGE}`)) {
      await execa('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
      await execa('ip', ['link', 'set', BRIDGE, 'up']);
      state.createdBridge = true;
      await saveState(state);
    }
    done();

    step('Configuration: random passwords, config files (mode 0600) in var/demo/');
    const secret = () => randomBytes(18).toString('base64url');
    const adminPassword = secret();
    const chPassword = secret();
    const viewerPassword = secret();
    const agentPassword = secret();
    const agentCallbackPassword = randomBytes(18).toString('hex');
    await writeFile(path.join(STATE_DIR, 'admin.password'), adminPassword + '\n', { mode: 0o600 });
    await writeFile(path.join(STATE_DIR, 'viewer.password'), viewerPassword + '\n', { mode: 0o600 });
    await writeFile(path.join(STATE_DIR, 'agent.password'), agentPassword + '\n', { mode: 0o600 });
    await writeFile(
      path.join(STATE_DIR, 'agent.json'),
      JSON.stringify({
        listen: { host: '127.0.0.1', port: AGENT_PORT },
        tls: {
          caFile: path.join(CERTS, 'ca.crt'), certFile: path.join(CERTS, `agent-${SERVER_NAME}.crt`), keyFile: path.join(CERTS, `agent-${SERVER_NAME}.key`),
          crlFile: path.join(CERTS, 'crl.pem'),
        },
        password: agentPassword, storageRoot: STORAGE_ROOT, domainPrefix: DOMAIN_PREFIX, logFormat: 'json',
        eventsUrl: `https://oxad:${agentCallbackPassword}@127.0.0.1:${MANAGER_PORT}/xmlrpc/agent`,
      }, null, 2),
      { mode: 0o600 },
    );
    await writeFile(
      path.join(STATE_DIR, 'manager.json'),
      JSON.stringify({
        listen: { host: '127.0.0.1', port: MANAGER_PORT }, publicUrl: `https://127.0.0.1:${MANAGER_PORT}`,
        tls: { caFile: path.join(CERTS, 'ca.crt'), certFile: path.join(CERTS, 'manager.crt'), keyFile: path.join(CERTS, 'manager.key'), crlFile: path.join(CERTS, 'crl.pem') },
        database: { type: 'sqlite', path: path.join(STATE_DIR, 'manager.sqlite') },
        users: [
          { name: 'admin', passwordScrypt: hashPassword(adminPassword), roles: ['admin'] },
          { name: 'expedient', passwordScrypt: hashPassword(chPassword), roles: ['clearinghouse'] },
          { name: 'viewer', passwordScrypt: hashPassword(viewerPassword), roles: ['viewer'] },
        ],
        agentCallback: { user: 'oxad', password: agentCallbackPassword },
        logFormat: 'json',
      }, null, 2),
      { mode: 0o600 },
    );
    done();

    step(`Starting oxad-agent on https://127.0.0.1:${AGENT_PORT}/ (log var/demo/agent.log)`);
    const ca = readFileSync(path.join(CERTS, 'ca.crt'), 'utf8');
    state.agentPid = startDaemon(path.join(REPO_ROOT, 'packages/oxad-agent/dist/main.js'), path.join(STATE_DIR, 'agent.json'), path.join(STATE_DIR, 'agent.log'), REPO_ROOT, { nodeFlags: AGENT_NODE_FLAGS });
    await saveState(state);
    // Mutual TLS: the agent answers only the manager's certificate, so the demo pings it with that one.
    const managerTls = { ca, cert: readFileSync(path.join(CERTS, 'manager.crt'), 'utf8'), key: readFileSync(path.join(CERTS, 'manager.key'), 'utf8') };
    const agentClient = new XmlRpcClient({ url: `https://127.0.0.1:${AGENT_PORT}/`, tls: managerTls, timeoutSeconds: 2 });
    await waitUntil('oxad-agent', () => agentClient.call('ping', ['hello']), 60);
    const probe = (await readFile(path.join(STATE_DIR, 'agent.log'), 'utf8')).split('\n').find((l) => l.includes('hypervisor chosen'));
    done(`pid ${state.agentPid}; ${probe ? (JSON.parse(probe) as { reason: string }).reason : ''}`);
    const refusal = await new XmlRpcClient({ url: `https://127.0.0.1:${AGENT_PORT}/`, tls: { ca }, timeoutSeconds: 2 }).call('ping', ['hello']).then(
      () => 'answered (mutual TLS is off!)',
      (err: unknown) => describeError(err),
    );
    process.stdout.write(`           a caller without the manager's certificate gets: ${refusal}\n`);

    step(`Starting vt-manager on https://127.0.0.1:${MANAGER_PORT}/ (log var/demo/manager.log)`);
    state.managerPid = startDaemon(path.join(REPO_ROOT, 'packages/vt-manager/dist/main.js'), path.join(STATE_DIR, 'manager.json'), path.join(STATE_DIR, 'manager.log'), REPO_ROOT, { nodeFlags: MANAGER_NODE_FLAGS });
    await saveState(state);
    const managerPing = new XmlRpcClient({ url: `https://expedient:${chPassword}@127.0.0.1:${MANAGER_PORT}/xmlrpc/plugin`, tls: { ca }, timeoutSeconds: 2 });
    await waitUntil('vt-manager', () => managerPing.call('ping', ['hello']), 60);
    done(`pid ${state.managerPid}`);

    step('Registering the host and its pools with the admin CLI');
    const env = {
      KVMCRM_ADMIN_URL: `https://127.0.0.1:${MANAGER_PORT}/xmlrpc/admin`, KVMCRM_ADMIN_USER: 'admin',
      KVMCRM_ADMIN_PASSWORD: adminPassword, KVMCRM_CA_FILE: path.join(CERTS, 'ca.crt'),
    };
    await vtctl(['server', 'add', SERVER_NAME, '--agent-url', `https://127.0.0.1:${AGENT_PORT}/`, '--agent-password-file', path.join(STATE_DIR, 'agent.password'), '--bridge', BRIDGE], env);
    await vtctl(['range', 'add-ipv4', 'demo-net', '--start', '192.0.2.10', '--end', '192.0.2.99', '--netmask', '255.255.255.0', '--gateway', '192.0.2.1', '--dns', '192.0.2.2', '--exclude', '192.0.2.53'], env);
    await vtctl(['range', 'add-mac', 'demo-macs', '--start', '02:00:c0:00:02:00', '--end', '02:00:c0:00:02:ff'], env);
    await vtctl(['range', 'subscribe', SERVER_NAME, '--ipv4', 'demo-net', '--mac', 'demo-macs'], env);
    // The demo clearinghouse's callback listens on loopback, which the callback policy refuses unless allowed.
    await vtctl(['user', 'set-callback-policy', 'expedient', '--allow', '127.0.0.1/32'], env);
    const servers = JSON.parse(await vtctl(['--json', 'server', 'list'], env)) as Array<{ uuid: string }>;
    const serverUuid = servers[0]!.uuid;
    done(`server uuid ${serverUuid}`);

    step('Clearinghouse: serving sendAsync on its own HTTPS callback, sending create (OCF send)');
    const clearinghouse = new TestClearinghouse({ certPem: readFileSync(path.join(CERTS, 'clearinghouse.crt'), 'utf8'), keyPem: readFileSync(path.join(CERTS, 'clearinghouse.key'), 'utf8') });
    await clearinghouse.start();
    const plugin = new XmlRpcClient({ url: `https://expedient:${chPassword}@127.0.0.1:${MANAGER_PORT}/xmlrpc/plugin`, tls: { ca } });
    const show = (statuses: Array<{ status: string; type?: string; description?: string; at: number }>, since: number) =>
      statuses.map((s) => `${s.type} ${s.status}${s.description ? ` (${s.description})` : ''} at +${((s.at - since) / 1000).toFixed(2)} s`).join(', ');
    try {
      const name = 'demo-vm';
      const create = createQuery({ serverUuid, name, template: TEMPLATE });
      const sentAt = Date.now();
      await plugin.call('send', [clearinghouse.callbackUrl, create.xml]);
      const created = await clearinghouse.waitForTerminal(create.actionId);
      if (created.at(-1)!.status !== 'SUCCESS') throw new Error(`create failed: ${show(created, sentAt)}`);
      done(show(created, sentAt));

      step('Sending start');
      const start = lifecycleQuery('start', { serverUuid, vmUuid: create.vmUuid, name });
      const startAt = Date.now();
      await plugin.call('send', [clearinghouse.callbackUrl, start.xml]);
      const started = await clearinghouse.waitForTerminal(start.actionId);
      if (started.at(-1)!.status !== 'SUCCESS') throw new Error(`start failed: ${show(started, startAt)}`);
      done(show(started, startAt));

      step('Waiting for the guest to read its seed and print its ready line on the serial console');
      const ready = await waitForReadyLine(path.join(STORAGE_ROOT, 'vms', create.vmUuid, 'console.log'));
      const vms = JSON.parse(await vtctl(['--json', 'vm', 'list'], env)) as Array<{ uuid: string; state: string; interfaces: Array<{ ip: string; mac: string }> }>;
      const vm = vms.find((v) => v.uuid === create.vmUuid)!;
      process.stdout.write(`\n    guest: ${ready.line}\n    manager allocated ip=${vm.interfaces[0]!.ip} mac=${vm.interfaces[0]!.mac}; VM state "${vm.state}"\n`);
      if (!ready.ip.startsWith(`${vm.interfaces[0]!.ip}/`) || ready.hostname !== name) throw new Error('the guest did not come up with the allocated hostname and IP');
      done(`${((Date.now() - startAt) / 1000).toFixed(2)} s from start request to ready line`);

      if (keep) {
        ok = true;
        process.stdout.write(`
The manager (pid ${state.managerPid}), the agent (pid ${state.agentPid}) and VM ${name} (${create.vmUuid}) keep running.
Web dashboard (decision 029; the browser must trust certs/ca.crt, or accept the warning):

  https://127.0.0.1:${MANAGER_PORT}/ui/
  admin:  user admin,  password ${adminPassword}   (var/demo/admin.password)
  viewer: user viewer, password ${viewerPassword}   (read only; var/demo/viewer.password)

Go on with the admin CLI:

  export KVMCRM_ADMIN_URL=${env.KVMCRM_ADMIN_URL} KVMCRM_ADMIN_USER=admin KVMCRM_CA_FILE=${env.KVMCRM_CA_FILE}
  export KVMCRM_ADMIN_PASSWORD=$(cat var/demo/admin.password)
  node packages/vt-manager/dist/vtctl.js vm list
  node packages/vt-manager/dist/vtctl.js action list
  node packages/vt-manager/dist/vtctl.js range list
  virsh -c qemu:///system list --all          # domain ${DOMAIN_PREFIX}${create.vmUuid}
  tail -f ${path.join(STORAGE_ROOT, 'vms', create.vmUuid, 'console.log')}

Stop and remove everything with:  bash scripts/demo.sh --down
`);
        return;
      }

      step('Sending hardStop (the GUI "stop", docs/ocf-protocol.md §8.2)');
      const stop = lifecycleQuery('hardStop', { serverUuid, vmUuid: create.vmUuid, name });
      const stopAt = Date.now();
      await plugin.call('send', [clearinghouse.callbackUrl, stop.xml]);
      done(show(await clearinghouse.waitForTerminal(stop.actionId), stopAt));

      step('Sending delete');
      const del = lifecycleQuery('delete', { serverUuid, vmUuid: create.vmUuid, name });
      const delAt = Date.now();
      await plugin.call('send', [clearinghouse.callbackUrl, del.xml]);
      const deleted = await clearinghouse.waitForTerminal(del.actionId);
      if (deleted.at(-1)!.status !== 'SUCCESS') throw new Error(`delete failed: ${show(deleted, delAt)}`);
      const left = await domainsWithPrefix(DOMAIN_PREFIX);
      const dirLeft = existsSync(path.join(STORAGE_ROOT, 'vms', create.vmUuid));
      done(`${show(deleted, delAt)}; domains left: ${left.length}, VM folder left: ${dirLeft}`);
      if (left.length || dirLeft) throw new Error('delete left something behind');
      ok = true;
    } finally {
      await clearinghouse.stop();
    }
  } finally {
    if (!keep || !ok) {
      step('Cleaning up: stopping manager and agent, removing the bridge, storage and demo state');
      await teardown(state);
      const libvirtLeft = (await virsh('list', '--all', '--name')).stdout.split('\n').filter((n) => n.startsWith(DOMAIN_PREFIX));
      done(`domains left with our prefix: ${libvirtLeft.length}`);
    }
  }
  process.stdout.write(`\nDemo finished in ${elapsedSeconds()} s.\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`\ndemo failed: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
