/**
 * Mutual TLS between a real vt-manager and a real oxad-agent on loopback (no libvirt domain is touched: the agent
 * uses libvirt's in-process `test:///default` driver): who the agent accepts, who the manager's `/xmlrpc/agent`
 * accepts, the manager's check of the agent's certificate name, revocation through the CRL file that both daemons
 * watch, and certificate rotation while both run (requests in flight complete, new connections use the new
 * certificates). Certificates are made with the same CertificateStore that `vtctl certs` drives.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import {
  AuthenticationError,
  CertificateStore,
  createCertificateAuthority,
  createLogger,
  issueCertificate,
  monitoringResponse,
  NotAllowedError,
  normaliseSerial,
  parseMethodResponse,
  serialiseMethodCall,
  serialiseRspec,
  XmlRpcClient,
  type PemPair,
} from '@kvm-crm/shared';
import { managerOptionsSchema, startManager, type RunningManager } from '@kvm-crm/vt-manager';
import { agentOptionsSchema, startAgent, type RunningAgent } from '@kvm-crm/oxad-agent';

const logger = createLogger({ component: 'test', silent: !process.env.KVMCRM_TEST_LOG, format: 'pretty' });

describe('mutual TLS between the manager and an agent (loopback, our CA, CRL, rotation)', () => {
  const run = randomBytes(3).toString('hex');
  const SERVER = `mtls-${run}`;
  const callback = { user: 'oxad', password: randomBytes(16).toString('hex') };
  const agentPassword = randomBytes(12).toString('hex');
  let dir = '';
  let store: CertificateStore;
  let ca = '';
  let manager: RunningManager;
  let agent: RunningAgent;

  const pair = (name: string): PemPair => ({
    certPem: readFileSync(path.join(store.dir, `${name}.crt`), 'utf8'),
    keyPem: readFileSync(path.join(store.dir, `${name}.key`), 'utf8'),
  });
  const tlsOf = (p?: PemPair) => ({ ca, ...(p ? { cert: p.certPem, key: p.keyPem } : {}) });
  /** A caller of the agent, presenting `p` (a fresh connection each call). */
  const toAgent = (p?: PemPair) => new XmlRpcClient({ url: `https://127.0.0.1:${agent.port}/`, keepAlive: false, tls: tlsOf(p) });
  /** A caller of the manager's /xmlrpc/agent with the callback credentials, presenting `p`. */
  const toManager = (p?: PemPair, password = callback.password) =>
    new XmlRpcClient({ url: `https://${callback.user}:${password}@127.0.0.1:${manager.port}/xmlrpc/agent`, keepAlive: false, tls: tlsOf(p) });
  const status = () => serialiseRspec(monitoringResponse({ status: 'ONGOING', actionId: randomUUID() }), { dialect: 'agent' });
  const refused = (pattern: RegExp) => (e: unknown) => {
    assert.ok(e instanceof NotAllowedError, `NotAllowedError expected, got ${String(e)}`);
    assert.match(e.message, /HTTP 403/);
    assert.match(e.message, pattern);
    return true;
  };
  /** Runs `change` and waits until the given daemons (default both) applied their new TLS files. */
  const reloadOf = async (change: () => void, daemons: Array<RunningManager | RunningAgent> = [manager, agent]) => {
    const done = Promise.all(daemons.map((d) => once(d.tls, 'reload')));
    change();
    await done;
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), `kvmcrm-mtls-${run}-`));
    store = new CertificateStore(path.join(dir, 'certs'));
    store.initCa();
    ca = readFileSync(store.caFile, 'utf8');
    store.issue('manager', { role: 'manager', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    store.issue('agent', { role: 'agent', commonName: SERVER, ipAddresses: ['127.0.0.1'] });
    const files = (name: string) => ({
      caFile: store.caFile, certFile: path.join(store.dir, `${name}.crt`), keyFile: path.join(store.dir, `${name}.key`), crlFile: store.crlFile, reloadIntervalSeconds: 0.1,
    });
    manager = await startManager(
      managerOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 }, publicUrl: 'https://127.0.0.1:1', tls: files('manager'),
        database: { type: 'sqlite', path: path.join(dir, 'manager.sqlite') }, secretsKeyFile: path.join(dir, 'secrets.key'),
        agentCallback: callback, monitoringIntervalSeconds: 0, monitoringFailureThreshold: 1,
      }),
      logger.child({ component: 'vt-manager' }),
      {},
      { publicPortFromListen: true },
    );
    agent = await startAgent(
      agentOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 }, tls: files('agent'), password: agentPassword, storageRoot: path.join(dir, 'storage'),
        libvirtUri: 'test:///default', hypervisor: 'qemu', domainPrefix: `kvmcrm-mtls${run}-`,
      }),
      logger.child({ component: 'oxad-agent' }),
    );
    await manager.inventory.registerServer({ name: SERVER, agentUrl: `https://127.0.0.1:${agent.port}/`, agentPassword, bridges: [{ name: 'br0' }] });
  });

  after(async () => {
    await agent?.stop();
    await manager?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the agent answers only a verified manager certificate: not no certificate, another CA\'s, an agent\'s, or a revoked one', async () => {
    assert.equal(await toAgent(pair('manager')).call('pingAuth', ['hi', agentPassword]), 'hi');
    await assert.rejects(toAgent().call('ping', ['hi']), refused(/no client certificate presented/));
    const foreign = issueCertificate(createCertificateAuthority(), { commonName: 'localhost', role: 'manager', usage: 'client' });
    await assert.rejects(toAgent(foreign).call('ping', ['hi']), refused(/not accepted: [A-Z_]+/));
    await assert.rejects(toAgent(pair('agent')).call('ping', ['hi']), refused(/has role agent; role manager is required/));
    const noRole = issueCertificate(store.readCa(), { commonName: 'localhost', usage: 'client' });
    await assert.rejects(toAgent(noRole).call('ping', ['hi']), refused(/role \(none\)/));

    const spare = store.issue('manager-spare', { role: 'manager', commonName: 'localhost' });
    assert.equal(await toAgent(pair('manager-spare')).call('ping', ['ok']), 'ok');
    await reloadOf(() => store.revoke('manager-spare', 'keyCompromise'));
    await assert.rejects(toAgent(pair('manager-spare')).call('ping', ['hi']), refused(/CERT_REVOKED/));
    assert.ok(agent.tls.isRevoked(spare.serial));
    assert.equal(await toAgent(pair('manager')).call('ping', ['still']), 'still', 'the other manager certificate is unaffected');
  });

  test('the manager drives the agent only when its certificate names the registered server', async () => {
    await manager.inventory.registerServer({ name: `impostor-${run}`, agentUrl: `https://127.0.0.1:${agent.port}/`, agentPassword, bridges: [{ name: 'br0' }] });
    const round = await manager.monitoring.monitorOnce();
    assert.deepEqual(round.find((r) => r.server === SERVER), { server: SERVER, available: true });
    const impostor = round.find((r) => r.server === `impostor-${run}`);
    assert.equal(impostor?.available, false);
    assert.match(impostor?.error ?? '', new RegExp(`not the registered name "impostor-${run}"`));
  });

  test('/xmlrpc/agent accepts the registered server\'s agent certificate, and refuses other names, revoked certificates, other roles, and callers without a certificate', async () => {
    assert.equal(await toManager(pair('agent')).call('sendAsync', [status()]), null);
    await assert.rejects(toManager(pair('agent'), 'wrong-password-123').call('sendAsync', [status()]), AuthenticationError);

    store.issue('agent-unregistered', { role: 'agent', commonName: `nobody-${run}`, ipAddresses: ['127.0.0.1'] });
    await assert.rejects(toManager(pair('agent-unregistered')).call('sendAsync', [status()]), refused(new RegExp(`"nobody-${run}" .*names no registered server`)));
    await assert.rejects(toManager(pair('manager')).call('sendAsync', [status()]), refused(/has role manager; role agent is required/));
    const foreign = issueCertificate(createCertificateAuthority(), { commonName: SERVER, role: 'agent', usage: 'client' });
    await assert.rejects(toManager(foreign).call('sendAsync', [status()]), refused(/not accepted/));
    await assert.rejects(toManager().call('sendAsync', [status()]), refused(/no client certificate: only servers registered as legacy/));

    store.issue('agent-second', { role: 'agent', commonName: SERVER });
    assert.equal(await toManager(pair('agent-second')).call('sendAsync', [status()]), null);
    await reloadOf(() => store.revoke('agent-second'));
    await assert.rejects(toManager(pair('agent-second')).call('sendAsync', [status()]), refused(/CERT_REVOKED/));

    // a legacy server (plain http, no certificate possible) is identified by its address; its name cannot be
    // claimed with a certificate
    const legacyName = `legacy-${run}`;
    await manager.inventory.registerServer({ name: legacyName, agentUrl: 'http://127.0.0.1:9/', agentPassword, bridges: [{ name: 'br0' }], legacy: true });
    assert.equal(await toManager().call('sendAsync', [status()]), null);
    store.issue('agent-legacy', { role: 'agent', commonName: legacyName });
    await assert.rejects(toManager(pair('agent-legacy')).call('sendAsync', [status()]), refused(/registered as legacy/));
  });

  test('rotation without downtime: the agent and the manager switch certificates while running; a request in flight completes; the manager uses its new certificate', async () => {
    const agentSerial = (await tlsPeerSerial(agent.port)).serial;
    assert.equal(agentSerial, agent.tls.current.certificate.serial);

    // a call to the agent in flight: headers and half of the body sent on a connection made with the old certificate
    const body = serialiseMethodCall('pingAuth', ['in-flight', agentPassword]);
    const manager1 = pair('manager');
    const inFlight = startRequest(agent.port, body, manager1);
    try {
      await inFlight.connected;
      assert.equal(inFlight.serverSerial(), agentSerial);

      await reloadOf(() => store.rotate('agent'), [agent]);
      const rotated = (await tlsPeerSerial(agent.port)).serial;
      assert.notEqual(rotated, agentSerial);
      assert.equal(rotated, agent.tls.current.certificate.serial, 'a new connection presents the new agent certificate');
      assert.equal(await inFlight.finish(), 'in-flight', 'the request on the old connection completed');
    } finally {
      inFlight.abort(); // a no-op once finished; otherwise the agent would wait for it at stop
    }

    // the manager's certificate: rotate, then revoke the old one. The agent now refuses the old certificate, and the
    // manager still drives the agent: it presents the new one.
    const oldManagerSerial = manager.tls.current.certificate.serial;
    await reloadOf(() => store.rotate('manager'), [manager]);
    const managerSerial = (await tlsPeerSerial(manager.port)).serial;
    assert.notEqual(managerSerial, oldManagerSerial);
    assert.equal(managerSerial, manager.tls.current.certificate.serial);
    await reloadOf(() => store.revoke(oldManagerSerial, 'superseded'));
    await assert.rejects(toAgent(manager1).call('ping', ['x']), refused(/CERT_REVOKED/));
    const round = await manager.monitoring.monitorOnce();
    assert.deepEqual(round.find((r) => r.server === SERVER), { server: SERVER, available: true }, 'the manager presents its new certificate to the agent');
    assert.equal(await toManager(pair('agent')).call('sendAsync', [status()]), null, 'the rotated agent certificate is accepted by the manager');
  });

  test('requireClientCertificate false: the agent warns at start and answers callers without a certificate', async () => {
    const warnings: string[] = [];
    const captured = createLogger({ component: 'test', silent: true });
    const warn = captured.warn.bind(captured);
    captured.warn = ((message: string, ...meta: unknown[]) => (warnings.push(String(message)), warn(message, ...meta))) as typeof captured.warn;
    const open = await startAgent(
      agentOptionsSchema.parse({
        listen: { host: '127.0.0.1', port: 0 }, requireClientCertificate: false, password: agentPassword, storageRoot: path.join(dir, 'storage-open'),
        tls: { caFile: store.caFile, certFile: path.join(store.dir, 'agent.crt'), keyFile: path.join(store.dir, 'agent.key'), crlFile: store.crlFile },
        libvirtUri: 'test:///default', hypervisor: 'qemu', domainPrefix: `kvmcrm-mtls${run}-`,
      }),
      captured,
    );
    try {
      const client = new XmlRpcClient({ url: `https://127.0.0.1:${open.port}/`, keepAlive: false, tls: { ca } });
      assert.equal(await client.call('ping', ['open']), 'open');
      await assert.rejects(client.call('pingAuth', ['x', 'wrong-password']), /Password mismatch/, 'the OCF password still guards');
      assert.ok(warnings.some((w) => /requireClientCertificate is false/.test(w)), warnings.join('\n'));
    } finally {
      await open.stop();
    }
  });

  /** The serial of the certificate the server at `port` presents on a new connection. */
  function tlsPeerSerial(port: number): Promise<{ serial: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, method: 'GET', path: '/healthz', agent: false, ca, ...clientOf(pair('manager')) }, (res) => {
        const serial = normaliseSerial((res.socket as TLSSocket).getPeerCertificate().serialNumber);
        res.resume();
        res.on('end', () => resolve({ serial }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  function clientOf(p: PemPair) {
    return { cert: p.certPem, key: p.keyPem };
  }

  /**
   * Starts a POST of `body` and stops after half of it; `finish()` sends the rest and resolves with the XML-RPC
   * result. `serverSerial()` is the serial of the certificate the server presented on this connection.
   */
  function startRequest(port: number, body: string, p: PemPair) {
    const bytes = Buffer.from(body);
    const half = Math.floor(bytes.length / 2);
    let socket: TLSSocket | undefined;
    const inflight: { req?: ClientRequest } = {};
    const response = new Promise<string>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, ca, ...clientOf(p), headers: { 'Content-Type': 'text/xml', 'Content-Length': bytes.length } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            parseMethodResponse(text).then((r) => ('value' in r ? resolve(String(r.value)) : reject(new Error(r.fault.faultString))), reject);
          });
        },
      );
      req.on('error', reject);
      req.write(bytes.subarray(0, half));
      inflight.req = req;
    });
    const connected = new Promise<void>((resolve) => {
      const wait = () => {
        const s = inflight.req?.socket as TLSSocket | undefined;
        if (s && typeof s.getPeerCertificate === 'function' && s.getPeerCertificate().serialNumber) {
          socket = s;
          resolve();
        } else setTimeout(wait, 20);
      };
      wait();
    });
    return {
      connected,
      serverSerial: () => normaliseSerial(socket!.getPeerCertificate().serialNumber),
      finish: () => {
        inflight.req!.end(bytes.subarray(half));
        return response;
      },
      abort: () => {
        if (!inflight.req?.writableFinished) inflight.req?.destroy();
        response.catch(() => undefined);
      },
    };
  }
});
