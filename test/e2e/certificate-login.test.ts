/**
 * Optional client-certificate login on the northbound endpoints (issue 5): a verified, unrevoked certificate of
 * the endpoint's role whose CN names a principal with that role logs in without Basic credentials.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AuthenticationError, XmlRpcClient } from '@kvm-crm/shared';
import { type Cluster, startCluster } from '@kvm-crm/harness';

describe('client-certificate login for clearinghouses and admins', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster({ withTemplate: false });
  });
  after(async () => {
    await c?.cleanup();
  });

  const client = (endpoint: string, certName: string) =>
    new XmlRpcClient({
      url: `https://127.0.0.1:${c.manager.port}/xmlrpc/${endpoint}`,
      tls: {
        ca: c.ca.certPem,
        cert: readFileSync(path.join(c.certsDir, `${certName}.crt`), 'utf8'),
        key: readFileSync(path.join(c.certsDir, `${certName}.key`), 'utf8'),
      },
      keepAlive: false,
    });

  test('a certificate whose CN is a principal with the role logs in; others get 401', async () => {
    await c.admin.call('user.add', [{ name: 'cert-ch', roles: ['clearinghouse'] }]);
    await c.admin.call('user.add', [{ name: 'cert-admin', roles: ['admin'] }]);
    c.certStore.issue('cert-ch', { role: 'clearinghouse', commonName: 'cert-ch', usage: 'server+client' });
    c.certStore.issue('cert-admin', { role: 'admin', commonName: 'cert-admin' });
    c.certStore.issue('nobody', { role: 'clearinghouse', commonName: 'nobody', usage: 'server+client' });

    assert.equal(await client('plugin', 'cert-ch').call('ping', ['hello']), 'hello', 'clearinghouse certificate on /xmlrpc/plugin');
    const servers = await client('admin', 'cert-admin').call<Array<{ name: string }>>('server.list', []);
    assert.deepEqual(servers.map((s) => s.name), [c.serverName], 'admin certificate on /xmlrpc/admin');

    await assert.rejects(client('admin', 'cert-ch').call('server.list', []), AuthenticationError, 'a clearinghouse certificate is not an admin');
    await assert.rejects(client('plugin', 'cert-admin').call('ping', ['x']), AuthenticationError, 'role admin is not clearinghouse');
    await assert.rejects(client('plugin', 'nobody').call('ping', ['x']), AuthenticationError, 'no principal of that name');
    await assert.rejects(client('plugin', 'agent').call('ping', ['x']), AuthenticationError, 'an agent certificate is no clearinghouse');

    c.certStore.revoke('cert-ch', 'keyCompromise');
    c.certStore.refreshCrl();
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await client('plugin', 'cert-ch').call('ping', ['x']);
      } catch (err) {
        assert.ok(err instanceof Error);
        break; // refused once the manager reloaded the CRL (in the handshake, or per request)
      }
      assert.ok(Date.now() < deadline, 'the revoked certificate still logs in after 20 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  });
});
