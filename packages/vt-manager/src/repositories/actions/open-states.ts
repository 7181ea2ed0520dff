/**
 * The non-terminal action statuses: an action in one of them is "open", and its VM is busy with it.
 */
import { In, type FindOperator } from 'typeorm';
import type { ActionState } from '../../db/entities/action.js';

/** QUEUED and ONGOING. */
export const OPEN_STATES: readonly ActionState[] = ['QUEUED', 'ONGOING'];

/** The where-condition `status IN ('QUEUED','ONGOING')`. */
export function openStatus(): FindOperator<ActionState> {
  return In([...OPEN_STATES]);
}
