/**
 * The web dashboard in a real browser (issue 13 "Web dashboard", decision record 029): Debian's Chromium driven by
 * playwright-core against a real manager and agent on libvirt (the harness's cluster). An admin logs in, sees the
 * host and its running VM, stops the VM from the page through the confirmation dialog and watches its state change
 * to stopped (libvirt agrees), and reads the reason of a create the agent refused (a template that is not in its
 * catalogue); a viewer sees the same pages without action buttons and the API refuses its POST. Screenshots of the
 * pages go to test-output/dashboard/ (gitignored).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { type Cluster, launchChromium, REPO_ROOT, startCluster, virsh } from '@kvm-crm/harness';

const TEMPLATE = 'kvm-crm-test/kvm-crm-test.qcow2';
const SHOTS = path.join(REPO_ROOT, 'test-output', 'dashboard');

interface ActionRow { id: string; type: string; status: string; description: string; vm: string }

async function waitForAction(c: Cluster, id: string, timeoutMs = 300_000): Promise<ActionRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await c.admin.call<ActionRow>('action.show', [{ id }]);
    if (a.status === 'SUCCESS' || a.status === 'FAILED') return a;
    if (Date.now() > deadline) throw new Error(`action ${id} still ${a.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('web dashboard in Chromium: login, hosts, VMs, stop from the page, FAILED reason, viewer read only', () => {
  let c: Cluster;
  let context: BrowserContext;
  let base: string;
  const admin = { user: '', password: randomBytes(12).toString('hex') };
  const viewer = { user: '', password: randomBytes(12).toString('hex') };
  let vmName: string;
  let vmUuid: string;
  let refusedName: string;
  const consoleProblems: string[] = [];

  before(async () => {
    // The browser runs in its own network namespace: in the root one, the taps of the VM started below made it
    // abort a navigation with ERR_NETWORK_CHANGED (browser-network.ts).
    c = await startCluster({ monitoring: { intervalSeconds: 0 }, browser: true });
    admin.user = `dash-admin-${c.runId}`;
    viewer.user = `dash-viewer-${c.runId}`;
    await c.admin.call('user.add', [{ name: admin.user, password: admin.password, roles: ['admin'] }]);
    await c.admin.call('user.add', [{ name: viewer.user, password: viewer.password, roles: ['viewer'] }]);
    base = `https://${c.managerAddress}:${c.manager.port}`;
    await mkdir(SHOTS, { recursive: true });
    const profile = path.join(c.dir, 'chromium-profile'); // fresh, removed with the run's folder
    context = await launchChromium(profile, { netns: c.browserNetns! });
  });
  after(async () => {
    await context?.close().catch(() => undefined);
    await c?.cleanup();
  });

  const newPage = async (): Promise<Page> => {
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') consoleProblems.push(m.text()); });
    page.on('pageerror', (e) => consoleProblems.push(String(e)));
    return page;
  };
  const login = async (page: Page, who: { user: string; password: string }) => {
    await page.goto(`${base}/ui/`);
    await page.getByLabel('User').fill(who.user);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Hosts' }).waitFor();
  };

  test('a running VM and a refused create, made through the admin API', { timeout: 600_000 }, async () => {
    vmName = `dash-${c.runId}`;
    const created = await c.admin.call<{ actionId: string; vm: string }>('vm.create', [{ name: vmName, template: TEMPLATE, host: c.serverName, memoryMiB: 128 }]);
    vmUuid = created.vm;
    assert.equal((await waitForAction(c, created.actionId)).status, 'SUCCESS');
    const started = await c.admin.call<{ actionId: string }>('vm.action', [{ vm: vmName, type: 'start' }]);
    assert.equal((await waitForAction(c, started.actionId)).status, 'SUCCESS');
    // Something real that fails: the agent has no such template in its catalogue and refuses the create.
    refusedName = `dash-refused-${c.runId}`;
    const refused = await c.admin.call<{ actionId: string }>('vm.create', [{ name: refusedName, template: `kvm-crm-test/missing-${c.runId}.qcow2`, host: c.serverName, memoryMiB: 128 }]);
    const failed = await waitForAction(c, refused.actionId);
    assert.equal(failed.status, 'FAILED');
    assert.match(failed.description, /template/);
  });

  test('admin: hosts, VMs, stop from the page through the dialog, the FAILED reason, pools, callbacks', { timeout: 300_000 }, async () => {
    const page = await newPage();
    const first = await page.goto(`${base}/ui/`);
    const csp = first?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    await login(page, admin);

    const hostRow = page.locator(`tr[data-host="${c.serverName}"]`);
    await hostRow.waitFor();
    assert.match(await hostRow.innerText(), /reachable/);
    assert.equal(await hostRow.locator('meter').count(), 3, 'vCPU, memory and disk bars');
    assert.ok(await hostRow.getByRole('button', { name: `Disable host ${c.serverName}` }).isVisible());
    await page.screenshot({ path: path.join(SHOTS, 'hosts.png'), fullPage: true });

    await page.getByRole('link', { name: 'Virtual machines' }).click();
    await page.getByRole('heading', { level: 1, name: 'Virtual machines' }).waitFor();
    const vmRow = page.locator(`tr[data-vm="${vmName}"]`);
    await vmRow.locator('td[data-state="running"]').waitFor();
    assert.match(await vmRow.innerText(), new RegExp(c.serverName));
    assert.match(await vmRow.innerText(), /\d+\.\d+\.\d+\.\d+/, 'its address');
    await page.screenshot({ path: path.join(SHOTS, 'vms.png'), fullPage: true });

    // Stop: a modal dialog opens with the focus on Cancel; Cancel changes nothing; the second time we confirm.
    const stopButton = vmRow.getByRole('button', { name: `Stop ${vmName}` });
    await stopButton.click();
    const dialog = page.getByRole('dialog', { name: `Stop VM ${vmName}?` });
    await dialog.waitFor();
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Cancel', 'focus on Cancel');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate("document.activeElement?.textContent?.startsWith('Stop')"), true, 'focus back on the Stop button');
    assert.equal((await virsh('domstate', `${c.domainPrefix}${vmUuid}`)).stdout.trim(), 'running', 'cancel did nothing');
    await stopButton.click();
    await dialog.getByRole('button', { name: 'Stop VM' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await vmRow.locator('td[data-state="stopped"]').waitFor({ timeout: 120_000 });
    assert.equal((await virsh('domstate', `${c.domainPrefix}${vmUuid}`)).stdout.trim(), 'shut off');
    await page.screenshot({ path: path.join(SHOTS, 'vms-stopped.png'), fullPage: true });

    await page.getByRole('link', { name: 'Actions' }).click();
    await page.getByLabel('Status').selectOption('FAILED');
    const failedRow = page.locator('tr[data-status="FAILED"]').filter({ hasText: /template/ });
    await failedRow.first().waitFor();
    assert.match(await failedRow.first().locator('td.reason').innerText(), /template/);
    await failedRow.first().getByRole('button', { name: /^History/ }).click();
    await page.locator('table.history').waitFor();
    assert.match(await page.locator('table.history').innerText(), /FAILED/);
    await page.screenshot({ path: path.join(SHOTS, 'actions.png'), fullPage: true });

    await page.getByRole('link', { name: 'Address pools' }).click();
    await page.getByRole('row', { name: new RegExp(`net-${c.runId}`) }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'pools.png'), fullPage: true });
    await page.getByRole('link', { name: 'Pending callbacks' }).click();
    await page.getByText(/pending deliveries/).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'callbacks.png'), fullPage: true });

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    const after = await page.evaluate(async () => (await fetch('/ui/api/session')).status);
    assert.equal(after, 401, 'the session ended with the logout');
    await page.close();
  });

  test('viewer: the same pages without action buttons; its POST is refused', { timeout: 120_000 }, async () => {
    const page = await newPage();
    await login(page, viewer);
    await page.locator(`tr[data-host="${c.serverName}"]`).waitFor();
    assert.equal(await page.getByRole('button', { name: /Disable host/ }).count(), 0);
    await page.getByRole('link', { name: 'Virtual machines' }).click();
    const vmRow = page.locator(`tr[data-vm="${vmName}"]`);
    await vmRow.waitFor();
    assert.equal(await page.locator('#vm-table button').count(), 0, 'no action buttons');
    assert.match(await page.getByText(/read only/).innerText(), new RegExp(viewer.user));
    const answer = await page.evaluate(async (vm) => {
      const s = (await (await fetch('/ui/api/session')).json()) as { csrfToken: string };
      const r = await fetch(`/ui/api/vms/${vm}/start`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: '{}' });
      return { status: r.status, body: (await r.json()) as { error: string } };
    }, vmUuid);
    assert.equal(answer.status, 403);
    assert.match(answer.body.error, /role admin/);
    assert.equal((await virsh('domstate', `${c.domainPrefix}${vmUuid}`)).stdout.trim(), 'shut off', 'still stopped');
    await page.screenshot({ path: path.join(SHOTS, 'viewer-vms.png'), fullPage: true });
    await page.close();
    assert.deepEqual(consoleProblems.filter((p) => /Content Security Policy|Refused to/i.test(p)), [], 'no CSP violation');
  });
});
