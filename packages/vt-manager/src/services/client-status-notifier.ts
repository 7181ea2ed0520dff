/**
 * Action statuses for the client's callback (docs/ocf-protocol.md §3.3, §6.6): through the transactional outbox when the
 * notifier has one (stored with the status change), else sent after the commit.
 */
import { describeError, provisioningStatusResponse, serialiseRspec, type Logger } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import type { ActionState } from '../db/entities/action.js';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { ClientNotifier } from './ports.js';

/** One status for one client. `callbackUrl` `""`: no callback (send_sync), nothing is sent. */
export interface StatusMessage {
  callbackUrl: string;
  actionId: string;
  type: string;
  status: ActionState;
  description: string;
  /** The principal whose action it is (counts against its callback backlog); undefined: not attributed. */
  principal?: string;
}

/** The status document sent to the client (manager dialect, ASCII only). */
export function statusXml(m: Pick<StatusMessage, 'actionId' | 'type' | 'status' | 'description'>): string {
  // The OCF wire is ASCII-only (docs/ocf-protocol.md §6.1 rule 9): a reason must never stop a status from going out.
  const ascii = m.description.replace(/[^\x20-\x7e\n\t]/g, '?');
  const doc = provisioningStatusResponse({ actionId: m.actionId, type: m.type, status: m.status as 'ONGOING' | 'SUCCESS' | 'FAILED', description: ascii });
  // The manager's forwarded copies drop an empty description (docs/ocf-protocol.md §6.1 rule 6, §8.5).
  const action = doc.response?.provisioning?.actions[0];
  if (!ascii && action) delete action.description;
  return serialiseRspec(doc, { dialect: 'manager' });
}

/** Sends action statuses to clients, durably when the notifier has an outbox. */
export class ClientStatusNotifier {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly notifier: ClientNotifier,
    private readonly log: Logger,
  ) {}

  /**
   * With an outbox notifier, stores the status in the status change's transaction `em` (returns true); otherwise
   * returns false and {@link afterCommit} sends it.
   */
  async enqueue(em: EntityManager, m: StatusMessage): Promise<boolean> {
    if (!m.callbackUrl || !this.notifier.enqueue) return false;
    await this.notifier.enqueue(em, m.callbackUrl, statusXml(m), { principal: m.principal });
    return true;
  }

  /**
   * The FAILED statuses of the actions of one message refused before they were stored, to one callback: one outbox
   * row (its documents delivered in order, one retry schedule) instead of one row each; without an outbox, sent one
   * by one. The wire carries one action per status document (the plugin reads only the first, docs/ocf-protocol.md
   * §3.3), so the coalescing is of rows and delivery attempts, not of documents.
   */
  async notifyRefusals(callbackUrl: string, principal: string | undefined, messages: readonly Omit<StatusMessage, 'callbackUrl'>[]): Promise<void> {
    if (!callbackUrl || messages.length === 0) return;
    const all = messages.map((m) => ({ ...m, callbackUrl, principal }));
    const enqueue = this.notifier.enqueue?.bind(this.notifier);
    if (!enqueue) return void all.forEach((m) => this.send(m));
    try {
      await this.tx.run((em) => enqueue(em, callbackUrl, all.map((m) => statusXml(m)), { principal }));
      this.notifier.wake?.();
    } catch (err) {
      this.log.error('storing refusals for the client failed; sending them directly', { actions: all.length, error: describeError(err) });
      all.forEach((m) => this.send(m));
    }
  }

  /**
   * {@link notifyRefusals} inside the caller's transaction `em` (the durable intake stores the refusals with the
   * removal of their intake rows, decision 039). Returns whether they went to the outbox; after the commit call
   * {@link afterRefusals} with the result.
   */
  async storeRefusals(em: EntityManager, callbackUrl: string, principal: string | undefined, messages: readonly Omit<StatusMessage, 'callbackUrl'>[]): Promise<boolean> {
    if (!callbackUrl || messages.length === 0 || !this.notifier.enqueue) return false;
    await this.notifier.enqueue(em, callbackUrl, messages.map((m) => statusXml({ ...m })), { principal });
    return true;
  }

  /** After {@link storeRefusals}' transaction committed: wakes the outbox (`outboxed`), or sends the statuses now. */
  afterRefusals(outboxed: boolean, callbackUrl: string, principal: string | undefined, messages: readonly Omit<StatusMessage, 'callbackUrl'>[]): void {
    if (!callbackUrl || messages.length === 0) return;
    if (outboxed) this.notifier.wake?.();
    else messages.forEach((m) => this.send({ ...m, callbackUrl, principal }));
  }

  /** After the status change committed: wakes the outbox (`outboxed`), or sends the status now. */
  afterCommit(outboxed: boolean, m: StatusMessage): void {
    if (outboxed) this.notifier.wake?.();
    else this.send(m);
  }

  /** A status with no state change to commit with it: through the outbox (own transaction) when there is one. */
  async notifyDurably(m: StatusMessage): Promise<void> {
    if (!m.callbackUrl) return;
    try {
      const outboxed = await this.tx.run((em) => this.enqueue(em, m));
      this.afterCommit(outboxed, m);
    } catch (err) {
      this.log.error('storing a status for the client failed; sending it directly', { actionId: m.actionId, error: describeError(err) });
      this.send(m);
    }
  }

  private send(m: StatusMessage): void {
    if (!m.callbackUrl) return; // send_sync without a callback
    this.notifier.sendAsync(m.callbackUrl, statusXml(m));
  }
}
