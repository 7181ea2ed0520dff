/**
 * Runs the steps of one offline migration (decision record 025) under its `migrate` action's lease:
 *
 *   export (source) → accept (target) → copy (source pushes to target, progress polled) → import (target defines)
 *   → commit (one transaction: VM on the target, NICs on its bridges, step recorded) → release (source removes its
 *   copy) → SUCCESS.
 *
 * Before the commit every failure rolls back: the target removes what the ticket made there (received files, an
 * imported domain), the source its flattened image; the VM stays whole on the source; the action ends FAILED with
 * the step and the reason. From the commit on, the migration only goes forward: the release is retried and its
 * failure is reported in the SUCCESS description (the VM lives on the target either way).
 *
 * The action ends exactly once (`finishOnce`). A manager that dies mid-way leaves the action ONGOING with a lease
 * that expires; {@link MigrationRunner.recoverStale} (at start and in the sweep) takes it over and drives it to one
 * end: rollback before the commit, release and SUCCESS after it.
 */
import { NO_METRICS, secondsSince, type ActionMetrics } from '../metrics-ports.js';
import { randomBytes } from 'node:crypto';
import { describeError, ticketBytes, type Logger, type TransferTicket } from '@kvm-crm/shared';
import type { Server } from '../../db/entities/server.js';
import type { MigrationStep } from '../../db/entities/vm-migration.js';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { ActionEventRepository } from '../../repositories/action-event-repository.js';
import { ActionRepository } from '../../repositories/action-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';
import { VmMigrationRepository } from '../../repositories/vm-migration-repository.js';
import type { MigrationAgents, SendProgress } from './migration-ports.js';

/** Timing of the runner; tests shorten them. Seconds. */
export interface MigrationRunnerSettings {
  /** This manager's lease owner id. */
  instanceId: string;
  /** Lease length; renewed at every step and poll. Default 60. */
  leaseSeconds?: number;
  /** How often the copy's progress is polled. Default 1. */
  pollSeconds?: number;
  /** The copy fails when no byte moved for this long. Default 120. */
  stallSeconds?: number;
  /** Lifetime of a transfer ticket. Default 6 h. */
  ticketSeconds?: number;
  /** Tries of a release or an abort (1 s apart). Default 3. */
  cleanupTries?: number;
  logger: Logger;
  /** Told once per migrate action this runner finishes (decision record 028). Default: counts nothing. */
  metrics?: ActionMetrics;
}

const ORDER: MigrationStep[] = ['export', 'accept', 'copy', 'import', 'commit', 'release', 'done', 'rollback'];
const before = (a: MigrationStep, b: MigrationStep) => ORDER.indexOf(a) < ORDER.indexOf(b);

/** A step failed: carries the step for the reason. */
class StepError extends Error {
  constructor(readonly step: MigrationStep, override readonly cause: unknown) {
    super(`${step}: ${describeError(cause)}`);
  }
}

/** See the file comment. */
export class MigrationRunner {
  private readonly running = new Map<string, Promise<void>>();
  private abandoned = false;
  private readonly s: Required<Omit<MigrationRunnerSettings, 'logger' | 'instanceId' | 'metrics'>> & Pick<MigrationRunnerSettings, 'logger' | 'instanceId'> & { metrics: ActionMetrics };

  constructor(
    private readonly tx: TransactionRunner,
    private readonly agents: MigrationAgents,
    settings: MigrationRunnerSettings,
  ) {
    this.s = { leaseSeconds: 60, pollSeconds: 1, stallSeconds: 120, ticketSeconds: 6 * 3600, cleanupTries: 3, ...settings, metrics: settings.metrics ?? NO_METRICS };
  }

  /** Starts the migration of action `actionUuid` in the background (once per action in this process). */
  start(actionUuid: string, recovering = false): Promise<void> {
    const cur = this.running.get(actionUuid);
    if (cur) return cur;
    const run = this.run(actionUuid, recovering).catch((err: unknown) => {
      this.s.logger.error('migration runner crashed', { action: actionUuid, error: describeError(err) });
    });
    this.running.set(actionUuid, run);
    void run.finally(() => this.running.delete(actionUuid));
    return run;
  }

  /**
   * Stops driving the migrations of this process at their next lease renewal (within a poll), leaving their
   * actions ONGOING: like a crash, the lease lapses and the next manager to sweep takes them over (shutdown).
   */
  async abandon(): Promise<void> {
    this.abandoned = true;
    await this.idle();
  }

  /** Resolves when every migration this process runs has ended (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Takes over the ONGOING migrate actions whose lease expired (their manager died) and drives each to its end.
   * Returns the action ids taken over.
   */
  async recoverStale(now = new Date()): Promise<string[]> {
    if (this.abandoned) return [];
    const stale = await new VmMigrationRepository(this.tx.manager).findStale(now);
    const taken: string[] = [];
    for (const a of stale) {
      if (this.running.has(a.uuid)) continue;
      const won = await this.tx.run((em) => new VmMigrationRepository(em).takeOver(a.uuid, this.s.instanceId, now, this.leaseUntil()));
      if (!won) continue;
      taken.push(a.uuid);
      this.s.logger.warn('taking over a migration whose manager stopped', { action: a.uuid, vm: a.vmUuid });
      void this.start(a.uuid, true);
    }
    return taken;
  }

  private leaseUntil(): Date {
    return new Date(Date.now() + this.s.leaseSeconds * 1000);
  }

  /** Renews our lease; throws when the action is no longer ours (another manager took it, or it ended). */
  private async keepLease(actionUuid: string): Promise<void> {
    if (this.abandoned) throw new LeaseLost(actionUuid);
    const ok = await new VmMigrationRepository(this.tx.manager).renewLease(actionUuid, this.s.instanceId, this.leaseUntil());
    if (!ok) throw new LeaseLost(actionUuid);
  }

  private async setStep(actionUuid: string, step: MigrationStep): Promise<void> {
    await this.keepLease(actionUuid);
    await new VmMigrationRepository(this.tx.manager).setStep(actionUuid, step);
  }

  private async run(actionUuid: string, recovering: boolean): Promise<void> {
    const repo = new VmMigrationRepository(this.tx.manager);
    const m = await repo.findByAction(actionUuid);
    if (!m) throw new Error(`no migration record for action ${actionUuid}`);
    const servers = new ServerRepository(this.tx.manager);
    const source = await servers.getById(m.sourceServerId);
    const target = await servers.findByUuid((await servers.getById(m.targetServerId)).uuid, true);
    const sourceFull = await servers.findByUuid(source.uuid, true);
    if (!target || !sourceFull) throw new Error('a server of the migration vanished');
    const log = this.s.logger.child({ action: actionUuid, vm: m.vmUuid, source: source.name, target: target.name });
    try {
      if (!before(m.step, 'commit')) return await this.finishForward(actionUuid, m.vmUuid, m.ticketId, sourceFull, log);
      if (recovering) throw new StepError(m.step, new Error('the manager running the migration stopped before the commit'));
      await this.forward(actionUuid, m.vmUuid, m.flatten, sourceFull, target, log);
    } catch (err) {
      if (err instanceof LeaseLost) {
        log.warn('migration lease lost; another manager goes on', {});
        return;
      }
      await this.rollback(actionUuid, err, sourceFull, target, log);
    }
  }

  /** The steps up to the commit, then {@link finishForward}. */
  private async forward(actionUuid: string, vmUuid: string, flatten: boolean, source: Server, target: Server, log: Logger): Promise<void> {
    const repo = new VmMigrationRepository(this.tx.manager);
    const ticketId = randomBytes(32).toString('hex');
    await this.keepLease(actionUuid);
    await repo.update(actionUuid, { ticketId });
    const exported = await this.agents.exportVm(source, ticketId, vmUuid, flatten).catch((e: unknown) => {
      throw new StepError('export', e);
    });
    const ticket: TransferTicket = {
      id: ticketId, vmUuid, source: source.name, target: target.name, files: exported.files, template: exported.template,
      expiresAt: new Date(Date.now() + this.s.ticketSeconds * 1000).toISOString(),
    };
    await repo.update(actionUuid, { totalBytes: ticketBytes(ticket) });
    await this.setStep(actionUuid, 'accept');
    await this.agents.accept(target, ticket).catch((e: unknown) => {
      throw new StepError('accept', e);
    });
    await this.setStep(actionUuid, 'copy');
    await repo.update(actionUuid, { copyStartedAt: new Date() });
    await this.copy(actionUuid, source, target, ticket, log);
    await repo.update(actionUuid, { copyEndedAt: new Date() });
    await this.setStep(actionUuid, 'import');
    const bridges = bridgeMap(source, target);
    // One definition at a time: the source undefines (keeping files and XML) just before the target defines.
    await this.agents.detach(source, ticketId, vmUuid).catch((e: unknown) => {
      throw new StepError('import', e);
    });
    await this.agents.importVm(target, ticketId, exported.domainXml, exported.sourceDir, bridges).catch((e: unknown) => {
      throw new StepError('import', e);
    });
    // The commit point: one transaction, only while the action is still ours and open.
    await this.tx.run(async (em) => {
      const r = new VmMigrationRepository(em);
      if (this.abandoned || !(await r.renewLease(actionUuid, this.s.instanceId, this.leaseUntil()))) throw new LeaseLost(actionUuid);
      await r.moveVm(vmUuid, target.id, bridges);
      await r.setStep(actionUuid, 'release');
    });
    log.info('migration committed: the VM is on the target', { bytes: ticketBytes(ticket) });
    await this.finishForward(actionUuid, vmUuid, ticketId, source, log);
  }

  /** Pushes the files (source → target) and waits, renewing the lease and recording the bytes copied. */
  private async copy(actionUuid: string, source: Server, target: Server, ticket: TransferTicket, log: Logger): Promise<void> {
    const repo = new VmMigrationRepository(this.tx.manager);
    let p: SendProgress = await this.agents.send(source, ticket, target.agentUrl).catch((e: unknown) => {
      throw new StepError('copy', e);
    });
    let lastBytes = -1;
    let lastMove = Date.now();
    let pollErrors = 0;
    while (p.state === 'sending') {
      await sleep(this.s.pollSeconds * 1000);
      await this.keepLease(actionUuid);
      try {
        p = await this.agents.status(source, ticket.id);
        pollErrors = 0;
      } catch (e) {
        if (++pollErrors >= 5) throw new StepError('copy', new Error(`the source agent does not answer: ${describeError(e)}`));
        continue;
      }
      if (p.bytes !== lastBytes) {
        lastBytes = p.bytes;
        lastMove = Date.now();
        await repo.update(actionUuid, { copiedBytes: p.bytes });
      } else if (Date.now() - lastMove > this.s.stallSeconds * 1000) {
        throw new StepError('copy', new Error(`no progress for ${this.s.stallSeconds} s`));
      }
    }
    if (p.state !== 'done') throw new StepError('copy', new Error(p.error || `the source reports ${p.state}`));
    await repo.update(actionUuid, { copiedBytes: p.bytes });
    log.info('migration copy done', { bytes: p.bytes });
  }

  /** After the commit: the source removes its copy (retried), then SUCCESS. */
  private async finishForward(actionUuid: string, vmUuid: string, ticketId: string, source: Server, log: Logger): Promise<void> {
    let note = '';
    try {
      await this.retry(() => this.agents.release(source, ticketId, vmUuid));
    } catch (e) {
      note = `; the source copy on ${source.name} could not be removed (${describeError(e)}): remove domain and folder of ${vmUuid} there by hand`;
      log.error('migration: source copy left behind', { error: describeError(e) });
    }
    const m = await new VmMigrationRepository(this.tx.manager).findByAction(actionUuid);
    const target = m ? await new ServerRepository(this.tx.manager).getById(m.targetServerId) : undefined;
    const secs = m?.copyStartedAt && m.copyEndedAt ? ((m.copyEndedAt.getTime() - m.copyStartedAt.getTime()) / 1000).toFixed(1) : '?';
    const why = `migrated to ${target?.name ?? '?'}: ${m?.copiedBytes ?? 0} bytes copied in ${secs} s${note}`;
    await this.finish(actionUuid, 'SUCCESS', why, 'done');
  }

  /** Before the commit: undo what the ticket made on both hosts, then FAILED with the reason. */
  private async rollback(actionUuid: string, err: unknown, source: Server, target: Server, log: Logger): Promise<void> {
    const reason = err instanceof StepError ? `${err.step} failed: ${describeError(err.cause)}` : describeError(err);
    log.warn('migration failed; rolling back', { reason });
    const m = await new VmMigrationRepository(this.tx.manager).findByAction(actionUuid);
    const notes: string[] = [];
    if (m?.ticketId) {
      let targetClean = true;
      try {
        await this.retry(() => this.agents.abort(target, m.ticketId));
      } catch (e) {
        targetClean = false;
        notes.push(`cleanup on ${target.name} failed (${describeError(e)}); its unfinished transfer files go when its agent starts`);
      }
      if (m.step === 'import') {
        // The source may have detached its domain: define it again (a no-op when it did not).
        try {
          await this.retry(() => this.agents.reattach(source, m.ticketId, m.vmUuid));
        } catch (e) {
          notes.push(`re-defining the VM on ${source.name} failed (${describeError(e)}): its files are whole in its folder there, with detached-domain.xml${targetClean ? '' : `; ${target.name} may still have it defined`}`);
        }
      }
      try {
        await this.retry(() => this.agents.abort(source, m.ticketId));
      } catch (e) {
        notes.push(`cleanup on ${source.name} failed (${describeError(e)})`);
      }
    }
    const why = `${reason}; the VM stays on ${source.name}${notes.length ? `; ${notes.join('; ')}` : ''}`;
    await this.finish(actionUuid, 'FAILED', why, 'rollback');
  }

  /** Ends the action once (conditional UPDATE), with its event and the migration step. */
  private async finish(actionUuid: string, status: 'SUCCESS' | 'FAILED', why: string, step: MigrationStep): Promise<void> {
    const text = why.slice(0, 2048);
    const createdAt = await this.tx.run(async (em) => {
      const actions = new ActionRepository(em);
      if (!(await actions.finishOnce(actionUuid, status, text))) return undefined;
      await new ActionEventRepository(em).record(actionUuid, 'ONGOING', status, `manager:${this.s.instanceId}`, text);
      await new VmMigrationRepository(em).setStep(actionUuid, step);
      return (await actions.getByUuid(actionUuid)).createdAt;
    });
    if (createdAt) this.s.metrics.actionFinished('migrate', status, secondsSince(createdAt));
    this.s.logger.info(`migration ${status}`, { action: actionUuid, why: text });
  }

  private async retry(f: () => Promise<void>): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        return await f();
      } catch (e) {
        if (i >= this.s.cleanupTries) throw e;
        await sleep(1000);
      }
    }
  }
}

/** The lease of a migrate action went to another manager (or the action ended): stop without touching it. */
class LeaseLost extends Error {
  constructor(actionUuid: string) {
    super(`the lease of action ${actionUuid} is no longer ours`);
  }
}

/**
 * Which bridge of the target each bridge of the source becomes: management bridge to management bridge, others to
 * the bridge of the same name. A source bridge with no counterpart is left out (the target's import refuses a VM
 * attached to it, naming it).
 */
export function bridgeMap(source: Pick<Server, 'bridges'>, target: Pick<Server, 'bridges'>): Record<string, string> {
  const out: Record<string, string> = {};
  const tMgmt = target.bridges.find((b) => b.isMgmt);
  for (const b of source.bridges) {
    if (b.isMgmt && tMgmt) out[b.name] = tMgmt.name;
    else if (target.bridges.some((t) => t.name === b.name)) out[b.name] = b.name;
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
