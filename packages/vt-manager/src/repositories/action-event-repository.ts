/**
 * The `action_event` table: each action's history (status changes, re-sends, operators' verbs: the audit record).
 */
import type { EntityManager } from 'typeorm';
import { ActionEvent } from '../db/entities/action-event.js';
import type { ActionState } from '../db/entities/action.js';

/** Most characters kept of an event's `why` (and of an action's description). */
export const DESCRIPTION_MAX = 2048;

/** Action events in the transaction (or plain manager) `em`. */
export class ActionEventRepository {
  constructor(private readonly em: EntityManager) {}

  /** Appends a step to an action's history; `who` is cut to 128 characters, `why` to {@link DESCRIPTION_MAX}. */
  async record(actionUuid: string, fromStatus: ActionState | null, toStatus: ActionState, who: string, why: string): Promise<void> {
    // updateEntity(false): typeorm would read the new row back on SQLite (id, time) for nobody.
    await this.em
      .createQueryBuilder()
      .insert()
      .into(ActionEvent)
      .values({ actionUuid, fromStatus, toStatus, who: who.slice(0, 128), why: why.slice(0, DESCRIPTION_MAX) })
      .updateEntity(false)
      .execute();
  }

  /** The history of an action, oldest first. */
  history(actionUuid: string): Promise<ActionEvent[]> {
    return this.em.find(ActionEvent, { where: { actionUuid }, order: { id: 'ASC' } });
  }
}
