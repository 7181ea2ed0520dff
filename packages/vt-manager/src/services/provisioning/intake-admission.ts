/**
 * The durable intake of `send` (decision 039, amending 034): `send` stores its actions as `action_intake` rows (one
 * multi-row INSERT, group-committed across concurrent sends by {@link IntakeBatcher}) and answers; admission (today's
 * {@link ActionStore.save}: duplicate ids, placement, capacity, quota, addresses, the action row) and the hand-over to
 * the agent follow here, in the background lane ({@link IntakeFirstLane}), in arrival order.
 *
 * Exactly one terminal status per action, also across crashes: an action is stored in the same transaction that
 * deletes its intake row, and a refusal's FAILED status is stored (outbox) in the same transaction that deletes it;
 * the delete must remove exactly one row, else another admission (another instance, or this one after a take-over)
 * got the row first and nothing is stored. A row whose admission never happened (crash) keeps its lease until it
 * expires; then the recovery sweep of any instance claims it ({@link IntakeAdmission.pickUp}; at start also the rows
 * leased to this instance id) and admits it.
 *
 * Order: admissions run one at a time in the order their sends were accepted (a start sent after its create's `send`
 * answered is admitted after it), each message's admissions then its hand-overs, in message order. Across a crash or
 * a restart (rows of another process, or picked up behind newer ones) the order per VM still holds: a row whose VM
 * has an older row waiting is given back to the pick-up (lease ended), which takes rows in id order. The direct path
 * (`send_sync`, admin, GENI, expiry) waits for the admissions queued before it ({@link admissionsQueuedSoFar}).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { describeError, type Logger } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { clientReason } from '../../domain/client-reason.js';
import { claimIntakeRows } from '../../repositories/intake/claim-intake-rows.js';
import { deleteIntakeRow } from '../../repositories/intake/delete-intake-row.js';
import { findOlderIntakeRow } from '../../repositories/intake/find-older-intake-row.js';
import { insertIntakeRows } from '../../repositories/intake/insert-intake-rows.js';
import { vmUuidOf, type IntakeRow, type IntakeRowInput } from '../../repositories/intake/intake-row.js';
import { releaseIntakeRows } from '../../repositories/intake/release-intake-rows.js';
import type { ClientStatusNotifier } from '../client-status-notifier.js';
import type { ActionDispatcher } from './action-dispatcher.js';
import type { ActionStore, Prepared } from './action-store.js';
import { IntakeBatcher, type BatcherOptions } from './intake-batcher.js';
import type { IntakeFirstLane } from './intake-first-lane.js';
import type { ProvisioningSettings } from './provisioning-settings.js';

/** Thrown inside an admission's transaction when its intake row is gone (another admission took it): stores nothing. */
class IntakeRowTaken extends Error {}

/** What {@link IntakeAdmission.accept} returns. */
export interface Accepted {
  /** Resolves once the rows are committed (then `send` may answer); rejects with the write's error, nothing stored. */
  stored: Promise<void>;
  /** Resolves after admission and hand-over, with the refused actions' reasons (never rejects). */
  handedOver: Promise<Map<string, string>>;
}

/** A refusal to store for the client, with its intake row. */
interface Refusal {
  row: IntakeRow;
  reason: string;
}

/** Accepts `send`'s actions durably and admits them in the background (see the file comment). */
export class IntakeAdmission {
  private readonly batcher: IntakeBatcher<IntakeRowInput>;
  /** Intake row ids this process holds (queued or being admitted): the pick-up leaves them alone. */
  private readonly held = new Set<number>();
  /** Settles when the last admission queued so far is done (admissions run one at a time, in order). */
  private lastAdmission: Promise<void> = Promise.resolve();

  constructor(
    private readonly tx: TransactionRunner,
    private readonly store: ActionStore,
    private readonly dispatcher: ActionDispatcher,
    private readonly statuses: ClientStatusNotifier,
    private readonly log: Logger,
    private readonly settings: Pick<ProvisioningSettings, 'instanceId' | 'leaseSeconds'>,
    private readonly lane: IntakeFirstLane,
    options: BatcherOptions = {},
  ) {
    // One transaction (SQLite: through the runner, sharing a commit with the units queued beside it; MySQL: the
    // INSERT and the read-back of its ids together, so a failed read-back stores nothing). The ids are held in memory
    // before the commit makes the rows visible, so a pick-up never takes rows that wait in this process's lane.
    const write = async (rows: readonly IntakeRowInput[]): Promise<number[]> => {
      let added: number[] = [];
      const forget = () => added.forEach((id) => this.held.delete(id));
      try {
        return await this.tx.run(async (em) => {
          forget(); // a MySQL deadlock retry: the earlier attempt was rolled back
          added = await insertIntakeRows(em, rows, this.settings.instanceId, this.settings.leaseSeconds);
          added.forEach((id) => this.held.add(id));
          return added;
        });
      } catch (err) {
        forget();
        throw err;
      }
    };
    this.batcher = new IntakeBatcher(write, options);
  }

  /**
   * Stores `rows` (one message's actions, already validated, room checked) in the next group commit and queues
   * their admission and hand-over in the lane (counted against its cap from now on).
   */
  accept(rows: readonly IntakeRowInput[]): Accepted {
    const inserted = this.batcher.add(rows);
    const handedOver = this.queue(rows.length, async () => {
      const ids = await inserted.catch(() => undefined);
      return ids ? rows.map((r, i) => ({ ...r, id: ids[i]! })) : [];
    });
    return { stored: inserted.then(() => undefined), handedOver };
  }

  /**
   * Crash pick-up (at start with `atStart`, and in every recovery sweep): claims the intake rows whose lease expired
   * (a manager died or stopped, or a row waits for an older row of its VM) and, at start, those leased to this
   * instance id; then queues the ones this process does not hold yet, in id order, and holds them until admitted.
   * Returns how many rows it queued.
   */
  async pickUp(atStart: boolean, now = new Date()): Promise<number> {
    // claimIntakeRows already leaves out the rows this process holds.
    const fresh = await this.tx.run((em) => claimIntakeRows(em, this.settings.instanceId, now, this.settings.leaseSeconds, atStart, this.held));
    if (fresh.length === 0) return 0;
    fresh.forEach((r) => this.held.add(r.id));
    this.log.info('admitting accepted actions left behind', { actions: fresh.length });
    void this.queue(fresh.length, () => Promise.resolve(fresh));
    return fresh.length;
  }

  /**
   * Resolves when every admission queued so far is done: the direct path (`send_sync`, admin, GENI, expiry) waits for
   * it, so an action on a VM whose create was accepted by `send` just before is not refused as "no VM".
   */
  admissionsQueuedSoFar(): Promise<void> {
    return this.lastAdmission;
  }

  /**
   * A stopping manager gives its waiting rows back (their lease ends now), so the next manager start (or another
   * instance's sweep) admits them at once and in order, instead of when their lease runs out.
   */
  async release(): Promise<void> {
    await this.tx.run((em) => releaseIntakeRows(em, this.settings.instanceId));
  }

  /** Queues one admission (after every one queued before it) and its hand-overs in the lane. */
  private queue(actions: number, rowsOf: () => Promise<IntakeRow[]>): Promise<Map<string, string>> {
    const before = this.lastAdmission;
    let release!: () => void;
    this.lastAdmission = new Promise<void>((r) => (release = r));
    return this.lane
      .enqueue(actions, async () => {
        let stored: Array<{ row: IntakeRow; prepared: Prepared }> = [];
        let refused = new Map<string, string>();
        try {
          await before;
          const rows = await rowsOf();
          rows.forEach((r) => this.held.add(r.id));
          try {
            ({ stored, refused } = await this.admit(rows));
          } finally {
            rows.forEach((r) => this.held.delete(r.id));
          }
        } finally {
          release();
        }
        for (const { row, prepared } of stored) {
          await yieldToLoop(); // a request waiting for the loop gets in before each hand-over (decision 040)
          await this.dispatcher.send(row.action, prepared);
        }
        return refused;
      })
      .catch((err: unknown) => {
        this.log.error('action processing crashed', { error: describeError(err) });
        return new Map<string, string>();
      });
  }

  /** Admits `rows` in order; stores the refusals (per callback) with the removal of their rows. */
  private async admit(rows: readonly IntakeRow[]): Promise<{ stored: Array<{ row: IntakeRow; prepared: Prepared }>; refused: Map<string, string> }> {
    const stored: Array<{ row: IntakeRow; prepared: Prepared }> = [];
    const refusals: Refusal[] = [];
    for (const [i, row] of rows.entries()) {
      // On SQLite an admission runs as one macrotask (the driver is synchronous): yield between two (decision 040).
      if (i > 0) await yieldToLoop();
      const r = await this.admitOne(row);
      if (r === undefined) continue;
      if (typeof r === 'string') refusals.push({ row, reason: r });
      else stored.push({ row, prepared: r });
    }
    const refused = new Map<string, string>();
    for (const group of groupByCallback(refusals)) {
      for (const [id, reason] of await this.storeRefusals(group)) refused.set(id, reason);
    }
    return { stored, refused };
  }

  /**
   * Stores one action with the removal of its intake row. Returns what the hand-over needs, the client's reason it
   * was refused (nothing stored), or undefined when the row was gone (another admission took it) or must wait for an
   * older row of its VM (given back to the pick-up: admitted by a later sweep, after that row).
   */
  private async admitOne(row: IntakeRow): Promise<Prepared | string | undefined> {
    const { action } = row;
    // Order per VM: an older accepted action of this VM still waits (another manager's rows whose lease still runs,
    // or rows picked up after this one was queued): give this row back to the pick-up, which takes rows in id order.
    const vmUuid = vmUuidOf(row);
    const older = vmUuid === undefined ? undefined : await findOlderIntakeRow(this.tx.manager, vmUuid, row.id);
    if (older !== undefined) {
      await this.tx.run((em) => releaseIntakeRows(em, this.settings.instanceId, [row.id]));
      this.log.info('accepted action waits for an older one of its VM', { actionId: action.id, intakeRow: row.id, olderRow: older });
      return undefined;
    }
    try {
      const claim = async (em: EntityManager) => {
        if (!(await deleteIntakeRow(em, row.id))) throw new IntakeRowTaken();
      };
      const prepared = await this.store.save(action, row.callbackUrl, row.principal, { claim });
      this.log.info('action queued', { actionId: action.id, actionType: action.type, vmUuid: prepared.vm.uuid, server: prepared.server.name });
      return prepared;
    } catch (err) {
      if (err instanceof IntakeRowTaken) {
        this.log.info('accepted action already admitted elsewhere; skipped', { actionId: action.id, intakeRow: row.id });
        return undefined;
      }
      const reason = clientReason(err);
      this.log.warn('action refused', { actionId: action.id, actionType: action.type, reason, error: describeError(err) });
      return reason;
    }
  }

  /**
   * One callback's refusals: deletes their intake rows and stores their FAILED statuses (one outbox row) in one
   * transaction; a row already gone is left out. Returns the refusals stored (action id → reason). A failure is
   * logged; the rows then stay for the pick-up.
   */
  private async storeRefusals(group: readonly Refusal[]): Promise<Map<string, string>> {
    const { callbackUrl, principal } = group[0]!.row;
    let kept: Refusal[] = [];
    try {
      const outboxed = await this.tx.run(async (em) => {
        kept = [];
        for (const r of group) if (await deleteIntakeRow(em, r.row.id)) kept.push(r);
        return this.statuses.storeRefusals(em, callbackUrl, principal, kept.map(toStatus));
      });
      this.statuses.afterRefusals(outboxed, callbackUrl, principal, kept.map(toStatus));
    } catch (err) {
      this.log.error('storing refusals failed; the accepted actions stay for the pick-up', { actions: group.length, error: describeError(err) });
      return new Map();
    }
    return new Map(kept.map((r) => [r.row.action.id, r.reason]));
  }
}

/** A refusal as the client's FAILED status. */
function toStatus(r: Refusal): { actionId: string; type: string; status: 'FAILED'; description: string } {
  return { actionId: r.row.action.id, type: r.row.action.type, status: 'FAILED', description: r.reason };
}

/** Refusals grouped by callback URL and principal, in order of first appearance. */
function groupByCallback(refusals: readonly Refusal[]): Refusal[][] {
  const groups = new Map<string, Refusal[]>();
  for (const r of refusals) {
    const key = JSON.stringify([r.row.callbackUrl, r.row.principal ?? null]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()];
}
