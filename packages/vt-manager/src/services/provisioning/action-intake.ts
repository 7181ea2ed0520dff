/**
 * Northbound `send` and `send_sync` (docs/ocf-protocol.md §2.2.1, §2.2.2). `send` ({@link ActionIntake.accept}):
 * every `<action>` of a message is accepted durably (an `action_intake` row, committed before `send` answers, so an
 * accepted action is never lost to a manager crash); admission (stored, or refused with its FAILED status stored for
 * the client) and the hand-over to the agent follow in the background, in arrival and message order
 * (intake-admission.ts, decision 039; docs/ocf-behaviour.md §9 items 8, 9, 21). `send_sync`, the admin API, GENI and
 * expiry deletes keep the direct path ({@link ActionIntake.submit}, {@link ActionIntake.submitActions},
 * {@link ActionIntake.process}): every action stored or refused before the call returns.
 */
import { describeError, InputError, parsePeerUrl, parseRspec, type Action, type Logger } from '@kvm-crm/shared';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { validateActions, type ValidatedAction } from '../../domain/action-validation.js';
import { clientReason } from '../../domain/client-reason.js';
import { ActionRepository } from '../../repositories/action-repository.js';
import { BacklogGuard } from './backlog-guard.js';
import { IntakeFirstLane } from './intake-first-lane.js';
import { IntakeAdmission } from './intake-admission.js';
import type { ClientStatusNotifier } from '../client-status-notifier.js';
import type { ActionDispatcher } from './action-dispatcher.js';
import type { ActionStore, Prepared, SaveOptions } from './action-store.js';
import type { ProvisioningSettings } from './provisioning-settings.js';

/** What {@link ActionIntake.submit} accepted. */
export interface Submitted {
  /** The actions' ids, in message order. */
  accepted: string[];
  /** The actions' types, in message order. */
  types: string[];
  /**
   * Resolves once every action reached the agent or failed; maps the actions refused before they were stored
   * (duplicate id, invalid input…) to their reason.
   */
  handedOver: Promise<Map<string, string>>;
}

/** Who submits, and how (see {@link ActionIntake.submit}). */
export interface SubmitOptions extends SaveOptions {
  /** `""` (or `"None"` on the wire) means "no callback": send_sync and admin submissions, which poll the action. */
  allowNoCallback?: boolean;
  /** The authenticated principal (project ownership, quotas, backlog); undefined: the manager itself. */
  principal?: string;
}

/** Accepts clients' actions: stores them, then hands them to the dispatcher behind the intake (intake-first-lane.ts). */
export class ActionIntake {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly store: ActionStore,
    private readonly dispatcher: ActionDispatcher,
    private readonly statuses: ClientStatusNotifier,
    private readonly log: Logger,
    private readonly limits: Pick<ProvisioningSettings, 'maxActionsPerMessage' | 'maxPendingStatusesPerPrincipal' | 'instanceId' | 'leaseSeconds'>,
    /** Where the hand-overs run, behind the intake. Default: a lane with its defaults. */
    private readonly lane: IntakeFirstLane = new IntakeFirstLane(),
  ) {
    this.backlog = new BacklogGuard(tx, limits.maxPendingStatusesPerPrincipal);
    this.durable = new IntakeAdmission(tx, store, dispatcher, statuses, log, limits, lane);
  }

  /** `send`'s durable intake and background admission (decision 039). */
  readonly durable: IntakeAdmission;

  /**
   * Northbound `send(callBackUrl, xml)` (plugin API): parses the query, validates every action's id and type, checks
   * the cap and the principal's backlog, and stores the actions as intake rows (one multi-row INSERT shared with
   * concurrent sends); resolves once they are committed. Admission (stored, or refused with a FAILED status for the
   * client, e.g. a duplicate id "action id … is already used", a full host or pool, a quota, an expired slice) and
   * the hand-over follow in the background ({@link IntakeAdmission}); `handedOver` resolves after both.
   * @throws InputError when the callback URL (http(s) required) or the document is invalid, there is no
   *   provisioning query, an action lacks a valid id or type, or the message holds more than
   *   `maxActionsPerMessage` actions; ConflictError when the principal's callback backlog is full, or "manager busy"
   *   past `maxQueuedHandOvers` not yet admitted or handed over: nothing is stored then; the database's error when
   *   the intake write fails (nothing of the message stored).
   */
  async accept(callbackUrl: string, xml: string, options: { principal?: string } = {}): Promise<Submitted> {
    const done = this.lane.intakeStarted();
    try {
      parsePeerUrl(callbackUrl);
      const actions = validateActions(parseRspec(xml).query?.provisioning?.actions, this.limits.maxActionsPerMessage);
      this.lane.assertRoom(actions.length);
      const { principal } = options;
      if (principal !== undefined) await this.backlog.assertRoom(principal);
      const { stored, handedOver } = this.durable.accept(actions.map((action) => ({ action, callbackUrl, principal })));
      await stored;
      if (principal !== undefined) this.backlog.added(principal, actions.length);
      return { accepted: actions.map((a) => a.id), types: actions.map((a) => a.type), handedOver };
    } finally {
      done();
    }
  }

  /** The per-principal callback backlog check, its count cached between sends (see {@link BacklogGuard}). */
  private readonly backlog: BacklogGuard;

  /**
   * The direct path of `send_sync` (and tests): parses the query and validates every action's id and type, stores
   * every action (or refuses it, its FAILED status stored for the client) before it returns, then hands them to the
   * agents in order in the background. `callbackUrl` must be an http(s) URL; with `allowNoCallback`, `""`
   * or `"None"` mean "no callback" (send_sync).
   * The FAILED statuses of the refused actions of one message travel as one outbox row (see
   * {@link ClientStatusNotifier.notifyRefusals}).
   * @throws InputError when the callback URL or the document is invalid, there is no provisioning query, an
   *   action lacks a valid id or type, or the message holds more than `maxActionsPerMessage` actions; ConflictError
   *   when the principal's callback backlog is full (`maxPendingStatusesPerPrincipal`), or "manager busy" when the
   *   hand-over lane already holds its most actions ({@link IntakeFirstLane.assertRoom}): nothing is processed then.
   */
  async submit(callbackUrl: string, xml: string, options: SubmitOptions = {}): Promise<Submitted> {
    const done = this.lane.intakeStarted();
    try {
      if (options.allowNoCallback && (callbackUrl === '' || callbackUrl === 'None')) callbackUrl = '';
      else parsePeerUrl(callbackUrl);
      return await this.submitActions(callbackUrl, parseRspec(xml).query?.provisioning?.actions, options);
    } finally {
      done();
    }
  }

  /**
   * {@link submit} for actions already in rspec form (built by the manager's own front doors, e.g. the admin API for
   * `vtctl vm …`): the same validation, storage and hand-over. `callbackUrl` `""` means no callback (the caller
   * polls the action), and must then be allowed by `options.allowNoCallback`.
   * @throws as {@link submit}.
   */
  async submitActions(callbackUrl: string, rspecActions: readonly Action[] | undefined, options: SubmitOptions = {}): Promise<Submitted> {
    const done = this.lane.intakeStarted();
    try {
      return await this.takeActions(callbackUrl, rspecActions, options);
    } finally {
      done();
    }
  }

  /** {@link submitActions}' work, while the intake is marked in flight for the background lane. */
  private async takeActions(callbackUrl: string, rspecActions: readonly Action[] | undefined, options: SubmitOptions): Promise<Submitted> {
    if (callbackUrl === '' && !options.allowNoCallback) throw new InputError('a callback URL is required');
    const actions = validateActions(rspecActions, this.limits.maxActionsPerMessage);
    this.lane.assertRoom(actions.length);
    if (options.principal !== undefined) await this.backlog.assertRoom(options.principal);
    // After the `send`s accepted before this call (decision 039): a start right after a `send` create finds its VM.
    await this.durable.admissionsQueuedSoFar();
    const refused = new Map<string, string>();
    const refusals: Array<{ actionId: string; type: string; status: 'FAILED'; description: string }> = [];
    const stored: Array<{ action: ValidatedAction; prepared: Prepared }> = [];
    for (const a of actions) {
      const r = await this.storeOrRefuse(a, callbackUrl, options.principal, options);
      if (typeof r === 'string') {
        refused.set(a.id, r);
        refusals.push({ actionId: a.id, type: a.type, status: 'FAILED', description: r });
      } else stored.push({ action: a, prepared: r });
    }
    await this.statuses.notifyRefusals(callbackUrl, options.principal, refusals);
    // Each refusal is one status document now; each stored action will send at least one.
    if (options.principal !== undefined) this.backlog.added(options.principal, actions.length);
    // Handed over in message order, behind the intake (intake-first-lane.ts).
    const handedOver = this.lane.enqueue(stored.length, async () => {
      for (const { action, prepared } of stored) await this.dispatcher.send(action, prepared);
      return refused;
    }).catch((err: unknown) => {
      this.log.error('action processing crashed', { error: describeError(err) });
      return new Map<string, string>();
    });
    return { accepted: actions.map((a) => a.id), types: actions.map((a) => a.type), handedOver };
  }

  /**
   * `send_sync` (docs/ocf-protocol.md §2.2.2, made to work): submits like {@link submit}, then waits until every action of
   * the document is terminal. Resolves `true` when all succeeded, otherwise the failure text
   * (`"<type> <id> FAILED: <reason>"`, several joined by `; `), or `"TIMEOUT"` after `timeoutSeconds`.
   * Polls the database, so it also sees actions finished by another manager process.
   * @throws as {@link submit}.
   */
  async submitAndWait(callbackUrl: string, xml: string, timeoutSeconds: number, principal?: string): Promise<true | string> {
    const { accepted, types, handedOver } = await this.submit(callbackUrl, xml, { allowNoCallback: true, principal });
    const refused = await handedOver;
    const stored = accepted.filter((id) => !refused.has(id));
    const deadline = Date.now() + timeoutSeconds * 1000;
    const actions = new ActionRepository(this.tx.manager);
    for (;;) {
      const rows = stored.length ? await actions.findByUuids(stored) : [];
      if (rows.every((r) => r.status === 'SUCCESS' || r.status === 'FAILED')) {
        const failures = accepted
          .map((id, i) => {
            if (refused.has(id)) return `${types[i]} ${id} FAILED: ${refused.get(id)}`;
            const r = rows.find((x) => x.uuid === id);
            return r && r.status === 'FAILED' ? `${r.type} ${id} FAILED: ${r.description}` : undefined;
          })
          .filter((x): x is string => x !== undefined);
        return failures.length ? failures.join('; ') : true;
      }
      if (Date.now() >= deadline) return 'TIMEOUT';
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Runs one action (built by the manager itself, e.g. an expiry delete) up to the hand-over to the agent; every
   * failure ends in a FAILED status to the client. Returns the reason when the action was refused before it was
   * stored, else undefined.
   */
  async process(action: ValidatedAction, callbackUrl: string, principal?: string): Promise<string | undefined> {
    const r = await this.storeOrRefuse(action, callbackUrl, principal);
    if (typeof r === 'string') {
      await this.statuses.notifyDurably({ callbackUrl, actionId: action.id, type: action.type, status: 'FAILED', description: r, principal });
      return r;
    }
    await this.dispatcher.send(action, r);
    return undefined;
  }

  /**
   * Stores one action. Returns what the hand-over needs, or the client's reason it was refused (nothing stored; the
   * caller sends the FAILED status). Unexpected errors are logged in full and told to the client as an internal error.
   */
  private async storeOrRefuse(action: ValidatedAction, callbackUrl: string, principal?: string, options: SaveOptions = {}): Promise<Prepared | string> {
    try {
      const prepared = await this.store.save(action, callbackUrl, principal, options);
      this.log.info('action queued', { actionId: action.id, actionType: action.type, vmUuid: prepared.vm.uuid, server: prepared.server.name });
      return prepared;
    } catch (err) {
      const reason = clientReason(err);
      this.log.warn('action refused', { actionId: action.id, actionType: action.type, reason, error: describeError(err) });
      return reason;
    }
  }
}
