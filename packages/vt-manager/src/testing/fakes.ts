/**
 * Fakes for unit tests of the manager's services and API layer (test-only; nothing imports this from production
 * code): in-memory AgentGateway and ClientNotifier that record every call and can be told to throw, rspec
 * builders shaped as the Expedient plugin and the OXAD agent send them, a fixture reader, and small polling
 * helpers. Nothing here opens a socket.
 */
import type { ActionMetrics } from '../services/metrics-ports.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import {
  createLogger,
  parseRspec,
  provisioningStatusResponse,
  serialiseRspec,
  type Action,
  type ActionStatus,
  type Logger,
} from '@kvm-crm/shared';
import type { Server } from '../db/entities/server.js';
import { openTestDatabase, type Engine } from './test-databases.js';
import { TransactionRunner } from '../db/transaction-runner.js';
import { InformationService } from '../services/information-service.js';
import { InventoryService } from '../services/inventory-service.js';
import { IpamService } from '../services/ipam-service.js';
import { MonitoringService } from '../services/monitoring-service.js';
import type { AgentGateway, ClientNotifier, HostFacts, TemplateInfo } from '../services/ports.js';
import { ProvisioningService } from '../services/provisioning-service.js';

// ---------------------------------------------------------------------------------------------------------------
// Fakes for unit tests

/** The one action of a parsed document's action list. @throws AssertionError unless there is exactly one. */
function single(actions: Action[] | undefined, message?: string): Action {
  const list = actions ?? [];
  assert.equal(list.length, 1, message);
  const [only] = list;
  assert.ok(only);
  return only;
}

/**
 * Records every call. `send` throws `failWith` when set; `ping`, `sendMonitoring` and `forceListActiveVms` can be
 * told to fail per server name; `forceListActiveVms` answers from `activeVms` (per server name, default `{}`);
 * `listTemplates` answers `templates`.
 */
export class FakeAgentGateway implements AgentGateway {
  readonly sent: Array<{ server: Server; callbackUrl: string; xml: string }> = [];
  failWith: Error | undefined;

  readonly pings: Array<{ server: string; challenge: string }> = [];
  readonly pingFailures = new Map<string, Error>();
  readonly monitoringSent: Array<{ server: Server; callbackUrl: string; xml: string }> = [];
  readonly monitoringFailures = new Map<string, Error>();
  readonly forceListCalls: Array<{ server: string; vmUuid: string }> = [];
  readonly activeVms = new Map<string, Record<string, string> | Error>();
  readonly templateCalls: string[] = [];
  templates: TemplateInfo[] | Error = [];

  async send(server: Server, callbackUrl: string, rspecXml: string): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.sent.push({ server, callbackUrl, xml: rspecXml });
  }

  async sendMonitoring(server: Server, callbackUrl: string, rspecXml: string): Promise<void> {
    const failure = this.monitoringFailures.get(server.name);
    if (failure) throw failure;
    this.monitoringSent.push({ server, callbackUrl, xml: rspecXml });
  }

  async ping(server: Server, challenge: string): Promise<unknown> {
    this.pings.push({ server: server.name, challenge });
    const failure = this.pingFailures.get(server.name);
    if (failure) throw failure;
    return challenge;
  }

  async forceListActiveVms(server: Server, vmUuid: string): Promise<Record<string, string>> {
    this.forceListCalls.push({ server: server.name, vmUuid });
    const answer = this.activeVms.get(server.name) ?? {};
    if (answer instanceof Error) throw answer;
    return { ...answer };
  }

  /** `getHostInfo` answers, per server name: facts, `null` (a legacy agent) or an Error; absent: `null`. */
  readonly hostInfo = new Map<string, HostFacts | null | Error>();
  readonly hostInfoCalls: string[] = [];

  async getHostInfo(server: Server): Promise<HostFacts | null> {
    this.hostInfoCalls.push(server.name);
    const answer = this.hostInfo.get(server.name) ?? null;
    if (answer instanceof Error) throw answer;
    return answer && { ...answer, bridges: [...answer.bridges] };
  }

  async listTemplates(server: Server): Promise<TemplateInfo[]> {
    this.templateCalls.push(server.name);
    if (this.templates instanceof Error) throw this.templates;
    return this.templates;
  }

  /** The `i`-th provisioning query sent, parsed: its single action. */
  action(i: number): Action {
    const entry = this.sent[i];
    assert.ok(entry, `no agent query #${i}`);
    return single(parseRspec(entry.xml).query?.provisioning?.actions);
  }

  /** The `i`-th monitoring query sent, parsed: its single action. */
  monitoringAction(i: number): Action {
    const entry = this.monitoringSent[i];
    assert.ok(entry, `no monitoring query #${i}`);
    return single(parseRspec(entry.xml).query?.monitoring?.actions);
  }
}

/** Records every `sendAsync`; never throws (as the real one). */
export class FakeClientNotifier implements ClientNotifier {
  readonly sent: Array<{ url: string; xml: string }> = [];

  sendAsync(callbackUrl: string, rspecXml: string): void {
    this.sent.push({ url: callbackUrl, xml: rspecXml });
  }

  async drain(): Promise<void> {}

  /** Every recorded provisioning status, parsed. */
  statuses(): Array<{ url: string; type?: string; id?: string; status?: string; description?: string }> {
    return this.sent.map(({ url, xml }) => {
      const a = single(parseRspec(xml).response?.provisioning?.actions, 'one action per status document');
      return { url, type: a.type, id: a.id, status: a.status, description: a.description };
    });
  }

  /** Statuses of one action. */
  of(actionId: string) {
    return this.statuses().filter((s) => s.id === actionId);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Values and rspec builders

/** Fixed ids and callback URLs of the fake world (the server, the client and agent callbacks, a project, a slice). */
export const SERVER_UUID = '5e4e0000-0000-4000-8000-000000000001';
export const CLIENT_CB = 'https://expedient:pw@expedient.example:8443/vt_plugin/xmlrpc/';
export const AGENT_CB = 'https://agent-cb:secret@manager.example:8445/xmlrpc/agent';
export const PROJECT_ID = '11111111-2222-4333-8444-555555555555';
export const SLICE_ID = '66666666-7777-4888-9999-000000000000';

/** A logger that writes nothing. */
export function silentLogger(): Logger {
  return createLogger({ component: 'test', silent: true });
}

/** What {@link createAction} may vary. */
export interface CreateSpec {
  actionId?: string;
  vmUuid?: string;
  name?: string;
  template?: string;
  memoryMb?: number;
  vcpus?: number;
  serverUuid?: string;
  projectId?: string;
  sliceId?: string;
  operatingSystemVersion?: string;
  operatingSystemDistribution?: string;
}

/** One create action shaped as the Expedient VT plugin sends it (docs/ocf-protocol.md §8.1). */
export function createAction(spec: CreateSpec = {}): Action & { id: string; vmUuid: string } {
  const id: string = spec.actionId ?? randomUUID();
  const vmUuid: string = spec.vmUuid ?? randomUUID();
  const serverUuid = spec.serverUuid ?? SERVER_UUID;
  return {
    type: 'create', id, vmUuid,
    server: {
      uuid: serverUuid, virtualizationType: 'kvm',
      virtualMachines: [
        {
          name: spec.name ?? 'vm1', uuid: vmUuid, status: 'on queue', projectId: spec.projectId ?? PROJECT_ID, projectName: 'demo-project',
          sliceId: spec.sliceId ?? SLICE_ID, sliceName: 'demo-slice', operatingSystemType: 'GNU/Linux',
          operatingSystemVersion: spec.operatingSystemVersion ?? '12', operatingSystemDistribution: spec.operatingSystemDistribution ?? 'Debian',
          serverId: serverUuid, virtualizationType: 'kvm',
          xenConfiguration: {
            hdSetupType: 'file-image', hdSizeMb: 8200, hdOriginPath: spec.template ?? 'debian12/disk.qcow2', configurator: 'NONE',
            virtualizationSetupType: 'hvm', memoryMb: spec.memoryMb ?? 256, ...(spec.vcpus !== undefined ? { vcpus: spec.vcpus } : {}),
            interfaces: [{ ismgmt: true, name: 'NONE', mac: 'NONE', ip: 'NONE', mask: 'NONE', gw: 'NONE', dns1: 'NONE', dns2: 'NONE', switchId: 'NONE' }],
          },
        },
      ],
    },
  };
}

/** A start/stop/… action as Expedient sends it (§8.2): server virtualization-type `xen`. */
export function lifecycleAction(type: string, vmUuid: string, actionId: string = randomUUID(), serverUuid: string = SERVER_UUID): Action & { id: string } {
  return {
    type, id: actionId,
    server: {
      uuid: serverUuid, virtualizationType: 'xen',
      virtualMachines: [{ name: 'vm1', uuid: vmUuid, projectId: PROJECT_ID, sliceId: SLICE_ID, virtualizationType: 'kvm', xenConfiguration: { hdSetupType: 'file-image' } }],
    },
  };
}

/** A modify action: a lifecycle action whose xen-configuration carries the requested memory and/or vCPUs. */
export function modifyAction(vmUuid: string, requested: { memoryMb?: number; vcpus?: number }, actionId: string = randomUUID()): Action & { id: string } {
  const a = lifecycleAction('modify', vmUuid, actionId);
  const vm = a.server?.virtualMachines[0];
  assert.ok(vm, 'a lifecycle action names its VM');
  vm.xenConfiguration = {
    hdSetupType: 'file-image',
    ...(requested.memoryMb !== undefined ? { memoryMb: requested.memoryMb } : {}),
    ...(requested.vcpus !== undefined ? { vcpus: requested.vcpus } : {}),
  };
  return a;
}

/** The client's `send` document for some actions. */
export function query(...actions: Action[]): string {
  return serialiseRspec({ query: { provisioning: { actions } } }, { dialect: 'manager' });
}

/** What the agent sends back with `sendAsync` (§6.6, §8.4): agent dialect, no type. */
export function agentStatus(actionId: string, status: ActionStatus, description = ''): string {
  return serialiseRspec(provisioningStatusResponse({ actionId, status, description }), { dialect: 'agent' });
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Falsy = false | 0 | '' | null | undefined;
/** Polls `probe` until it returns a truthy value; fails after `timeoutMs` (default 5 s). */
export async function waitFor<T>(what: string, probe: () => T | Falsy | Promise<T | Falsy>, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * An OCF fixture (`shared/ocf-fixtures/<rel>`), read as UTF-8: `$OCF_FIXTURES_DIR` if set, else the `shared` folder
 * next to the repository, resolved from this file (`packages/vt-manager/{src,dist}/testing/`).
 * @throws {Error} when the folder does not exist, so fixture tests fail instead of passing vacuously.
 */
export function readFixture(rel: string): string {
  const dir = process.env['OCF_FIXTURES_DIR'] ?? fileURLToPath(new URL('../../../../../shared/ocf-fixtures/', import.meta.url));
  if (!existsSync(join(dir, 'README.md'))) throw new Error(`OCF fixtures not found in ${dir} (set OCF_FIXTURES_DIR)`);
  return readFileSync(join(dir, rel), 'utf8');
}

/** The manager's services on a fresh, migrated database with no inventory, wired to the fakes. */
export interface World {
  tx: TransactionRunner;
  inventory: InventoryService;
  agent: FakeAgentGateway;
  notifier: FakeClientNotifier;
  provisioning: ProvisioningService;
  monitoring: MonitoringService;
  information: InformationService;
}

/**
 * A {@link World} on SQLite `:memory:` (default) or, with `engine: 'mysql'`, on a new MySQL/MariaDB database that
 * is dropped when `t` ends (`forEachEngine` in testing/test-databases.ts runs a test on both).
 */
export async function openWorld(t: TestContext, opts: { actionTimeoutSeconds?: number; engine?: Engine; metrics?: ActionMetrics } = {}): Promise<World> {
  const ds = await openTestDatabase(t, opts.engine ?? 'sqlite');
  const tx = new TransactionRunner(ds);
  const agent = new FakeAgentGateway();
  const notifier = new FakeClientNotifier();
  const logger = silentLogger();
  return {
    tx, agent, notifier,
    inventory: new InventoryService(tx),
    provisioning: new ProvisioningService(tx, new IpamService(), agent, notifier, { agentCallbackUrl: AGENT_CB, actionTimeoutSeconds: opts.actionTimeoutSeconds, logger, ...(opts.metrics ? { metrics: opts.metrics } : {}) }),
    monitoring: new MonitoringService(tx, agent, notifier, { agentCallbackUrl: AGENT_CB, logger, failureThreshold: 1 }),
    information: new InformationService(ds),
  };
}

/**
 * Registers server `name` (bridges br-mgmt, mgmt, and br-data) with its own IPv4 range `10.<n>.0.2–.50`
 * (gateway .1) and MAC range `02:00:0a:<n>:00:00–ff`, both subscribed. `n` tells the ranges of several hosts apart.
 */
export async function addHost(w: World, name: string, uuid: string, n: number): Promise<Server> {
  const s = await w.inventory.registerServer({
    name, uuid, agentUrl: `https://${name}.example:9229/`, agentPassword: 'agentpw', bridges: [{ name: 'br-mgmt' }, { name: 'br-data' }],
  });
  await w.inventory.addIpv4Range({ name: `v4-${name}`, start: `10.${n}.0.2`, end: `10.${n}.0.50`, netmask: '255.255.255.0', gateway: `10.${n}.0.1` });
  const hex = n.toString(16).padStart(2, '0');
  await w.inventory.addMacRange({ name: `mac-${name}`, start: `02:00:0a:${hex}:00:00`, end: `02:00:0a:${hex}:00:ff` });
  await w.inventory.subscribe(name, 'ipv4', `v4-${name}`);
  await w.inventory.subscribe(name, 'mac', `mac-${name}`);
  return s;
}

/**
 * Creates a VM through the ProvisioningService and drives it with agent statuses to `created (stopped)` (and to
 * `running` with `start`). The notifier is cleared afterwards. Returns the create action (with `vmUuid`).
 */
export async function provisionVm(w: World, spec: CreateSpec = {}, opts: { start?: boolean; principal?: string } = {}) {
  const a = createAction(spec);
  const n = w.agent.sent.length;
  await w.provisioning.submit(CLIENT_CB, query(a), { principal: opts.principal });
  await waitFor('the create to reach the agent', () => w.agent.sent.length > n);
  await w.provisioning.handleAgentStatus(agentStatus(a.id, 'SUCCESS'));
  if (opts.start) {
    const s = lifecycleAction('start', a.vmUuid, randomUUID(), spec.serverUuid ?? SERVER_UUID);
    await w.provisioning.submit(CLIENT_CB, query(s));
    await waitFor('the start to reach the agent', () => w.agent.sent.length > n + 1);
    await w.provisioning.handleAgentStatus(agentStatus(s.id, 'SUCCESS'));
  }
  w.notifier.sent.length = 0;
  return a;
}
