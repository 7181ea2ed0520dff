/**
 * `vtctl vm migrate` and `vtctl server drain --migrate` (decision record 025): checks a migration request and stores
 * it as one durable `migrate` action with its `vm_migration` record, then hands it to the {@link MigrationRunner}.
 *
 * Checks, fast and before anything is stored: the VM exists and is stopped (a running VM is refused unless `stop`
 * is asked: then a normal stop action runs first and must succeed); the target is another host, enabled, not
 * draining, and the VM fits its capacity (the same check and message as a create's, decision 019); without
 * `flatten` the VM's template is in the target's catalogue; both agents are ours (not legacy). No target named: the
 * placement policy picks one among the other hosts (the source must be draining, so placement leaves it out).
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, InputError, NotFoundError, type Logger } from '@kvm-crm/shared';
import type { Server } from '../../db/entities/server.js';
import type { VirtualMachine } from '../../db/entities/virtual-machine.js';
import type { VmMigration } from '../../db/entities/vm-migration.js';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { ActionEventRepository } from '../../repositories/action-event-repository.js';
import { ActionRepository } from '../../repositories/action-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';
import { VmMigrationRepository } from '../../repositories/vm-migration-repository.js';
import { VmRepository } from '../../repositories/vm-repository.js';
import { NO_METRICS, secondsSince, type ActionMetrics } from '../metrics-ports.js';
import type { PlacementService } from '../placement/placement-service.js';
import type { AgentGateway } from '../ports.js';
import type { AdminActionTicket, VmLifecycleService } from '../vm-lifecycle-service.js';
import type { MigrationRunner } from './migration-runner.js';

/** What `vm.migrate` asks for. */
export interface MigrateRequest {
  /** VM name or uuid. */
  vm: string;
  /** Target server name or uuid; absent: placement (the source must be draining). */
  to?: string;
  /** Stop a running VM first (else a running VM is refused). */
  stop?: boolean;
  /** Copy a standalone image instead of the overlay (the template need not be on the target). */
  flatten?: boolean;
}

/** The progress of a migration, for `--wait`. Bytes are file bytes. */
export interface MigrationProgress {
  actionId: string;
  vm: string;
  source: string;
  target: string;
  step: string;
  copiedBytes: number;
  totalBytes: number;
  status: string;
  description: string;
}

/** How long a `--stop` waits for its stop action: 5 min. */
const STOP_WAIT_MS = 5 * 60 * 1000;
/** Deadline of a migrate action: the runner holds a lease and ends it itself; the deadline sweep must not. 24 h. */
const MIGRATE_DEADLINE_SECONDS = 24 * 3600;

/** See the file comment. */
export class MigrationService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly vms: VmLifecycleService,
    private readonly agents: AgentGateway,
    private readonly placement: PlacementService,
    private readonly runner: MigrationRunner,
    private readonly settings: {
      instanceId: string;
      leaseSeconds: number;
      logger: Logger;
      /** Counts a migrate action this service fails itself (as the runner does its own); default counts nothing. */
      metrics?: ActionMetrics;
    },
  ) {}

  /**
   * Checks and stores a migration and starts it; resolves with the action ticket (poll `action.show` or
   * {@link progress}).
   * @throws NotFoundError for an unknown VM or server; ConflictError naming the reason (running without `stop`,
   *   the stop failed, target disabled/draining/full, the same host, template missing, VM busy); InputError for a
   *   missing target when the source is not draining; UpstreamError when an agent cannot be asked.
   */
  async request(principal: string, r: MigrateRequest): Promise<AdminActionTicket & { target: string }> {
    let vm = await this.vms.resolve(r.vm);
    const servers = new ServerRepository(this.tx.manager);
    const source = await servers.getById(vm.serverId);
    if (source.legacy) throw new ConflictError(`VM ${vm.name} is on ${source.name}, a legacy OCF agent, which cannot migrate VMs`);
    let target: Server | undefined;
    if (r.to) {
      target = (await servers.findByNameOrUuid(r.to)) ?? undefined;
      if (!target) throw new NotFoundError(`no server ${JSON.stringify(r.to)}`);
      if (target.id === source.id) throw new ConflictError(`VM ${vm.name} is already on ${source.name}`);
      if (target.legacy) throw new ConflictError(`server ${target.name} runs a legacy OCF agent, which cannot take migrated VMs`);
    } else if (!source.draining) {
      throw new InputError(`name the target host (--to), or drain ${source.name} first so placement leaves it out`);
    }
    const running = Object.keys(await this.agents.forceListActiveVms(source, vm.uuid)).map((u) => u.toLowerCase()).includes(vm.uuid);
    let stopActionUuid = '';
    if (running) {
      if (!r.stop) throw new ConflictError(`VM ${vm.name} is running on ${source.name}; stop it first or pass --stop`);
      const stop = await this.vms.act(principal, vm.uuid, 'stop');
      stopActionUuid = stop.actionId;
      const end = await this.waitForAction(stop.actionId, STOP_WAIT_MS);
      if (end.status !== 'SUCCESS') throw new ConflictError(`the stop of ${vm.name} (action ${stop.actionId}) ended ${end.status}: ${end.description}`);
      vm = await this.vms.resolve(vm.uuid);
    }
    const asked = { vcpus: vm.vcpus, memoryMiB: vm.memoryMb, diskMiB: (vm.hdSizeMb ?? 0) + dataDisksMiB(vm) };
    if (target && !r.flatten) await this.checkTemplate(vm, target);
    const actionId = randomUUID();
    const now = Date.now();
    const chosen = await this.tx.run(async (em) => {
      const placed = await this.placement.place(em, target ? target.uuid : null, asked);
      if (placed.server.id === source.id) throw new ConflictError(`placement chose ${source.name}, where the VM already is`);
      const actions = new ActionRepository(em);
      const busy = await actions.openActionOfVm(vm.uuid);
      if (busy) throw new ConflictError(`VM ${vm.name} is busy with action ${busy.uuid} (${busy.type})`);
      await actions.insertQueued({
        uuid: actionId, type: 'migrate', vmUuid: vm.uuid, callbackUrl: '', requestedMemoryMb: null, requestedVcpus: null,
        deadline: new Date(now + MIGRATE_DEADLINE_SECONDS * 1000), leaseOwner: this.settings.instanceId, leaseExpiresAt: new Date(now + this.settings.leaseSeconds * 1000),
      });
      // ONGOING at once: the dispatcher only hands QUEUED actions to agents; this one is run by the manager itself.
      await actions.startProgress(actionId, `migrating to ${placed.server.name}`);
      const events = new ActionEventRepository(em);
      await events.record(actionId, null, 'QUEUED', `principal:${principal}`, `migrate ${vm.name} from ${source.name} to ${placed.server.name}${r.flatten ? ' (flatten)' : ''}${stopActionUuid ? ` after stop ${stopActionUuid}` : ''}`);
      await events.record(actionId, 'QUEUED', 'ONGOING', `manager:${this.settings.instanceId}`, 'migration started');
      await new VmMigrationRepository(em).insert({ actionUuid: actionId, vmUuid: vm.uuid, sourceServerId: source.id, targetServerId: placed.server.id, flatten: !!r.flatten, stopActionUuid });
      return placed.server;
    });
    if (!target && !r.flatten) {
      // Placement chose the target: its template check comes now; a refusal fails the stored action at once.
      try {
        await this.checkTemplate(vm, chosen);
      } catch (err) {
        await this.failNow(actionId, err instanceof Error ? err.message : String(err));
        throw err;
      }
    }
    void this.runner.start(actionId);
    return { actionId, type: 'migrate', vm: vm.uuid, name: vm.name, server: source.name, projectId: vm.projectId, target: chosen.name };
  }

  /**
   * The progress of migrate action `actionId`.
   * @throws NotFoundError when there is no such migration.
   */
  async progress(actionId: string): Promise<MigrationProgress> {
    const m: VmMigration | null = await new VmMigrationRepository(this.tx.manager).findByAction(actionId);
    if (!m) throw new NotFoundError(`no migration with action ${actionId}`);
    const a = await new ActionRepository(this.tx.manager).getByUuid(actionId);
    const servers = new ServerRepository(this.tx.manager);
    const [s, t] = [await servers.getById(m.sourceServerId), await servers.getById(m.targetServerId)];
    return { actionId, vm: m.vmUuid, source: s.name, target: t.name, step: m.step, copiedBytes: m.copiedBytes, totalBytes: m.totalBytes, status: a.status, description: a.description };
  }

  /** The VMs on server `ref` (name or uuid), oldest first, for a drain. @throws NotFoundError for an unknown server. */
  async vmsOn(ref: string): Promise<{ server: Server; vms: VirtualMachine[] }> {
    const server = await new ServerRepository(this.tx.manager).findByNameOrUuid(ref);
    if (!server) throw new NotFoundError(`no server ${JSON.stringify(ref)}`);
    const vms = (await new VmRepository(this.tx.manager).listWithInterfaces({}, 'createdAt')).filter((v) => v.serverId === server.id);
    return { server, vms };
  }

  /** @throws ConflictError when the VM's template is not in `target`'s catalogue. */
  private async checkTemplate(vm: VirtualMachine, target: Server): Promise<void> {
    const name = vm.hdOriginPath.split('/')[0] ?? '';
    const templates = await this.agents.listTemplates(target);
    if (!templates.some((t) => t.name === name)) {
      throw new ConflictError(`template ${name} is not on ${target.name}: install it there, or migrate with --flatten (a standalone copy of the disk)`);
    }
  }

  /**
   * Fails the stored migrate action `actionId` before the runner got it (once: conditional UPDATE), with its event
   * and the `rollback` step, and counts it in the action metrics (kvmcrm_actions_total) like every other end.
   */
  private async failNow(actionId: string, why: string): Promise<void> {
    const createdAt = await this.tx.run(async (em) => {
      const actions = new ActionRepository(em);
      if (!(await actions.finishOnce(actionId, 'FAILED', why.slice(0, 2048)))) return undefined;
      await new ActionEventRepository(em).record(actionId, 'ONGOING', 'FAILED', `manager:${this.settings.instanceId}`, why.slice(0, 2048));
      await new VmMigrationRepository(em).setStep(actionId, 'rollback');
      return (await actions.getByUuid(actionId)).createdAt;
    });
    if (createdAt) (this.settings.metrics ?? NO_METRICS).actionFinished('migrate', 'FAILED', secondsSince(createdAt));
  }

  private async waitForAction(actionId: string, timeoutMs: number): Promise<{ status: string; description: string }> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const a = await new ActionRepository(this.tx.manager).getByUuid(actionId);
      if (a.status === 'SUCCESS' || a.status === 'FAILED') return a;
      if (Date.now() > end) return { status: a.status, description: `still ${a.status} after ${timeoutMs / 1000} s` };
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Sum of the VM's data disks in MiB (its `dataDisksMb` JSON array; 0 when none or unreadable). */
export function dataDisksMiB(vm: Pick<VirtualMachine, 'dataDisksMb'>): number {
  try {
    const a = JSON.parse(vm.dataDisksMb ?? '[]') as unknown;
    return Array.isArray(a) ? a.reduce((s: number, n) => s + (typeof n === 'number' ? n : 0), 0) : 0;
  } catch {
    return 0; // a hand-edited column: counted as no data disks
  }
}
